"""The engine loop: takes what is queued, applies it in one transaction, dispatches.

One engine thread does all steps of this process, so a snapshot is never
used by two threads. Everything queued at a moment (up to ``BATCH``) is
applied in one transaction (group commit); when that fails, the items are
retried one by one so that one bad item cannot hold up the others.
Requests that need an answer (start a workflow, wait until applied) travel
through the same queue with a future.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sirocco import clock, errors, ids
from sirocco.actions.registry import ActionRegistry
from sirocco.engine import commands, events, reasons
from sirocco.engine.states import State
from sirocco.limits import DEFAULT as DEFAULT_LIMITS
from sirocco.limits import Limits
from sirocco.runtime import codec, delivery, in_flight, maintenance
from sirocco.runtime.cron import CronThread
from sirocco.runtime.dynamic_actions import DynamicActions
from sirocco.runtime.fairness import RoundRobin
from sirocco.runtime.health import Guard, Health, is_outage
from sirocco.runtime.heartbeats import HeartbeatChecker, Timing
from sirocco.runtime.lookup import StoreLookup
from sirocco.runtime.specs import SpecCache
from sirocco.runtime.steps import (
    BatchResult,
    Envelope,
    InlineRunner,
    Outgoing,
    StartItem,
    Stepper,
)
from sirocco.runtime.timers import TimerThread
from sirocco.store import executions, leases, lookups, notify, outbox, sources, timers
from sirocco.store.database import Database

log = logging.getLogger("sirocco.runtime")
#: One line per change of an execution's state (``sirocco run`` prints them itself).
executions_log = logging.getLogger("sirocco.executions")

BATCH = 512
#: Queued items the engine thread looks at to make a batch fair across executions.
LOOKAHEAD = 8 * BATCH
#: Seconds between looks at the outbox when roles run in separate processes.
OUTBOX_POLL = 0.05


@dataclass(frozen=True, slots=True)
class StartRequest:
    """A start on its way to the engine thread; the answer comes in ``future``."""

    item: StartItem
    future: Future[str] | None = None
    acknowledge: Callable[[], None] | None = None


RunActionPort = Callable[[commands.RunAction], None]


class Runtime:
    """Composes store, engine and the in-process queue for one process."""

    def __init__(
        self,
        database: Database,
        registry: ActionRegistry,
        *,
        clock: Callable[[], datetime] = clock.utcnow,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        self.database = database
        self.registry = registry
        self.clock = clock
        self.limits = limits
        self.specs = SpecCache()
        #: Actions defined by code sources (their registry names are run names).
        self.dynamic = DynamicActions(database)
        registry.attach_resolver(self.dynamic.resolve)
        self.lookup = StoreLookup(registry, self.specs, self.dynamic)
        self.stepper = Stepper(database, self.lookup, self.specs, clock, limits=limits)
        self._queue: queue.Queue[Any] = queue.Queue()
        self._run_action: RunActionPort | None = None
        self._delivery: delivery.Delivery | None = None
        self._last_poll = 0
        self._thread: threading.Thread | None = None
        self._poller: threading.Thread | None = None
        self._stopping = threading.Event()
        self._listeners: list[Callable[[str, str], None]] = []
        #: The last problem the engine reported per execution (refused requests).
        self.problems: dict[str, str] = {}
        #: Threads of this process and the failures they met (``/ready``).
        self.health = Health()
        self.health.probe("database", database.ping)
        self.health.condition("maintenance", maintenance.readiness(database))
        self.timers = TimerThread(database, self._deliver_timer, clock, self.health)
        self.cron = CronThread(database, self._start_cron, clock, self.health)
        self._heartbeats: HeartbeatChecker | None = None
        self._checker: threading.Thread | None = None
        #: How this process is named on the RunAction rows it runs itself (explain).
        self.name = leases.process_name("server")

    # ------------------------------------------------------------ wiring

    def attach_executor(
        self, run_action: RunActionPort | None, run_inline: InlineRunner | None = None
    ) -> None:
        """Where RunAction commands go (the executor pool, or a remote transport), and
        which cheap side-effect-free actions may run inside a step."""
        self._run_action = run_action
        self.stepper.run_inline = run_inline

    def attach_delivery(self, parcels: delivery.Delivery) -> None:
        """Roles in separate processes: RunAction parcels go out through ``parcels`` after
        each commit, engine parcels come in through it (when ``poll_outbox`` runs), and
        the outbox poller waits on it instead of sleeping a fixed time."""
        self._delivery = parcels
        self.stepper.wake = notify.EXECUTOR

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

    def request_start(self, item: StartItem) -> Future[str]:
        """Queue a start; the future gives the execution id or the input error."""
        future: Future[str] = Future()
        self._queue.put(StartRequest(item, future))
        return future

    def barrier(self) -> Future[None]:
        """A future that resolves once everything queued before it has been applied."""
        future: Future[None] = Future()
        self._queue.put(future)
        return future

    # ------------------------------------------------------------ lifecycle

    def start(
        self,
        *,
        recover: bool = True,
        lost_actions: bool = True,
        timers: bool = True,
        cron: bool = True,
        poll_outbox: bool = False,
        heartbeats: Timing | None = None,
    ) -> None:
        """Recover what a previous process left, then start the engine thread and the
        timer, cron and outbox-polling threads this process runs.

        ``heartbeats``: check the leases of actions held by executor processes, and fail
        (or offer again) those whose executor stopped sending heartbeats.
        """
        if heartbeats is not None:
            self._heartbeats = HeartbeatChecker(
                self.database,
                self.clock,
                heartbeats,
                new_id=ids.new_id,
                keep_offered=self._run_action is not None,
                holder=self.name,
            )
        if recover:
            self.recover(lost_actions=lost_actions)
        self._stopping.clear()
        self._thread = threading.Thread(target=self._loop, name="sirocco-engine", daemon=True)
        self._thread.start()
        self.health.watch(self._thread)
        if timers:
            self.timers.start()
        if cron:
            self.cron.start()
        if poll_outbox and self._delivery is not None:
            self._delivery.receive(delivery.ENGINE_QUEUE, self.receive, prefetch=512)
        if poll_outbox:
            self._poller = threading.Thread(
                target=self._poll_loop, name="sirocco-outbox", daemon=True
            )
            self._poller.start()
            self.health.watch(self._poller)
        if self._heartbeats is not None:
            self._checker = threading.Thread(
                target=self._check_loop, name="sirocco-heartbeats", daemon=True
            )
            self._checker.start()
            self.health.watch(self._checker)

    def _poll_loop(self) -> None:
        guard = Guard("outbox-poll", self.health)
        found = False
        while not self._stopping.is_set():
            if found:
                pass  # a full page may have more behind it: look again at once
            elif self._delivery is not None and not guard.in_outage:
                self._delivery.wait(notify.ENGINE)
            elif self._stopping.wait(OUTBOX_POLL + guard.backoff):
                break
            found = bool(guard.call(self.poll_outbox)) and self._last_poll >= outbox.PAGE

    def _check_loop(self) -> None:
        checker = self._heartbeats
        assert checker is not None
        guard = Guard("heartbeat-check", self.health)
        while True:
            if guard.in_outage:
                pause = guard.backoff
            else:
                pause = max(0.0, (checker.next_check() - self.clock()).total_seconds())
            if self._stopping.wait(pause):
                break
            if not guard.call(self.check_heartbeats):
                checker.outage()

    def check_heartbeats(self) -> int:
        """Fail or offer again the actions whose executor missed its heartbeats."""
        if self._heartbeats is None:
            return 0
        outcome = self._heartbeats.check()
        for result_id, event in outcome.failed:
            self._queue.put(Envelope(event=event, outbox_id=result_id))
        if outcome.offered:
            # This process's executor runs them, or the broker announces them to executors.
            self._dispatch(Outgoing(items=list(outcome.offered)))
        return len(outcome.failed) + len(outcome.offered)

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the batch in hand and stop taking work."""
        self._stopping.set()
        self._queue.put(None)
        self.timers.stop()
        self.cron.stop()
        for thread in (self._poller, self._checker, self._thread):
            self.health.forget(thread)
            if thread is not None:
                thread.join(timeout)
        self._poller = self._checker = self._thread = None
        self._refuse_waiting()

    def _refuse_waiting(self) -> None:
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

    def recover(self, *, lost_actions: bool = True) -> None:
        """Send again what was committed but not delivered before a crash.

        ``lost_actions``: the executor ran in this process too, so an action that
        was handed over and has no result died with it: run it again where
        ``safe-rerun`` allows (or it has no side effect), else fail it. Leave it
        False when executors are separate processes: they may still be running.
        """
        rows = outbox.everything(self.database)
        running: dict[str, executions.ActionExecution] = {}
        if lost_actions:
            with self.database.read() as connection:
                running = {action.id: action for action in executions.running_actions(connection)}
        if lost_actions:
            # Timers this (dead) process had claimed to deliver itself are free again.
            timers.release_all(self.database)
        outgoing = Outgoing()
        finished: list[str] = []
        for row in rows:
            if row.kind != outbox.Kind.RUN_ACTION:
                self.deliver_row(row)
                continue
            command = codec.decode(row.payload)
            if row.claimed_until is None:
                outgoing.items.append((row.id, command))  # never started
            elif row.claimed_until < in_flight.HANDED:
                continue  # leased by an executor process: its heartbeats tell (heartbeats.py)
            elif not lost_actions:
                continue
            elif command.action_execution_id not in running:
                finished.append(row.id)  # completed, or async and waiting for the API
            elif in_flight.runs_again(command):
                outgoing.items.append((row.id, _redelivered(command)))
            else:
                self._queue.put(
                    Envelope(
                        event=events.ActionCompleted(
                            workflow_execution_id=command.workflow_execution_id or "",
                            action_execution_id=command.action_execution_id,
                            state=State.ERROR,
                            result=None,
                            message=in_flight.failure_message(command),
                        ),
                        outbox_id=row.id,
                    )
                )
        if finished:
            outbox.remove(self.database, finished)
        self._dispatch(outgoing)

    def deliver_row(self, row: Any) -> None:
        """Queue what an outbox row (of an engine kind) carries."""
        self.deliver(outbox.Kind(row.kind), row.id, row.payload)

    def receive(self, parcel: delivery.Parcel) -> None:
        """Queue what a parcel from the broker carries; acknowledged once applied."""
        self.deliver(parcel.kind, parcel.outbox_id, parcel.payload, parcel.acknowledge)

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
            event = codec.decode(payload["event"])
            self._queue.put(
                Envelope(
                    event=event,
                    outbox_id=outbox_id,
                    timer_id=payload["timer_id"],
                    acknowledge=acknowledge,
                )
            )
        elif kind == outbox.Kind.ACTION_RESULT:
            self._queue.put(
                Envelope(event=codec.decode(payload), outbox_id=outbox_id, acknowledge=acknowledge)
            )
        else:
            command = codec.decode(payload)
            if isinstance(command, commands.StartSubworkflow):
                self._queue.put(
                    StartRequest(self._subworkflow_item(command, outbox_id), None, acknowledge)
                )
            elif isinstance(command, (commands.NotifyParent, commands.SendEvent)):
                self._queue.put(
                    Envelope(event=command.event, outbox_id=outbox_id, acknowledge=acknowledge)
                )
            elif acknowledge is not None:
                acknowledge()

    def poll_outbox(self) -> int:
        """Take the engine rows no live process is delivering (roles in separate processes)."""
        rows = outbox.claim(self.database, outbox.ENGINE_KINDS, now=self.clock())
        for row in rows:
            self.deliver_row(row)
        self._last_poll = len(rows)
        return len(rows)

    # ------------------------------------------------------------ the loop

    def _loop(self) -> None:
        waiting = RoundRobin(BATCH)
        while not self._stopping.is_set():
            if not len(waiting):
                first = self._queue.get()
                if first is None:
                    break
                waiting.add(first)
            # Look further than one batch, so that the batch can be fair (fairness.py).
            while len(waiting) < LOOKAHEAD:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._stopping.set()
                    break
                waiting.add(item)
            batch = waiting.take()
            try:
                self.process(batch)
            except Exception:  # a bug: the engine thread must go on with the next batch
                log.exception("engine batch failed")

    def process(self, batch: list[Any]) -> None:
        """Apply a batch: starts first, then the events grouped per execution, in order."""
        starts: list[StartRequest] = []
        grouped: dict[str, list[Envelope]] = {}
        barriers: list[Future[None]] = []
        for item in batch:
            if isinstance(item, StartRequest):
                starts.append(item)
            elif isinstance(item, Future):
                barriers.append(item)
            else:
                grouped.setdefault(item.event.workflow_execution_id, []).append(item)
        try:
            try:
                result = self._run_batch_waiting(starts, grouped)
            except Exception:
                log.warning("batch failed; applying its items one by one", exc_info=True)
                self._one_by_one(starts, grouped)
            else:
                self._settle(starts, result)
        finally:
            for barrier in barriers:
                if not barrier.done():
                    barrier.set_result(None)
            # Applied (or, on a bug, left to the database's lease): the broker may forget them.
            for request in starts:
                if request.acknowledge is not None:
                    request.acknowledge()
            for envelopes in grouped.values():
                for envelope in envelopes:
                    if envelope.acknowledge is not None:
                        envelope.acknowledge()

    def _run_batch_waiting(
        self, starts: list[StartRequest], grouped: dict[str, list[Envelope]]
    ) -> BatchResult:
        """Run a batch; while the database can't be reached, wait (backing off) and try the
        same batch again, so that no event is dropped by an outage."""
        guard = Guard("engine", self.health)
        while True:
            if self._delivery is not None:
                # Without a broker, the commit wakes the executors (PostgreSQL NOTIFY).
                self.stepper.wake = None if self._delivery.brokered else notify.EXECUTOR
            try:
                result = self.stepper.run_batch([request.item for request in starts], grouped)
            except Exception as exc:
                if not is_outage(exc) or self._stopping.is_set():
                    guard.succeeded()
                    raise
                guard.failed(exc)
                time.sleep(guard.backoff)
                continue
            guard.succeeded()
            return result

    def _one_by_one(self, starts: list[StartRequest], grouped: dict[str, list[Envelope]]) -> None:
        for request in starts:
            try:
                result = self.stepper.run_batch([request.item], {})
            except Exception as exc:
                log.exception(
                    "start failed", extra={"workflow_execution_id": request.item.execution_id}
                )
                self._start_failed(request, exc)
                continue
            self._settle([request], result)
        for execution_id, envelopes in grouped.items():
            try:
                result = self.stepper.run_batch([], {execution_id: envelopes})
            except Exception:
                log.exception("step failed", extra={"workflow_execution_id": execution_id})
                continue
            self._dispatch(result.outgoing)

    def _settle(self, starts: list[StartRequest], result: BatchResult) -> None:
        failed = {id(item): exc for item, exc in result.failed_starts}
        for request in starts:
            exc = failed.get(id(request.item))
            if exc is not None:
                self._start_failed(request, exc)
            elif request.future is not None:
                request.future.set_result(request.item.execution_id)
        self._dispatch(result.outgoing)

    def _start_failed(self, request: StartRequest, exc: Exception) -> None:
        item = request.item
        if item.task_execution_id is not None and item.parent_execution_id is not None:
            # A sub-workflow that cannot start fails its parent task.
            failed = events.SubworkflowCompleted(
                workflow_execution_id=item.parent_execution_id,
                task_execution_id=item.task_execution_id,
                subworkflow_execution_id=item.execution_id,
                state=State.ERROR,
                message=_message(exc),
                start_failed=True,
            )
            self._dispatch(self.stepper.notify_parent(failed, item.outbox_id))
        elif item.outbox_id is not None:
            log.warning("scheduled start failed", extra={"error": _message(exc)})
            outbox.remove(self.database, [item.outbox_id])
        if request.future is not None:
            request.future.set_exception(exc)

    # ------------------------------------------------------------ dispatch

    def _dispatch(self, outgoing: Outgoing) -> None:
        parcels: list[delivery.Parcel] = []
        handed: list[str] = []
        to_run: list[commands.RunAction] = []
        for outbox_id, command in outgoing.items:
            if isinstance(command, commands.RunAction):
                if self._run_action is None:
                    # Executors in other processes take it from the outbox; tell them.
                    if outbox_id is not None and self._delivery is not None:
                        parcels.append(
                            delivery.Parcel(
                                kind=outbox.Kind.RUN_ACTION,
                                outbox_id=outbox_id,
                                payload=codec.encode(command),
                                target=command.target,
                            )
                        )
                    continue
                if in_flight.needs_handing(command) and outbox_id is not None:
                    handed.append(outbox_id)
                to_run.append(_with_outbox(command, outbox_id))
            elif isinstance(command, commands.StartSubworkflow):
                self._queue.put(StartRequest(self._subworkflow_item(command, outbox_id)))
            elif isinstance(command, (commands.NotifyParent, commands.SendEvent)):
                self._queue.put(Envelope(event=command.event, outbox_id=outbox_id))
        for outbox_id, event in outgoing.followups:
            self._queue.put(Envelope(event=event, outbox_id=outbox_id))
        for timer_id, timer_event in outgoing.timers_now:
            self._queue.put(Envelope(event=timer_event, timer_id=timer_id))
        if parcels and self._delivery is not None:
            self._delivery.send(parcels)  # a parcel the broker refused is polled from the outbox
        if handed:
            # Marked before they run: after a crash, these are the actions that may have run.
            self._mark_handed(handed)
        for command in to_run:
            if self._run_action is not None:
                self._run_action(command)
        if outgoing.timers_due:
            self.timers.wake(min(outgoing.timers_due))
        for execution_id, name, state, state_info in outgoing.changed:
            _log_change(execution_id, name, state, state_info)
        for execution_id, problem in outgoing.problems:
            self.problems[execution_id] = problem
            while len(self.problems) > 1000:
                self.problems.pop(next(iter(self.problems)))
        for execution_id, state in outgoing.ended:
            for listener in self._listeners:
                listener(execution_id, state)
        if self._delivery is not None:
            cancelled = [id_ for id_, state in outgoing.ended if state == State.CANCELLED]
            if cancelled:
                self._tell_cancelled(cancelled)

    def _tell_cancelled(self, execution_ids: list[str]) -> None:
        """Tell executors in other processes to stop the actions of cancelled executions
        (best effort: a missed message is caught by their next heartbeat)."""
        assert self._delivery is not None
        try:
            self._delivery.cancel(execution_ids)
        except Exception as exc:
            log.warning(
                "could not tell executors about %d cancelled executions; their next heartbeat will",
                len(execution_ids),
                extra={"error": str(exc)},
            )

    def _mark_handed(self, handed: list[str]) -> None:
        guard = Guard("engine-dispatch", self.health)
        while True:
            try:
                outbox.hand(self.database, handed, holder=self.name, now=self.clock())
            except Exception as exc:
                if not is_outage(exc) or self._stopping.is_set():
                    guard.succeeded()
                    raise
                guard.failed(exc)
                time.sleep(guard.backoff)
                continue
            guard.succeeded()
            return

    def start_from_outbox(
        self,
        outbox_id: str,
        payload: Mapping[str, Any],
        acknowledge: Callable[[], None] | None = None,
    ) -> Future[str]:
        """Start a workflow that a durable outbox row asks for (cron and event triggers);
        the future gives the execution id once the start is stored, or the error."""
        future: Future[str] = Future()
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

    def _start_cron(self, outbox_id: str, payload: dict[str, Any]) -> None:
        self.start_from_outbox(outbox_id, payload)

    def _subworkflow_item(
        self, command: commands.StartSubworkflow, outbox_id: str | None
    ) -> StartItem:
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

    def _deliver_timer(self, timer_id: str, event: events.Event) -> None:
        self._queue.put(Envelope(event=event, timer_id=timer_id))


#: What Mistral writes as a sub-workflow execution's description.
SUBWORKFLOW_DESCRIPTION = "sub-workflow execution"


def _with_outbox(command: commands.RunAction, outbox_id: str | None) -> commands.RunAction:
    if outbox_id is None:
        return command
    import dataclasses

    execution = dict(command.execution)
    execution["outbox_id"] = outbox_id
    return dataclasses.replace(command, execution=execution)


def _log_change(execution_id: str, name: str, state: str, state_info: str | None) -> None:
    """One line per state change; a failure at WARNING with its reason, condensed (task
    names and messages, cut short, no HTTP response content)."""
    extra = {"workflow_execution_id": execution_id, "state": state}
    if state == State.ERROR:
        reason = reasons.one_line(state_info) or "no reason given"
        executions_log.warning(
            "workflow execution %s (%s) failed: %s", execution_id, name, reason, extra=extra
        )
    else:
        executions_log.info(
            "workflow execution %s (%s) is %s", execution_id, name, state, extra=extra
        )


def _redelivered(command: commands.RunAction) -> commands.RunAction:
    import dataclasses

    return dataclasses.replace(command, execution={**command.execution, "redelivered": True})


def _message(exc: BaseException) -> str:
    if isinstance(exc, errors.SiroccoError):
        return exc.message
    return f"{type(exc).__name__}: {exc}"
