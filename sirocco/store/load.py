"""How much work is in flight: executions RUNNING, and actions waiting for or held by
an executor (RunAction rows of the outbox)."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from sirocco.engine.states import State
from sirocco.store import outbox, tables

_COUNT_RUNNING = (
    sa.select(sa.func.count())
    .select_from(tables.workflow_executions)
    .where(tables.workflow_executions.c.state == str(State.RUNNING))
)
_COUNT_ACTIONS = (
    sa.select(sa.func.count())
    .select_from(tables.outbox)
    .where(tables.outbox.c.kind == outbox.Kind.RUN_ACTION)
)


@dataclass(frozen=True, slots=True, kw_only=True)
class InFlight:
    executions: int
    actions: int


def in_flight(connection: sa.Connection) -> InFlight:
    """The executions RUNNING (sub-workflows included) and the actions not yet done."""
    return InFlight(
        executions=int(connection.execute(_COUNT_RUNNING).scalar_one()),
        actions=int(connection.execute(_COUNT_ACTIONS).scalar_one()),
    )
