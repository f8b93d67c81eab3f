"""Which finished executions Mistral's expiration policy deletes, and deleting them.

A root execution (one that no task started) is expired when it ended
(SUCCESS, ERROR or CANCELLED, minus ``ignored_states``) and either it was last
updated more than ``older_than`` ago, or it is beyond the newest
``max_finished_executions`` finished root executions. Its sub-workflow executions,
tasks, actions and timers go with it. ``batch_size`` caps one transaction.

``rules`` give some executions their own ``older_than``: the rule naming both the
workflow and the state wins, then one naming the workflow, then one naming the state,
then the policy's ``older_than`` (which may be None: such executions are kept, unless
``max_finished_executions`` says otherwise). A rule's workflow is a name in which
``*`` matches any characters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from sirocco.store import blobs, executions, tables

FINISHED = ("SUCCESS", "ERROR", "CANCELLED")
_workflow_executions = tables.workflow_executions


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    """Executions of ``workflow`` (None: any) ending in ``state`` (None: any finished
    state) expire ``older_than`` after their end."""

    workflow: str | None = None
    state: str | None = None
    older_than: timedelta

    def specificity(self) -> int:
        return (2 if self.workflow is not None else 0) + (1 if self.state is not None else 0)


@dataclass(frozen=True, slots=True, kw_only=True)
class Policy:
    """Mistral's ``[execution_expiration_policy]``: None switches a rule off."""

    older_than: timedelta | None = None
    max_finished_executions: int | None = None
    batch_size: int = 0
    ignored_states: Sequence[str] = ()
    rules: Sequence[Rule] = ()

    @property
    def enabled(self) -> bool:
        return (
            self.older_than is not None
            or self.max_finished_executions is not None
            or bool(self.rules)
        )

    def states(self) -> list[str]:
        ignored = {state.upper() for state in self.ignored_states}
        return [state for state in FINISHED if state not in ignored]


def expired(connection: sa.Connection, policy: Policy, *, now: datetime) -> list[str]:
    """Ids of the root executions the policy deletes now, oldest first (one batch)."""
    finished = sa.and_(
        _workflow_executions.c.task_execution_id.is_(None),
        _workflow_executions.c.state.in_(policy.states()),
    )
    when = sa.func.coalesce(_workflow_executions.c.updated_at, _workflow_executions.c.created_at)
    found: dict[str, None] = {}
    limit = policy.batch_size or None
    if policy.older_than is not None or policy.rules:
        query = (
            sa.select(_workflow_executions.c.id)
            .where(finished, when < _cutoff(policy, now))
            .order_by(when)
            .limit(limit)
        )
        found.update(dict.fromkeys(connection.execute(query).scalars()))
    if policy.max_finished_executions is not None:
        query = (
            sa.select(_workflow_executions.c.id)
            .where(finished)
            .order_by(when.desc(), _workflow_executions.c.id.desc())
            .offset(policy.max_finished_executions)
            .limit(limit)
        )
        found.update(dict.fromkeys(connection.execute(query).scalars()))
    ids = list(found)
    return ids[:limit] if limit else ids


def _cutoff(policy: Policy, now: datetime) -> sa.ColumnElement[Any]:
    """The time before which each execution expires: its most specific rule's, else the
    policy's (NULL, which expires nothing, when there is none)."""
    default = now - policy.older_than if policy.older_than is not None else None
    rules = sorted(policy.rules, key=lambda rule: -rule.specificity())
    if not rules:
        return sa.literal(default, sa.DateTime())
    whens = []
    for rule in rules:
        conditions: list[sa.ColumnElement[bool]] = []
        if rule.workflow is not None:
            conditions.append(
                _workflow_executions.c.workflow_name.like(_like(rule.workflow), escape="\\")
            )
        if rule.state is not None:
            conditions.append(_workflow_executions.c.state == rule.state.upper())
        whens.append((sa.and_(*conditions), sa.literal(now - rule.older_than, sa.DateTime())))
    return sa.case(*whens, else_=sa.literal(default, sa.DateTime()))


def _like(pattern: str) -> str:
    """A workflow pattern (``*``: any characters) as a LIKE pattern."""
    escaped = pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%")


def delete(connection: sa.Connection, execution_ids: Sequence[str]) -> int:
    """Delete the executions and everything below them; how many were deleted."""
    for execution_id in execution_ids:
        executions.delete_execution_tree(connection, execution_id)
    return len(execution_ids)


_EXECUTION_FIELDS = (
    "id", "workflow_name", "namespace", "state", "state_info", "input", "params",
    "output", "task_execution_id", "root_execution_id", "project_id", "created_at",
    "updated_at",
)  # fmt: skip
_TASK_FIELDS = (
    "id", "name", "type", "state", "state_info", "published", "result",
    "created_at", "started_at", "finished_at",
)  # fmt: skip
_ACTION_FIELDS = (
    "id", "name", "state", "state_info", "input", "output", "index", "attempt",
    "created_at", "updated_at",
)  # fmt: skip


_STORED_VALUES = ("input", "output", "published", "result", "params")


def exported(connection: sa.Connection, execution_id: str) -> dict[str, Any]:
    """An execution as the expiration export writes it: its fields, its tasks with their
    actions, and under a task the sub-workflow executions it started (the same shape)."""
    from sirocco.store import trees

    row = trees.execution(connection, execution_id)
    record = _fields(row, _EXECUTION_FIELDS)
    blobs.inline_rows(connection, [record], _STORED_VALUES)  # values in full, not references
    record["tasks"] = []
    for task in trees.tasks(connection, execution_id):
        item = _fields(task, _TASK_FIELDS)
        item["actions"] = [
            _fields(action, _ACTION_FIELDS) for action in trees.actions(connection, task.id)
        ]
        blobs.inline_rows(connection, [item, *item["actions"]], _STORED_VALUES)
        item["workflow_executions"] = [
            exported(connection, child) for child in trees.children(connection, task.id)
        ]
        record["tasks"].append(item)
    return record


def _fields(row: Any, names: Sequence[str]) -> dict[str, Any]:
    values = row._mapping
    return {
        name: values[name].isoformat() if isinstance(values[name], datetime) else values[name]
        for name in names
    }
