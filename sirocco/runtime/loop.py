"""The engine loop: takes events from the queue, batches them per execution, steps, dispatches.

One engine thread does all steps of this process, so a snapshot is never
used by two threads. Requests that need an answer (start a workflow) travel
through the same queue with a future.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from sirocco import errors
from sirocco.actions.registry import ActionRegistry
from sirocco.engine import commands, events
from sirocco.engine.states import State
from sirocco.runtime import codec
from sirocco.runtime import cron, definitions
from sirocco.runtime.cron import CronThread
from sirocco.runtime.lookup import StoreLookup
from sirocco.runtime.specs import SpecCache
from sirocco.runtime.steps import Envelope, InlineRunner, Outgoing, Stepper
from sirocco.runtime.timers import TimerThread
from sirocco.store import executions, tables
from sirocco.store.database import Database

log = logging.getLogger("sirocco.runtime")

#: Actions that have no side effect: running one again after a crash is harmless,
#: so they skip the "handed to the executor" transaction.
PURE_ACTIONS = frozenset({"std.noop", "std.echo", "std.test_dict", "std.fail"})


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True, slots=True, kw_only=True)
class StartRequest:
    """Start a workflow execution; the answer (execution id or error) comes in ``future``."""

    spec_name: str
    definition: str
    workbook: str | None
    workflow_id: str | None
    execution_id: str
    input: Mapping[str, Any]
    params: Mapping[str, Any]
    description: str = ""
    namespace: str = ""
    task_execution_id: str | None = None
    root_execution_id: str | None = None
    outbox_id: str | None = None
    parent_index: int = 0
    future: Future[str] | None = field(default=None, compare=False)


RunActionPort = Callable[[commands.RunAction], None]


class Runtime:
    """Composes store, engine and the in-process transport for one process."""

    def __init__(
        self,
        database: Database,
        registry: ActionRegistry,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.database = database
        self.registry = registry
        self.clock = clock
        self.specs = SpecCache()
        self.lookup = StoreLookup(database, registry, self.specs)
        self.stepper = Stepper(database, self.lookup, self.specs, clock)
        self._queue: queue.Queue[Any] = queue.Queue()
        self._run_action: RunActionPort | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._ended = threading.Condition()
        self._listeners: list[Callable[[str, str], None]] = []
        self.timers = TimerThread(database, self._deliver_timer, clock)
        self.cron = CronThread(database, self.start_from_outbox, clock)

    # ------------------------------------------------------------ wiring

    def attach_executor(
        self, run_action: RunActionPort, run_inline: InlineRunner | None = None
    ) -> None:
        """Where RunAction commands go (the executor pool, or a remote transport), and
        which cheap side-effect-free actions may run inside a step."""
        self._run_action = run_action
        self.stepper.run_inline = run_inline

    def on_state(self, listener: Callable[[str, str], None]) -> None:
        """Call ``listener(execution_id, state)`` whenever a workflow ends."""
        self._listeners.append(listener)

    # ------------------------------------------------------------ intake

    def submit(self, event: events.Event) -> None:
        """Queue an event (action result, pause, resume, ...)."""
        self._queue.put(Envelope(event=event))

    def report(
        self, command: commands.RunAction, state: State, result: Any, message: str | None
    ) -> None:
        """An executor finished ``command``: queue its result for the engine."""
        if command.workflow_execution_id is None:
            return
        event = events.ActionCompleted(
            workflow_execution_id=command.workflow_execution_id,
            action_execution_id=command.action_execution_id,
            state=state,
            result=result,
            message=message,
        )
        self._queue.put(Envelope(event=event, outbox_id=command.execution.get("outbox_id")))

    def request_start(self, request: StartRequest) -> Future[str]:
        future: Future[str] = Future()
        self._queue.put(_with_future(request, future))
        return future

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Recover what a previous process left, then start the engine and timer threads."""
        self.recover()
        self._stopping.clear()
        self._thread = threading.Thread(target=self._loop, name="sirocco-engine", daemon=True)
        self._thread.start()
        self.timers.start()
        self.cron.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the step in hand and stop taking work."""
        self._stopping.set()
        self._queue.put(None)
        self.timers.stop()
        self.cron.stop()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def recover(self) -> None:
        """Send again what was committed but not delivered before a crash."""
        with self.database.read() as connection:
            rows = list(connection.execute(sa.select(tables.outbox).order_by(tables.outbox.c.created_at)))
            running = executions.running_actions(connection)
        pending_actions: set[str] = set()
        outgoing = Outgoing()
        for row in rows:
            if row.kind == cron.OUTBOX_KIND:
                self.start_from_outbox(row.id, row.payload)
                continue
            command = codec.decode(row.payload)
            outgoing.items.append((row.id, command))
            if isinstance(command, commands.RunAction):
                pending_actions.add(command.action_execution_id)
        for action in running:
            if action.id in pending_actions or action.workflow_execution_id is None:
                continue
            # Handed to an executor that died with the process.
            safe = bool(action.params.get("safe_rerun")) or action.name in PURE_ACTIONS
            if safe:
                outgoing.items.append((None, _rerun_command(action)))
            else:
                self.submit(
                    events.ActionCompleted(
                        workflow_execution_id=action.workflow_execution_id,
                        action_execution_id=action.id,
                        state=State.ERROR,
                        result=None,
                        message=(
                            "Request to run an action was redelivered, but it cannot be re-run "
                            "safely. The action execution is marked as failed "
                            f"[action_ex_id={action.id}]."
                        ),
                    )
                )
        self._dispatch(outgoing)

    # ------------------------------------------------------------ the loop

    def _loop(self) -> None:
        while not self._stopping.is_set():
            first = self._queue.get()
            if first is None:
                break
            batch = [first]
            while len(batch) < 512:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._stopping.set()
                    break
                batch.append(item)
            self.process(batch)

    def run_pending(self) -> bool:
        """Process everything queued now, in the calling thread (one-shot runs, tests)."""
        batch = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                batch.append(item)
        if batch:
            self.process(batch)
        return bool(batch)

    def barrier(self) -> Future[None]:
        """A future that resolves once everything queued before it has been applied."""
        future: Future[None] = Future()
        self._queue.put(future)
        return future

    def process(self, batch: list[Any]) -> None:
        """Apply a batch: starts first, then the events grouped per execution, in order."""
        grouped: dict[str, list[Envelope]] = {}
        barriers: list[Future[None]] = []
        for item in batch:
            if isinstance(item, StartRequest):
                self._start(item)
            elif isinstance(item, Future):
                barriers.append(item)
            else:
                grouped.setdefault(item.event.workflow_execution_id, []).append(item)
        try:
            self._step_all(grouped)
        finally:
            for barrier in barriers:
                barrier.set_result(None)

    def _step_all(self, grouped: dict[str, list[Envelope]]) -> None:
        for execution_id, envelopes in grouped.items():
            try:
                outgoing = self.stepper.step(execution_id, envelopes)
            except Exception:
                log.exception("step failed", extra={"workflow_execution_id": execution_id})
                self.stepper.snapshots.drop(execution_id)
                continue
            self._dispatch(outgoing)

    def _start(self, request: StartRequest) -> None:
        try:
            outgoing = self.stepper.start(
                spec_name=request.spec_name,
                definition=request.definition,
                workbook=request.workbook,
                workflow_id=request.workflow_id,
                execution_id=request.execution_id,
                input=request.input,
                params=request.params,
                description=request.description,
                namespace=request.namespace,
                task_execution_id=request.task_execution_id,
                root_execution_id=request.root_execution_id,
                outbox_id=request.outbox_id,
            )
        except Exception as exc:
            if request.task_execution_id is not None:
                # A sub-workflow that cannot start fails its parent task.
                parent = request.params.get("__parent_execution_id")
                failed = events.SubworkflowCompleted(
                    workflow_execution_id=str(parent),
                    task_execution_id=request.task_execution_id,
                    subworkflow_execution_id=request.execution_id,
                    state=State.ERROR,
                    message=_message(exc),
                )
                self._dispatch(self.stepper.notify_parent(failed, request.outbox_id))
            elif request.outbox_id is not None:
                log.warning("scheduled start failed", extra={"error": _message(exc)})
                with self.database.transaction() as connection:
                    connection.execute(
                        sa.delete(tables.outbox).where(tables.outbox.c.id == request.outbox_id)
                    )
            if request.future is not None:
                request.future.set_exception(exc)
            elif not isinstance(exc, errors.SiroccoError):
                log.exception("start failed")
            return
        if request.future is not None:
            request.future.set_result(request.execution_id)
        self._dispatch(outgoing)

    # ------------------------------------------------------------ dispatch

    def _dispatch(self, outgoing: Outgoing) -> None:
        handed: list[str] = []
        to_run: list[commands.RunAction] = []
        for outbox_id, command in outgoing.items:
            if isinstance(command, commands.RunAction):
                if command.action_name not in PURE_ACTIONS and outbox_id is not None:
                    handed.append(outbox_id)
                to_run.append(_with_outbox(command, outbox_id))
            elif isinstance(command, commands.StartSubworkflow):
                self._queue.put(self._subworkflow_request(command, outbox_id))
            elif isinstance(command, (commands.NotifyParent, commands.SendEvent)):
                self._queue.put(Envelope(event=command.event, outbox_id=outbox_id))
        for event in outgoing.events:
            self._queue.put(Envelope(event=event))
        if handed:
            with self.database.transaction() as connection:
                connection.execute(sa.delete(tables.outbox).where(tables.outbox.c.id.in_(handed)))
        for command in to_run:
            if self._run_action is None:
                raise errors.ConfigurationError("No executor is attached to the runtime.")
            self._run_action(command)
        if outgoing.timers_due:
            self.timers.wake(min(outgoing.timers_due))
        for execution_id, state in outgoing.ended:
            log.info(
                "workflow execution ended",
                extra={"workflow_execution_id": execution_id, "state": state},
            )
            for listener in self._listeners:
                listener(execution_id, state)
            with self._ended:
                self._ended.notify_all()

    def start_from_outbox(self, outbox_id: str, payload: Mapping[str, Any]) -> None:
        """Start a workflow that a durable outbox row asks for (cron triggers)."""
        try:
            found = definitions.find_workflow(
                self.database, str(payload["workflow"]), namespace=str(payload.get("namespace", ""))
            )
        except errors.NotFoundError as exc:
            log.warning("cron trigger workflow is gone", extra={"error": exc.message})
            with self.database.transaction() as connection:
                connection.execute(sa.delete(tables.outbox).where(tables.outbox.c.id == outbox_id))
            return
        params = dict(payload.get("params") or {})
        if found.namespace:
            params.setdefault("namespace", found.namespace)
        self._queue.put(
            StartRequest(
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
            )
        )

    def _subworkflow_request(
        self, command: commands.StartSubworkflow, outbox_id: str | None
    ) -> StartRequest:
        params = dict(command.params)
        params["__parent_execution_id"] = command.workflow_execution_id
        try:
            found = definitions.find_workflow(
                self.database, command.workflow_name, namespace=command.namespace,
                workbook=command.workbook,
            )
        except errors.NotFoundError:
            found = None
        return StartRequest(
            spec_name=found.name if found else command.workflow_name,
            definition=found.definition if found else "",
            workbook=found.workbook if found else None,
            workflow_id=found.id if found else None,
            execution_id=command.subworkflow_execution_id,
            input=command.input,
            params=params,
            namespace=found.namespace if found else command.namespace,
            task_execution_id=command.task_execution_id,
            root_execution_id=command.root_execution_id,
            outbox_id=outbox_id,
            parent_index=command.index,
        )

    def _deliver_timer(self, timer_id: str, event: events.Event) -> None:
        self._queue.put(Envelope(event=event, timer_id=timer_id))

    # ------------------------------------------------------------ waiting

    def wait_until(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Block until ``predicate()`` is true after some workflow ended, or timeout."""
        deadline = self.clock().timestamp() + timeout
        with self._ended:
            while not predicate():
                remaining = deadline - self.clock().timestamp()
                if remaining <= 0:
                    return False
                self._ended.wait(min(remaining, 0.2))
        return True


def _with_future(request: StartRequest, future: Future[str]) -> StartRequest:
    import dataclasses

    return dataclasses.replace(request, future=future)


def _with_outbox(command: commands.RunAction, outbox_id: str | None) -> commands.RunAction:
    if outbox_id is None or command.action_name not in PURE_ACTIONS:
        return command
    import dataclasses

    execution = dict(command.execution)
    execution["outbox_id"] = outbox_id
    return dataclasses.replace(command, execution=execution)


def _rerun_command(action: executions.ActionExecution) -> commands.RunAction:
    return commands.RunAction(
        action_execution_id=action.id,
        workflow_execution_id=action.workflow_execution_id,
        task_execution_id=action.task_execution_id,
        action_name=action.name,
        input=action.input,
        safe_rerun=True,
        execution={
            "workflow_execution_id": action.workflow_execution_id,
            "task_execution_id": action.task_execution_id,
            "action_execution_id": action.id,
            "with_items_index": action.index,
            "redelivered": True,
        },
    )


def _message(exc: BaseException) -> str:
    if isinstance(exc, errors.SiroccoError):
        return exc.message
    return f"{type(exc).__name__}: {exc}"
