"""Which finished executions Mistral's expiration policy deletes, and deleting them.

A root execution (one that no task started) is expired when it ended
(SUCCESS, ERROR or CANCELLED, minus ``ignored_states``) and either it was last
updated more than ``older_than`` ago, or it is beyond the newest
``max_finished_executions`` finished root executions. Its sub-workflow executions,
tasks, actions and timers go with it. ``batch_size`` caps one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from sirocco.store import executions, tables

FINISHED = ("SUCCESS", "ERROR", "CANCELLED")
_ex = tables.workflow_executions


@dataclass(frozen=True, slots=True, kw_only=True)
class Policy:
    """Mistral's ``[execution_expiration_policy]``: None switches a rule off."""

    older_than: timedelta | None = None
    max_finished_executions: int | None = None
    batch_size: int = 0
    ignored_states: Sequence[str] = ()

    @property
    def enabled(self) -> bool:
        return self.older_than is not None or self.max_finished_executions is not None

    def states(self) -> list[str]:
        ignored = {state.upper() for state in self.ignored_states}
        return [state for state in FINISHED if state not in ignored]


def expired(connection: sa.Connection, policy: Policy, *, now: datetime) -> list[str]:
    """Ids of the root executions the policy deletes now, oldest first (one batch)."""
    finished = sa.and_(_ex.c.task_execution_id.is_(None), _ex.c.state.in_(policy.states()))
    when = sa.func.coalesce(_ex.c.updated_at, _ex.c.created_at)
    found: dict[str, None] = {}
    limit = policy.batch_size or None
    if policy.older_than is not None:
        query = (
            sa.select(_ex.c.id)
            .where(finished, when < now - policy.older_than)
            .order_by(when)
            .limit(limit)
        )
        found.update(dict.fromkeys(connection.execute(query).scalars()))
    if policy.max_finished_executions is not None:
        query = (
            sa.select(_ex.c.id)
            .where(finished)
            .order_by(when.desc(), _ex.c.id.desc())
            .offset(policy.max_finished_executions)
            .limit(limit)
        )
        found.update(dict.fromkeys(connection.execute(query).scalars()))
    ids = list(found)
    return ids[:limit] if limit else ids


def delete(connection: sa.Connection, execution_ids: Sequence[str]) -> int:
    """Delete the executions and everything below them; how many were deleted."""
    for execution_id in execution_ids:
        executions.delete_execution_tree(connection, execution_id)
    return len(execution_ids)
