"""The engine loop: takes what is queued, applies it in one transaction, dispatches.

One engine thread does all steps of this process, so a snapshot is never
used by two threads. Everything queued at a moment (up to ``BATCH``) is
applied in one transaction (group commit); when that fails, the items are
retried one by one so that one bad item cannot hold up the others.
Requests that need an answer (start a workflow, wait until applied) travel
through the same queue with a future.

``Runtime`` puts the parts of one process together: the queue and the ways in to
it (``intake.py``), the step (``steps.py``), what happens after a commit
(``dispatch.py``), recovery at start (``recovery.py``) and the threads beside the
engine thread (``threads.py``, ``timers.py``, ``cron.py``).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from datetime import datetime
from typing import Any

from sirocco import clock, errors, ids
from sirocco.actions.registry import ActionRegistry
from sirocco.engine import commands, events
from sirocco.engine.states import State
from sirocco.limits import DEFAULT as DEFAULT_LIMITS
from sirocco.limits import Limits
from sirocco.runtime import delivery, maintenance, recovery, result_routing
from sirocco.runtime.cron import CronThread
from sirocco.runtime.dispatch import Dispatcher, RunActionPort
from sirocco.runtime.dynamic_actions import DynamicActions
from sirocco.runtime.fairness import RoundRobin
from sirocco.runtime.health import Guard, Health
from sirocco.runtime.heartbeats import HeartbeatChecker, Timing
from sirocco.runtime.intake import Intake
from sirocco.runtime.lookup import StoreLookup
from sirocco.runtime.specs import SpecCache
from sirocco.runtime.steps import Stepper
from sirocco.runtime.threads import HeartbeatWatch, OutboxPoller
from sirocco.runtime.timers import TimerThread
from sirocco.runtime.work import (
    BatchResult,
    Envelope,
    InlineRunner,
    Started,
    StartItem,
    StartRequest,
)
from sirocco.store import leases, notify, outbox
from sirocco.store.database import Database

log = logging.getLogger("sirocco.runtime")

BATCH = 512
#: Queued items the engine thread looks at to make a batch fair across executions.
LOOKAHEAD = 8 * BATCH


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
        self.intake = Intake(database)
        self._thread: threading.Thread | None = None
        self._poller: OutboxPoller | None = None
        self._stopping = threading.Event()
        #: Threads of this process and the failures they met (``/ready``).
        self.health = Health()
        self.health.probe("database", database.ping)
        self.health.condition("maintenance", maintenance.readiness(database))
        self.timers = TimerThread(database, self.intake.timer_event, clock, self.health)
        self.cron = CronThread(database, self.intake.start_from_outbox, clock, self.health)
        self._heartbeats: HeartbeatWatch | None = None
        #: How this process is named on the RunAction rows it runs itself (explain).
        self.name = leases.process_name("server")
        self.dispatcher = Dispatcher(
            database,
            self.intake,
            self.timers,
            self.health,
            clock,
            name=self.name,
            stopping=self._stopping,
        )
        #: The last problem the engine reported per execution (refused requests).
        self.problems = self.dispatcher.problems

    # ------------------------------------------------------------ wiring

    def attach_executor(
        self, run_action: RunActionPort | None, run_inline: InlineRunner | None = None
    ) -> None:
        """Where RunAction commands go (the executor pool, or a remote transport), and
        which cheap side-effect-free actions may run inside a step."""
        self.dispatcher.run_action = run_action
        self.stepper.holder = self.name if run_action is not None else None
        self.stepper.run_inline = run_inline

    def attach_delivery(self, parcels: delivery.Delivery) -> None:
        """Roles in separate processes: RunAction parcels go out through ``parcels`` after
        each commit, engine parcels come in through it (when ``poll_outbox`` runs), and
        the outbox poller waits on it instead of sleeping a fixed time."""
        self.dispatcher.delivery = parcels
        self.stepper.wake = notify.ONE_EXECUTOR

    def on_state(self, listener: Callable[[str, str], None]) -> None:
        """Call ``listener(execution_id, state)`` whenever a workflow ends."""
        self.dispatcher.listeners.append(listener)

    # ------------------------------------------------------------ intake

    def report(
        self, command: commands.RunAction, state: State, result: Any, message: str | None
    ) -> None:
        """The executor of this process finished ``command``: a task's action's result is
        queued for the engine, a standalone action's stored (``result_routing``)."""
        result_routing.report_here(
            self.database,
            self._queue_result,
            command,
            state,
            result,
            message,
            now=clock.utcnow,  # the clock that stamps standalone actions (the service's)
        )

    def _queue_result(self, event: events.ActionCompleted, outbox_id: str) -> None:
        # The step that applies the result deletes the RunAction row ``outbox_id``
        # (``pending.write``), and drops a result reported twice.
        self.intake.event(event, outbox_id=outbox_id)

    def request_start(self, item: StartItem) -> Future[Started]:
        """Queue a start; the future gives the execution id (and the record the start
        created) or the input error."""
        future: Future[Started] = Future()
        self.intake.put(StartRequest(item, future))
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
            checker = HeartbeatChecker(
                self.database,
                self.clock,
                heartbeats,
                new_id=ids.new_id,
                keep_offered=self.dispatcher.run_action is not None,
                holder=self.name,
            )
            self._heartbeats = HeartbeatWatch(
                checker, self.intake, self.dispatcher, self.health, self.clock
            )
        self._stopping.clear()
        if recover:
            # A role restarted while its database is away (or that loses it now) waits for
            # it here, as its threads do later, instead of ending its start with the error.
            Guard("recovery", self.health).outlast(
                lambda: self.recover(lost_actions=lost_actions), self._stopping
            )
        self._thread = threading.Thread(target=self._loop, name="sirocco-engine", daemon=True)
        self._thread.start()
        self.health.watch(self._thread)
        if timers:
            self.timers.start()
        if cron:
            self.cron.start()
        parcels = self.dispatcher.delivery
        if poll_outbox and parcels is not None:
            parcels.receive(delivery.ENGINE_QUEUE, self.intake.receive, prefetch=512)
        if poll_outbox:
            self._poller = OutboxPoller(
                self.database, self.intake, parcels, self.health, self.clock
            )
            self._poller.start()
        if self._heartbeats is not None:
            self._heartbeats.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the batch in hand and stop taking work."""
        self._stopping.set()
        self.intake.put(None)
        self.timers.stop()
        self.cron.stop()
        for worker in (self._poller, self._heartbeats):
            if worker is not None:
                worker.stop(timeout)
        self.health.forget(self._thread)
        if self._thread is not None:
            self._thread.join(timeout)
        if self._thread is None or not self._thread.is_alive():
            self.stepper.connection.close()
        self._poller = self._thread = None
        self.intake.refuse_waiting()

    def recover(self, *, lost_actions: bool = True) -> None:
        """Send again what was committed but not delivered before a crash (``recovery.py``).

        ``lost_actions``: the executor ran in this process too (see ``recovery.recover``).
        """
        recovery.recover(self.database, self.intake, self.dispatcher, lost_actions=lost_actions)

    # ------------------------------------------------------------ the loop

    def _loop(self) -> None:
        waiting = RoundRobin(BATCH)
        while not self._stopping.is_set():
            if not len(waiting):
                first = self.intake.get()
                if first is None:
                    break
                waiting.add(first)
            # Look further than one batch, so that the batch can be fair (fairness.py).
            while len(waiting) < LOOKAHEAD:
                try:
                    item = self.intake.get_nowait()
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

        attempts = 0

        def attempt() -> BatchResult:
            nonlocal attempts
            parcels = self.dispatcher.delivery
            if parcels is not None:
                # Without a broker, the commit wakes an executor (PostgreSQL NOTIFY); with
                # one, a batch of starts tells it before the commit's flush.
                brokered = parcels.brokered
                self.stepper.wake = None if brokered else notify.ONE_EXECUTOR
                self.stepper.announce = self.dispatcher.announce if brokered else None
            attempts += 1
            return self.stepper.run_batch(
                [request.item for request in starts], grouped, again=attempts > 1
            )

        return Guard("engine", self.health).outlast(attempt, self._stopping)

    def _one_by_one(self, starts: list[StartRequest], grouped: dict[str, list[Envelope]]) -> None:
        for request in starts:
            try:
                result = self.stepper.run_batch([request.item], {}, again=True)
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
            self.dispatcher.dispatch(result.outgoing)

    def _settle(self, starts: list[StartRequest], result: BatchResult) -> None:
        failed = {id(item): exc for item, exc in result.failed_starts}
        for request in starts:
            exc = failed.get(id(request.item))
            if exc is not None:
                self._start_failed(request, exc)
            elif request.future is not None:
                execution_id = request.item.execution_id
                request.future.set_result(Started(execution_id, result.created.get(execution_id)))
        self.dispatcher.dispatch(result.outgoing)

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
            self.dispatcher.dispatch(self.stepper.notify_parent(failed, item.outbox_id))
        elif item.outbox_id is not None:
            log.warning("scheduled start failed", extra={"error": _message(exc)})
            outbox.remove(self.database, [item.outbox_id])
        if request.future is not None:
            request.future.set_exception(exc)


def _message(exc: BaseException) -> str:
    if isinstance(exc, errors.SiroccoError):
        return exc.message
    return f"{type(exc).__name__}: {exc}"
