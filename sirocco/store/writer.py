"""The batch writer: every record, outbox row and timer a batch of steps makes, written
per table and kind at the end of the batch (parents before children)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import sqlalchemy as sa

from sirocco.engine import records
from sirocco.store import blobs, executions, notify, one_statement, outbox, tables, timers


class LazyRow(Protocol):
    """A row that is built (its payload encoded) only when it is written."""

    def row(self) -> dict[str, Any]: ...


@dataclass(slots=True)
class Writes:
    """What a batch writes, per table and kind, until flushed (parents before children).

    Records and commands are kept as they are and made into rows only when
    flushed, a chunk at a time (``executions.execute_many``): a step that starts
    a with-items task of 100,000 items would otherwise hold 100,000 row dicts,
    and as many encoded payloads, on top of the records.
    """

    new_workflows: list[records.WorkflowExecution] = field(default_factory=list)
    workflow_updates: list[records.WorkflowExecution] = field(default_factory=list)
    bumps: list[str] = field(default_factory=list)
    new_tasks: list[records.TaskExecution] = field(default_factory=list)
    task_updates: list[records.TaskExecution] = field(default_factory=list)
    new_actions: list[records.ActionExecution] = field(default_factory=list)
    action_updates: list[records.ActionExecution] = field(default_factory=list)
    outbox: list[LazyRow] = field(default_factory=list)
    timers: list[dict[str, Any]] = field(default_factory=list)
    #: Channels to wake when the transaction commits (PostgreSQL NOTIFY).
    wake: set[str] = field(default_factory=set)

    def flush(
        self,
        connection: sa.Connection,
        *,
        last: bool = False,
        early: bool = False,
        flushed: bool = True,
    ) -> bool:
        """Write everything collected (parents before children), then forget it.

        Values over the blob threshold go to the blob table (``sirocco.store.blobs``).
        ``last``: nothing else runs in the caller's transaction before its commit; on
        PostgreSQL a flush of one statement then commits it in the same round trip
        (``one_statement``), and the caller's commit has nothing left to do. ``early``
        (with ``last``): the roles it wakes see the commit before its flush
        (``one_statement.EARLY``); only for rows that no client has been told of.
        ``flushed=False`` (with ``early``): it returns before the flush, which the caller
        waits for on the same connection (``Database.wait_for_disk``). Returns whether the
        caller's transaction was committed here.
        """
        if not self._any():
            return False  # nothing collected (the second flush of a batch of starts)
        offload = blobs.Offloader(connection)
        if connection.dialect.name == "postgresql" and self._together():
            one_statement.execute(
                connection,
                self._parts(offload),
                sorted(self.wake),
                commit=last,
                early=early,
                flushed=flushed,
            )
            committed = last
        else:
            self._flush_apart(connection, offload)
            committed = False
        self.wake.clear()
        for kept in (
            self.new_workflows, self.workflow_updates, self.bumps, self.new_tasks,
            self.task_updates, self.new_actions, self.action_updates, self.outbox, self.timers,
        ):  # fmt: skip
            kept.clear()
        return committed

    def _any(self) -> bool:
        """Whether anything was collected since the last flush."""
        return bool(
            self.new_workflows or self.workflow_updates or self.bumps or self.new_tasks
            or self.task_updates or self.new_actions or self.action_updates or self.outbox
            or self.timers or self.wake
        )  # fmt: skip

    def _together(self) -> bool:
        """Whether the rows are few enough for one statement, none written twice."""
        counts = (
            len(self.new_workflows) + len(self.workflow_updates) + len(self.bumps)
            + len(self.new_tasks) + len(self.task_updates) + len(self.new_actions)
            + len(self.action_updates) + len(self.outbox) + len(self.timers)
        )  # fmt: skip
        if counts > one_statement.MOST_ROWS:
            return False
        workflows = [item.id for item in (*self.new_workflows, *self.workflow_updates)]
        return one_statement.distinct(
            [("workflow", item) for item in (*workflows, *self.bumps)]
            + [("task", item.id) for item in (*self.new_tasks, *self.task_updates)]
            + [("action", item.id) for item in (*self.new_actions, *self.action_updates)]
        )

    def _parts(self, offload: blobs.Offloader) -> list[one_statement.Write]:
        """Every row as a part of one statement (parents first, as :meth:`_flush_apart`)."""
        Write = one_statement.Write
        parts = [
            Write(tables.workflow_executions, executions.workflow_row(item, offload))
            for item in self.new_workflows
        ]
        for item in self.workflow_updates:
            row = executions.workflow_update_row(item, offload)
            row["id"] = row.pop("_id")
            parts.append(Write(tables.workflow_executions, row, update=True, bump=True))
        parts.extend(
            Write(tables.workflow_executions, {"id": item}, update=True, bump=True)
            for item in self.bumps
        )
        tasks, actions = tables.task_executions, tables.action_executions
        parts.extend(Write(tasks, executions.task_row(item, offload)) for item in self.new_tasks)
        parts.extend(
            Write(tasks, executions.task_row(item, offload), update=True)
            for item in self.task_updates
        )
        parts.extend(
            Write(actions, executions.action_row(item, offload)) for item in self.new_actions
        )
        parts.extend(
            Write(actions, executions.action_row(item, offload), update=True)
            for item in self.action_updates
        )
        parts.extend(Write(tables.outbox, _offloaded(item.row(), offload)) for item in self.outbox)
        parts.extend(Write(tables.timers, row) for row in self.timers)
        return parts

    def _flush_apart(self, connection: sa.Connection, offload: blobs.Offloader) -> None:
        """Each table's rows in statements of their own (``executemany`` by chunk); a
        kind with no rows costs nothing."""
        if self.new_workflows:
            executions.insert_rows(
                connection,
                tables.workflow_executions,
                (executions.workflow_row(record, offload) for record in self.new_workflows),
            )
        if self.workflow_updates:
            executions.update_workflows(
                connection,
                (
                    executions.workflow_update_row(record, offload)
                    for record in self.workflow_updates
                ),
            )
        if self.bumps:
            executions.execute_many(
                connection, _BUMP_VERSION, ({"execution_id": item} for item in self.bumps)
            )
        if self.new_tasks or self.task_updates:
            _write_records(
                connection, tables.task_executions,
                functools.partial(executions.task_row, offload=offload), self.new_tasks,
                self.task_updates,
            )  # fmt: skip
        if self.new_actions or self.action_updates:
            _write_records(
                connection, tables.action_executions,
                functools.partial(executions.action_row, offload=offload), self.new_actions,
                self.action_updates,
            )  # fmt: skip
        if self.outbox:
            outbox.insert(connection, (_offloaded(item.row(), offload) for item in self.outbox))
        if self.timers:
            timers.insert(connection, self.timers)
        for channel in self.wake:
            notify.send(connection, channel)


Written = TypeVar("Written", records.TaskExecution, records.ActionExecution)


def _offloaded(row: dict[str, Any], offload: blobs.Offloader) -> dict[str, Any]:
    """An outbox row whose RunAction input holds its large values by reference (the
    action's input row refers to the same blobs; an executor loads them to run it)."""
    payload = row["payload"]
    if row["kind"] == outbox.Kind.RUN_ACTION and type(payload) is dict and "input" in payload:
        stored = offload.inner_values(row["workflow_execution_id"], payload["input"])
        if stored is not payload["input"]:
            row["payload"] = {**payload, "input": stored}
    return row


def _write_records(
    connection: sa.Connection,
    table: sa.Table,
    row: Callable[[Written], dict[str, Any]],
    new: Sequence[Written],
    changed: Sequence[Written],
) -> None:
    """Insert the new records of a table, then update the changed ones (rows built lazily)."""
    if new:
        executions.insert_rows(connection, table, map(row, new))
    if changed:
        executions.update_rows(connection, table, map(row, changed))


_BUMP_VERSION = (
    sa.update(tables.workflow_executions)
    .where(tables.workflow_executions.c.id == sa.bindparam("execution_id"))
    .values(version=tables.workflow_executions.c.version + 1)
)
