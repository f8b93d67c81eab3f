"""What comes in to the engine thread: its queue, and what turns outbox rows, broker
parcels, timers and trigger starts into the items on it.

Everything the engine applies passes through one queue: an ``Envelope`` (an event
and the durable row that carried it), a ``StartRequest`` (a workflow to start, with
a future for the caller), a ``Future`` (a barrier), or ``None`` (stop).
"""

from __future__ import annotations

import logging
import queue
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from typing import Any

from sirocco import errors
from sirocco.engine import commands, events
from sirocco.runtime import codec, delivery
from sirocco.runtime.work import Envelope, Started, StartItem, StartRequest
from sirocco.store import lookups, outbox, sources
from sirocco.store.database import Database

log = logging.getLogger("sirocco.runtime")

#: What Mistral writes as a sub-workflow execution's description.
SUBWORKFLOW_DESCRIPTION = "sub-workflow execution"


class Intake:
    """The engine thread's queue and the ways in to it."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self._queue: queue.Queue[Any] = queue.Queue()

    # ------------------------------------------------------------ the queue

    def put(self, item: Any) -> None:
        """Queue one item as it is (an envelope, a start request, a barrier, or None)."""
        self._queue.put(item)

    def event(
        self,
        event: events.Event,
        *,
        outbox_id: str | None = None,
        timer_id: str | None = None,
        acknowledge: Callable[[], None] | None = None,
    ) -> None:
        """Queue an event with the durable row (outbox row or timer) that carried it."""
        self._queue.put(
            Envelope(event=event, outbox_id=outbox_id, timer_id=timer_id, acknowledge=acknowledge)
        )

    def barrier(self) -> Future[None]:
        """A future that resolves once everything queued before it has been applied."""
        future: Future[None] = Future()
        self._queue.put(future)
        return future

    def get(self) -> Any:
        """The next item; waits until there is one."""
        return self._queue.get()

    def get_nowait(self) -> Any:
        """The next item; raises ``queue.Empty`` when there is none."""
        return self._queue.get_nowait()

    def refuse_waiting(self) -> None:
        """Answer the callers still waiting on a start or a barrier the stopped engine
        will never apply (their waits have no time limit). Events need no answer: what
        carried them durably is delivered again by the next process."""
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if isinstance(item, StartRequest) and item.future is not None:
                if not item.future.done():
                    item.future.set_exception(
                        errors.UnavailableError("The engine stopped before the start was applied.")
                    )
            elif isinstance(item, Future) and not item.done():
                item.set_exception(
                    errors.UnavailableError("The engine stopped before the change was applied.")
                )

    # ------------------------------------------------------------ durable rows in

    def deliver(
        self,
        kind: outbox.Kind,
        outbox_id: str,
        payload: Any,
        acknowledge: Callable[[], None] | None = None,
    ) -> None:
        """Queue the work of one outbox row (of an engine kind)."""
        if kind in (outbox.Kind.CRON_START, outbox.Kind.EVENT_START):
            self.start_from_outbox(outbox_id, payload, acknowledge)
        elif kind == outbox.Kind.TIMER_EVENT:
            self.event(
                codec.decode(payload["event"]),
                outbox_id=outbox_id,
                timer_id=payload["timer_id"],
                acknowledge=acknowledge,
            )
        elif kind == outbox.Kind.ACTION_RESULT:
            self.event(codec.decode(payload), outbox_id=outbox_id, acknowledge=acknowledge)
        else:
            command = codec.decode(payload)
            if isinstance(command, commands.StartSubworkflow):
                self._queue.put(
                    StartRequest(self.subworkflow_item(command, outbox_id), None, acknowledge)
                )
            elif isinstance(command, (commands.NotifyParent, commands.SendEvent)):
                self.event(command.event, outbox_id=outbox_id, acknowledge=acknowledge)
            elif acknowledge is not None:
                acknowledge()

    def receive(self, parcel: delivery.Parcel) -> None:
        """Queue what a parcel from the broker carries; acknowledged once applied."""
        self.deliver(parcel.kind, parcel.outbox_id, parcel.payload, parcel.acknowledge)

    def timer_event(self, timer_id: str, event: events.Event) -> None:
        """Queue the event of a due timer (the step that applies it deletes the timer)."""
        self.event(event, timer_id=timer_id)

    def start_from_outbox(
        self,
        outbox_id: str,
        payload: Mapping[str, Any],
        acknowledge: Callable[[], None] | None = None,
    ) -> Future[Started]:
        """Start a workflow that a durable outbox row asks for (cron and event triggers);
        the future gives the execution id once the start is stored, or the error."""
        future: Future[Started] = Future()
        try:
            owner = payload.get("project_id")
            found = sources.find_workflow(
                self.database,
                str(payload["workflow"]),
                namespace=str(payload.get("namespace", "")),
                project_id=None if owner is None else str(owner),
            )
        except errors.NotFoundError as exc:
            log.warning("trigger's workflow is gone", extra={"error": exc.message})
            outbox.remove(self.database, [outbox_id])
            if acknowledge is not None:
                acknowledge()
            future.set_exception(exc)
            return future
        params = dict(payload.get("params") or {})
        if found.namespace:
            params.setdefault("namespace", found.namespace)
        item = StartItem(
            spec_name=found.name,
            definition=found.definition,
            workbook=found.workbook,
            workflow_id=found.id,
            execution_id=str(payload["execution_id"]),
            input=dict(payload.get("input") or {}),
            params=params,
            description=str(payload.get("description", "")),
            namespace=found.namespace,
            outbox_id=outbox_id,
            project_id=payload.get("project_id"),
        )
        self._queue.put(StartRequest(item, future, acknowledge))
        return future

    def subworkflow_item(
        self, command: commands.StartSubworkflow, outbox_id: str | None
    ) -> StartItem:
        """The start of the sub-workflow ``command`` asks for, its workflow looked up in
        the root execution's project."""
        project_id = self._project_of(command.root_execution_id)
        try:
            found: sources.FoundWorkflow | None = sources.find_workflow(
                self.database,
                command.workflow_name,
                namespace=command.namespace,
                workbook=command.workbook,
                project_id=project_id,
            )
        except errors.NotFoundError:
            found = None
        if (
            found is not None
            and found.scope != "public"
            and not sources.readable_by(self.database, found, project_id)
        ):
            found = None  # another project's private workflow: as if it did not exist
        return StartItem(
            spec_name=found.name if found else command.workflow_name,
            definition=found.definition if found else "",
            workbook=found.workbook if found else None,
            workflow_id=found.id if found else None,
            execution_id=command.subworkflow_execution_id,
            input=command.input,
            params=command.params,
            description=SUBWORKFLOW_DESCRIPTION,
            namespace=found.namespace if found else command.namespace,
            task_execution_id=command.task_execution_id,
            root_execution_id=command.root_execution_id,
            parent_execution_id=command.workflow_execution_id,
            outbox_id=outbox_id,
        )

    def _project_of(self, execution_id: str) -> str | None:
        with self.database.read() as connection:
            return lookups.project_of(connection, execution_id)
