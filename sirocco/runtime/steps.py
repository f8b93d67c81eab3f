"""One engine step: events for one execution in, one transaction, commands out.

Read top to bottom: lock the execution row, load (or reuse) its snapshot,
decide, write the changes and the commands (outbox rows and timers), commit,
then hand the commands to the dispatcher.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from sirocco import engine, errors
from sirocco.engine import commands, events, records
from sirocco.runtime import codec
from sirocco.runtime.lookup import StoreLookup
from sirocco.runtime.specs import SpecCache
from sirocco.store import executions, tables
from sirocco.store.database import Database

log = logging.getLogger("sirocco.engine")


@dataclass(frozen=True, slots=True, kw_only=True)
class Envelope:
    """An event on its way to a step, with the durable row that carried it."""

    event: events.Event
    outbox_id: int | None = None
    timer_id: int | None = None


@dataclass(slots=True, kw_only=True)
class Outgoing:
    """Commands a committed step left for the dispatcher, with their outbox ids."""

    items: list[tuple[int | None, commands.Command]] = field(default_factory=list)
    ended: list[tuple[str, str]] = field(default_factory=list)
    timers_due: list[datetime] = field(default_factory=list)


def new_id() -> str:
    return str(uuid.uuid4())


class SnapshotCache:
    """Snapshots of live executions, reused while their row version is unchanged."""

    def __init__(self, size: int = 2000) -> None:
        self._size = size
        self._items: dict[str, tuple[int, engine.Snapshot]] = {}

    def get(self, execution_id: str, version: int) -> engine.Snapshot | None:
        found = self._items.get(execution_id)
        if found is None or found[0] != version:
            return None
        return found[1]

    def put(self, execution_id: str, version: int, snapshot: engine.Snapshot) -> None:
        if len(self._items) >= self._size:
            self._items.pop(next(iter(self._items)))
        self._items[execution_id] = (version, snapshot)

    def drop(self, execution_id: str) -> None:
        self._items.pop(execution_id, None)


class Stepper:
    """Runs steps against the database; one instance per engine thread."""

    def __init__(
        self,
        database: Database,
        lookup: StoreLookup,
        spec_cache: SpecCache,
        clock: Callable[[], datetime],
    ) -> None:
        self.database = database
        self.lookup = lookup
        self.specs = spec_cache
        self.clock = clock
        self.snapshots = SnapshotCache()

    # ------------------------------------------------------------ events

    def step(self, execution_id: str, envelopes: Sequence[Envelope]) -> Outgoing:
        """Apply a batch of events to one execution in one transaction."""
        outgoing = Outgoing()
        with self.database.transaction() as connection:
            self.lookup.bind(connection)
            try:
                self._consume(connection, envelopes)
                row = executions.lock_workflow(connection, execution_id)
                if row is None:
                    return outgoing
                snapshot = self._snapshot(connection, row)
                wanted = [
                    envelope.event.action_execution_id
                    for envelope in envelopes
                    if isinstance(envelope.event, events.ActionCompleted)
                ]
                missing = [item for item in wanted if item not in snapshot.actions]
                if missing:
                    snapshot.add_actions(executions.load_actions(connection, missing))
                decision = engine.decide(
                    snapshot, [envelope.event for envelope in envelopes], now=self.clock(),
                    new_id=new_id,
                )
                self._write(connection, decision, snapshot, outgoing)
            finally:
                self.lookup.bind(None)
        self._after_commit(execution_id, row.version + 1, snapshot, decision)
        return outgoing

    def _consume(self, connection: sa.Connection, envelopes: Sequence[Envelope]) -> None:
        outbox_ids = [item.outbox_id for item in envelopes if item.outbox_id is not None]
        timer_ids = [item.timer_id for item in envelopes if item.timer_id is not None]
        if outbox_ids:
            connection.execute(sa.delete(tables.outbox).where(tables.outbox.c.id.in_(outbox_ids)))
        if timer_ids:
            connection.execute(sa.delete(tables.timers).where(tables.timers.c.id.in_(timer_ids)))

    def _snapshot(self, connection: sa.Connection, row: Any) -> engine.Snapshot:
        cached = self.snapshots.get(row.id, row.version)
        if cached is not None:
            return cached
        spec = self.specs.workflow(row.workflow_name, row.definition, row.workbook_name)
        workflow = executions.workflow_record(row, spec)
        tasks = executions.load_tasks(connection, row.id)
        return engine.Snapshot(workflow, tasks, [], self.lookup)

    # ------------------------------------------------------------ starting

    def start(
        self,
        *,
        spec_name: str,
        definition: str,
        workbook: str | None,
        workflow_id: str | None,
        execution_id: str,
        input: Mapping[str, Any],
        params: Mapping[str, Any],
        description: str = "",
        namespace: str = "",
        task_execution_id: str | None = None,
        root_execution_id: str | None = None,
        consumed: Envelope | None = None,
        outbox_id: int | None = None,
    ) -> Outgoing:
        """Create and start a workflow execution in one transaction.

        Raises InputError (nothing written) when the input does not fit.
        """
        outgoing = Outgoing()
        spec = self.specs.workflow(spec_name, definition, workbook)
        with self.database.transaction() as connection:
            self.lookup.bind(connection)
            try:
                if outbox_id is not None:
                    connection.execute(
                        sa.delete(tables.outbox).where(tables.outbox.c.id == outbox_id)
                    )
                if executions.lock_workflow(connection, execution_id) is not None:
                    return outgoing
                decision = engine.start_workflow(
                    spec=spec,
                    execution_id=execution_id,
                    input=input,
                    params=params,
                    now=self.clock(),
                    new_id=new_id,
                    lookup=self.lookup,
                    description=description,
                    namespace=namespace,
                    workflow_id=workflow_id,
                    task_execution_id=task_execution_id,
                    root_execution_id=root_execution_id,
                )
                self._write(connection, decision, None, outgoing)
            finally:
                self.lookup.bind(None)
        workflow = next((item for item in decision.workflows if item.id == execution_id), None)
        if workflow is not None:
            snapshot = engine.Snapshot(workflow, [], [], self.lookup)
            self._after_commit(execution_id, 0, snapshot, decision)
        return outgoing

    def fail_start(self, parent_event: events.Event, outbox_id: int | None) -> Outgoing:
        """A sub-workflow could not start: tell its parent in one durable step."""
        outgoing = Outgoing()
        with self.database.transaction() as connection:
            if outbox_id is not None:
                connection.execute(sa.delete(tables.outbox).where(tables.outbox.c.id == outbox_id))
            self._add_outbox(
                connection,
                commands.NotifyParent(event=parent_event),  # type: ignore[arg-type]
                getattr(parent_event, "workflow_execution_id", None),
                outgoing,
            )
        return outgoing

    # ------------------------------------------------------------ writing

    def _write(
        self,
        connection: sa.Connection,
        decision: engine.Decision,
        snapshot: engine.Snapshot | None,
        outgoing: Outgoing,
    ) -> None:
        now = self.clock()
        for workflow in decision.workflows:
            if snapshot is not None and workflow.id == snapshot.workflow.id:
                executions.update_workflow(connection, workflow)
            else:
                executions.insert_workflow(connection, workflow)
            if workflow.state in (engine.State.SUCCESS, engine.State.ERROR, engine.State.CANCELLED):
                outgoing.ended.append((workflow.id, str(workflow.state)))
        known_tasks: Mapping[str, Any] = snapshot.tasks if snapshot is not None else {}
        known_actions: Mapping[str, Any] = snapshot.actions if snapshot is not None else {}
        if decision.tasks:
            executions.save_records(
                connection,
                tables.task_executions,
                [executions.task_row(task) for task in decision.tasks],
                lambda item: item not in known_tasks,
            )
        if decision.actions:
            executions.save_records(
                connection,
                tables.action_executions,
                [executions.action_row(action) for action in decision.actions],
                lambda item: item not in known_actions,
            )
        if snapshot is not None and not decision.workflows:
            # Bump the version so that other engines drop their cached snapshot.
            connection.execute(
                sa.update(tables.workflow_executions)
                .where(tables.workflow_executions.c.id == snapshot.workflow.id)
                .values(version=tables.workflow_executions.c.version + 1)
            )
        for command in decision.commands:
            owner = getattr(command, "workflow_execution_id", None)
            if isinstance(command, commands.ScheduleTimer):
                connection.execute(
                    sa.insert(tables.timers),
                    [
                        {
                            "due": command.due,
                            "workflow_execution_id": command.event.workflow_execution_id,
                            "payload": codec.encode(command.event),
                            "created_at": now,
                        }
                    ],
                )
                outgoing.timers_due.append(command.due)
            elif isinstance(command, commands.WorkflowEnded):
                continue
            else:
                self._add_outbox(connection, command, owner, outgoing)
        for problem in decision.problems:
            log.error("engine problem", extra={"problem": problem})

    def _add_outbox(
        self,
        connection: sa.Connection,
        command: commands.Command,
        owner: str | None,
        outgoing: Outgoing,
    ) -> None:
        result = connection.execute(
            sa.insert(tables.outbox).returning(tables.outbox.c.id),
            [
                {
                    "workflow_execution_id": owner,
                    "kind": type(command).__name__,
                    "payload": codec.encode(command),
                    "created_at": self.clock(),
                }
            ],
        )
        outgoing.items.append((result.scalar_one(), command))

    def _after_commit(
        self,
        execution_id: str,
        version: int,
        snapshot: engine.Snapshot,
        decision: engine.Decision,
    ) -> None:
        snapshot.apply(decision)
        if snapshot.workflow.state in (
            engine.State.SUCCESS,
            engine.State.ERROR,
            engine.State.CANCELLED,
        ):
            self.snapshots.drop(execution_id)
        else:
            self.snapshots.put(execution_id, version, snapshot)


def completion_event(
    action: records.ActionExecution, state: engine.State, result: Any, message: str | None
) -> events.ActionCompleted:
    return events.ActionCompleted(
        workflow_execution_id=action.workflow_execution_id or "",
        action_execution_id=action.id,
        state=state,
        result=result,
        message=message,
    )


def as_error(exc: BaseException) -> str:
    if isinstance(exc, errors.SiroccoError):
        return exc.message
    return f"{type(exc).__name__}: {exc}"
