"""After a commit: hand what a batch left to executors, the broker, the engine's queue
and the timer thread, and tell listeners which executions changed or ended.

RunAction commands go to this process's executor when it has one (marked as handed
first, so that recovery knows which actions may have run), else they are announced
to executor processes through the delivery port (``delivery.py``); a parcel the
broker refused is polled from the outbox. Sub-workflow starts and events for other
executions go back to the engine's queue.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

from sirocco.engine import commands, reasons
from sirocco.engine.states import State
from sirocco.runtime import delivery, in_flight
from sirocco.runtime.health import Guard, Health
from sirocco.runtime.intake import Intake
from sirocco.runtime.timers import TimerThread
from sirocco.runtime.work import Outgoing, StartRequest
from sirocco.store import outbox
from sirocco.store.database import Database

log = logging.getLogger("sirocco.runtime")
#: One line per change of an execution's state (``sirocco run`` prints them itself).
executions_log = logging.getLogger("sirocco.executions")

RunActionPort = Callable[[commands.RunAction], None]

#: Problems kept for the API (``Service`` reports a refused request from them).
PROBLEMS_KEPT = 1000


class Dispatcher:
    """Hands on what committed batches left; one per process, used by its engine thread
    (and by recovery and the heartbeat check, which dispatch what they take over)."""

    def __init__(
        self,
        database: Database,
        intake: Intake,
        timers: TimerThread,
        health: Health,
        clock: Callable[[], datetime],
        *,
        name: str,
        stopping: threading.Event,
    ) -> None:
        self.database = database
        self.intake = intake
        self.timers = timers
        self.health = health
        self.clock = clock
        self.name = name
        self.stopping = stopping
        #: Where RunAction commands go in this process (None: executor processes).
        self.run_action: RunActionPort | None = None
        #: How parcels reach other processes (None: everything runs in this one).
        self.delivery: delivery.Delivery | None = None
        self.listeners: list[Callable[[str, str], None]] = []
        #: The last problem the engine reported per execution (refused requests).
        self.problems: dict[str, str] = {}

    def announce(self, outgoing: Outgoing) -> None:
        """Tell the broker now of the RunAction rows ``outgoing`` left for executor
        processes (committed, perhaps not yet flushed: an executor leases a row through a
        durable commit, which flushes it first); ``dispatch`` then sends them no more."""
        if self.run_action is not None or self.delivery is None:
            return
        parcels = [
            _parcel(outbox_id, command)
            for outbox_id, command in outgoing.items
            if isinstance(command, commands.RunAction) and outbox_id is not None
        ]
        if parcels:
            self.delivery.send(parcels)  # a parcel the broker refused is polled from the outbox
        outgoing.announced = True

    def dispatch(self, outgoing: Outgoing) -> None:
        parcels: list[delivery.Parcel] = []
        handed: list[str] = []
        to_run: list[commands.RunAction] = []
        for outbox_id, command in outgoing.items:
            if isinstance(command, commands.RunAction):
                if self.run_action is None:
                    # Executors in other processes take it from the outbox; tell them. The
                    # parcel names the row without the command: the executor reads the
                    # command from the row it leases (so it is not encoded here, sent, and
                    # decoded there for nothing).
                    if (
                        outbox_id is not None
                        and self.delivery is not None
                        and not outgoing.announced
                    ):
                        parcels.append(_parcel(outbox_id, command))
                    continue
                if (
                    outbox_id is not None
                    and outbox_id not in outgoing.handed
                    and in_flight.needs_handing(command)
                ):
                    handed.append(outbox_id)
                to_run.append(command)
            elif isinstance(command, commands.StartSubworkflow):
                self.intake.put(StartRequest(self.intake.subworkflow_item(command, outbox_id)))
            elif isinstance(command, (commands.NotifyParent, commands.SendEvent)):
                self.intake.event(command.event, outbox_id=outbox_id)
        for outbox_id, event in outgoing.followups:
            self.intake.event(event, outbox_id=outbox_id)
        for timer_id, timer_event in outgoing.timers_now:
            self.intake.event(timer_event, timer_id=timer_id)
        if parcels and self.delivery is not None:
            self.delivery.send(parcels)  # a parcel the broker refused is polled from the outbox
        if handed:
            # Marked before they run: after a crash, these are the actions that may have run.
            self._mark_handed(handed)
        for command in to_run:
            if self.run_action is not None:
                self.run_action(command)
        if outgoing.timers_due:
            self.timers.wake(min(outgoing.timers_due))
        for execution_id, name, state, state_info in outgoing.changed:
            _log_change(execution_id, name, state, state_info)
        for execution_id, problem in outgoing.problems:
            self.problems[execution_id] = problem
            while len(self.problems) > PROBLEMS_KEPT:
                self.problems.pop(next(iter(self.problems)))
        for execution_id, state in outgoing.ended:
            for listener in self.listeners:
                listener(execution_id, state)
        if self.delivery is not None:
            cancelled = [id_ for id_, state in outgoing.ended if state == State.CANCELLED]
            if cancelled:
                self._tell_cancelled(cancelled)

    def _tell_cancelled(self, execution_ids: list[str]) -> None:
        """Tell executors in other processes to stop the actions of cancelled executions
        (best effort: a missed message is caught by their next heartbeat)."""
        assert self.delivery is not None
        try:
            self.delivery.cancel(execution_ids)
        except Exception as exc:
            log.warning(
                "could not tell executors about %d cancelled executions; their next heartbeat will",
                len(execution_ids),
                extra={"error": str(exc)},
            )

    def _mark_handed(self, handed: list[str]) -> None:
        Guard("engine-dispatch", self.health).outlast(
            lambda: outbox.hand(self.database, handed, holder=self.name, now=self.clock()),
            self.stopping,
        )


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


def _parcel(outbox_id: str, command: commands.RunAction) -> delivery.Parcel:
    return delivery.Parcel(
        kind=outbox.Kind.RUN_ACTION, outbox_id=outbox_id, payload={}, target=command.target
    )
