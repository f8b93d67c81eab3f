"""RUNNING executions that wait on nothing, and the rows that set them going again.

An execution moves only when an event reaches it, and every event it waits for is
durable: an outbox row (a RunAction an executor holds or will take, an action's
result, a sub-workflow to start, a parent to notify), a timer, or a sub-workflow
that runs. A RUNNING execution with none of these waits on nothing and would stay
RUNNING for ever (a row lost by a crash or by hand, a bug). :func:`suspects` finds
them in one pass over the outbox, the timers and the running sub-workflows;
:func:`repair` checks one again under its row lock and writes what sets it going:

* ``lost-action``: an action RUNNING with no RunAction row and no result on its way.
  Its command lived only in the lost row (the input given to an ad-hoc action's base
  is not stored), so it cannot be sent again: the action fails with a message that
  says why, and the task's ``retry`` or ``on-error`` applies.
* ``lost-notify``: a sub-workflow ended but its parent task, RUNNING, was never told:
  the notification is made again from the sub-workflow's row (its state and output).
* ``nothing-pending``: anything else (a task waiting on nothing, a join that can no
  longer be satisfied): the execution fails with a message naming its waiting tasks.

Each repair is an outbox row of an engine kind: an engine applies it as any other.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from sirocco.engine import commands, events
from sirocco.engine.states import COMPLETED, TERMINAL, State
from sirocco.store import executions, outbox, tables, trees

_workflow_executions = tables.workflow_executions
_task = tables.task_executions
_outbox = tables.outbox
_timers = tables.timers

_TERMINAL = [str(state) for state in TERMINAL]

#: Turns an engine event or command into an outbox payload (``runtime.codec.encode``).
Encode = Callable[[Any], dict[str, Any]]


@dataclass(frozen=True, slots=True, kw_only=True)
class Repair:
    """One thing written to set a stuck execution going again."""

    kind: str
    execution_id: str
    task: str | None
    detail: str
    outbox_id: str
    row_kind: str
    payload: Mapping[str, Any]


def suspects(connection: sa.Connection) -> dict[str, int]:
    """RUNNING executions with no outbox row, no timer and no unfinished sub-workflow
    (their row version, by id). Rows that name no execution in their column (a
    sub-workflow's notification of its parent) are looked at by :func:`repair`."""
    running: dict[str, int] = {
        str(execution_id): int(version)
        for execution_id, version in connection.execute(
            sa.select(_workflow_executions.c.id, _workflow_executions.c.version).where(
                _workflow_executions.c.state == "RUNNING"
            )
        )
    }
    if not running:
        return {}
    busy: set[str] = set(
        connection.execute(
            sa.select(_outbox.c.workflow_execution_id)
            .where(_outbox.c.workflow_execution_id.is_not(None))
            .distinct()
        ).scalars()
    )
    busy.update(
        connection.execute(
            sa.select(_timers.c.workflow_execution_id)
            .where(_timers.c.workflow_execution_id.is_not(None))
            .distinct()
        ).scalars()
    )
    child = _workflow_executions.alias("child")
    busy.update(
        connection.execute(
            sa.select(_task.c.workflow_execution_id)
            .select_from(child.join(_task, child.c.task_execution_id == _task.c.id))
            .where(child.c.state.not_in(_TERMINAL))
            .distinct()
        ).scalars()
    )
    return {execution_id: int(version) for execution_id, version in running.items()
            if execution_id not in busy}  # fmt: skip


def repair(
    connection: sa.Connection,
    execution_id: str,
    *,
    version: int,
    now: datetime,
    new_id: Callable[[], str],
    encode: Encode,
    claimed_until: datetime | None,
) -> list[Repair]:
    """Lock the execution; if it is still the ``version`` seen as a suspect and still
    waits on nothing, write its repairs as outbox rows (leased until ``claimed_until``:
    the caller delivers them itself) and return them. Nothing when it moved meanwhile."""
    row = executions.lock_workflow(connection, execution_id)
    if row is None or row.state != "RUNNING" or int(row.version) != version:
        return []
    if execution_id not in suspects_among(connection, [execution_id]):
        return []
    repairs = _diagnose(connection, row, new_id, encode)
    outbox.insert(
        connection,
        [
            outbox.row(
                id=item.outbox_id,
                kind=item.row_kind,
                payload=dict(item.payload),
                created_at=now,
                workflow_execution_id=item.execution_id,
                claimed_until=claimed_until,
            )
            for item in repairs
        ],
    )
    return repairs


def suspects_among(connection: sa.Connection, ids: list[str]) -> set[str]:
    """Which of ``ids`` still wait on nothing (one execution's check, under its lock)."""
    found = set()
    for execution_id in ids:
        pending = connection.execute(
            sa.select(_outbox.c.id).where(_outbox.c.workflow_execution_id == execution_id).limit(1)
        ).first()
        timer = connection.execute(
            sa.select(_timers.c.id).where(_timers.c.workflow_execution_id == execution_id).limit(1)
        ).first()
        child = _workflow_executions.alias("child")
        running_child = connection.execute(
            sa.select(child.c.id)
            .select_from(child.join(_task, child.c.task_execution_id == _task.c.id))
            .where(_task.c.workflow_execution_id == execution_id, child.c.state.not_in(_TERMINAL))
            .limit(1)
        ).first()
        idle = pending is None and timer is None and running_child is None
        if idle and not _mentioned(connection, execution_id):
            found.add(execution_id)
    return found


def _diagnose(
    connection: sa.Connection, row: Any, new_id: Callable[[], str], encode: Encode
) -> list[Repair]:
    repairs: list[Repair] = []
    waiting: list[str] = []
    for task in trees.tasks(connection, row.id):
        if task.state in COMPLETED:
            continue
        waiting.append(f"{task.name} ({task.state})")
        if task.state != "RUNNING":
            continue
        for action in trees.actions(connection, task.id):
            if action.state == "RUNNING":
                repairs.append(_lost_action(row, task, action, new_id, encode))
        children = [
            trees.execution(connection, child) for child in trees.children(connection, task.id)
        ]
        # One sub-workflow (not with-items: which items were counted is the task's own
        # bookkeeping, so those are left to the fallback below).
        if len(children) == 1 and children[0].state in TERMINAL:
            repairs.append(_lost_notify(row, task, children[0], new_id, encode))
    if repairs:
        return repairs
    tasks_text = ", ".join(waiting) if waiting else "no unfinished task"
    message = (
        f"Sirocco's integrity check found workflow execution {row.id} RUNNING while it "
        f"waits on nothing (no action queued or held, no result, timer or sub-workflow "
        f"on its way; tasks: {tasks_text}); the execution fails."
    )
    event = events.StopWorkflow(workflow_execution_id=row.id, state=State.ERROR, message=message)
    return [
        Repair(
            kind="nothing-pending",
            execution_id=row.id,
            task=None,
            detail=message,
            outbox_id=new_id(),
            row_kind=outbox.Kind.SEND_EVENT,
            payload=encode(commands.SendEvent(event=event)),
        )
    ]


def _lost_action(
    row: Any, task: Any, action: Any, new_id: Callable[[], str], encode: Encode
) -> Repair:
    message = (
        f"Sirocco's integrity check found action {action.name} (task {task.name}) RUNNING "
        "with no executor holding it and no command queued for one (its outbox row was "
        "lost); it can't be sent again, so it fails."
    )
    event = events.ActionCompleted(
        workflow_execution_id=row.id,
        action_execution_id=action.id,
        state=State.ERROR,
        result=None,
        message=message,
    )
    return Repair(
        kind="lost-action",
        execution_id=row.id,
        task=task.name,
        detail=message,
        outbox_id=new_id(),
        row_kind=outbox.Kind.ACTION_RESULT,
        payload=encode(event),
    )


def _lost_notify(
    row: Any, task: Any, child: Any, new_id: Callable[[], str], encode: Encode
) -> Repair:
    output = child.output
    message = None if child.state == "SUCCESS" else (child.state_info or "Failed")
    event = events.SubworkflowCompleted(
        workflow_execution_id=row.id,
        task_execution_id=task.id,
        subworkflow_execution_id=child.id,
        state=State(child.state),
        output=output,
        message=message,
        index=int((child.params or {}).get("index") or 0),
    )
    detail = (
        f"sub-workflow {child.workflow_name} ({child.id}) ended {child.state} but task "
        f"{task.name} was never told: told again"
    )
    return Repair(
        kind="lost-notify",
        execution_id=row.id,
        task=task.name,
        detail=detail,
        outbox_id=new_id(),
        row_kind=outbox.Kind.NOTIFY_PARENT,
        payload=encode(commands.NotifyParent(event=event)),
    )


def _mentioned(connection: sa.Connection, execution_id: str) -> bool:
    """Whether some outbox row carries ``execution_id`` in its payload: the rows of a
    sub-workflow's notification and of a cascaded pause, resume or cancel name no
    execution in their column, only in their event."""
    return (
        connection.execute(
            sa.select(_outbox.c.id)
            .where(sa.cast(_outbox.c.payload, sa.Text).contains(execution_id))
            .limit(1)
        ).first()
        is not None
    )
