"""Actions whose executor stopped sending heartbeats: failed, or offered again when safe.

Executors in their own processes hold each action they run on a lease that their
heartbeats renew (``sirocco.store.leases``). A lease that ran out means the executor
died, or lost the database for longer than the lease. Its action is then failed with
Mistral's message, or, when its task is ``safe-rerun`` (or the action has no side
effect), offered again to any executor, marked as redelivered.

A check looks again no later than the soonest lease ends (:meth:`HeartbeatChecker.next_check`),
so an executor that dies is noticed when its last lease runs out: within
``max_missed`` heartbeat intervals of its last heartbeat, not one interval later.

An action that no executor takes (none serves its target, or none runs) fails as in
Mistral, whose action execution starts with its last heartbeat ``first_heartbeat_timeout``
seconds in the future: once it has waited that long plus one lease
(:attr:`Timing.untaken_wait`), with Mistral's message alone (it never ran). An
asynchronous action waits for ever, as in Mistral: the queries leave it out
(``store.leases.untaken``). Only a process without an executor of its own looks for
these: in one that runs actions itself, a row not yet taken is one its own executor is
running or about to run.

After an outage of the database seen by this process (and at start) the check waits
one lease: executors that were cut off as well get the time to renew their leases
before their actions are taken from them.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sirocco.engine import commands, events
from sirocco.engine.states import State
from sirocco.runtime import codec, in_flight, result_routing
from sirocco.store import leases, notify
from sirocco.store.database import Database

log = logging.getLogger("sirocco.heartbeats")

#: Mistral's state_info for an action whose heartbeats stopped.
MISSED = "Heartbeat wasn't received."

#: What Sirocco adds to Mistral's message: why, and what ``safe-rerun`` would have done.
MISSED_EXPLANATION = (
    "Its executor stopped renewing the action's lease (it was killed, crashed or lost "
    "the database) before it reported a result, so whether the action took effect is "
    "unknown. Such an action runs again on another executor only if its task says "
    "'safe-rerun: true' (set it where running the action twice is harmless); otherwise "
    "check its effect and rerun the task."
)

#: The ``state_info`` of an action failed for missed heartbeats.
MISSED_MESSAGE = f"{MISSED} {MISSED_EXPLANATION}"

#: Seconds past a lease's end before the check looks (clocks of one machine, rounding).
MARGIN = timedelta(seconds=0.02)


@dataclass(frozen=True, slots=True, kw_only=True)
class Timing:
    """How often executors send heartbeats and how many may be missed."""

    interval: float = 5.0
    max_missed: int = 3
    first_timeout: float | None = None
    #: Seconds an action may wait for an executor to take it, beyond one lease (Mistral's
    #: ``first_heartbeat_timeout``); None: it waits for ever.
    untaken_timeout: float | None = None

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.interval * self.max_missed)

    @property
    def first_lease(self) -> timedelta:
        return timedelta(seconds=self.first_timeout) if self.first_timeout else self.lease

    @property
    def untaken_wait(self) -> timedelta | None:
        """How long after it was queued an action no executor took fails (None: never)."""
        if self.untaken_timeout is None:
            return None
        return timedelta(seconds=self.untaken_timeout) + self.lease


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """What one check did: results written (row id, event) and actions offered again."""

    failed: list[tuple[str, events.ActionCompleted]] = dataclasses.field(default_factory=list)
    offered: list[tuple[str, commands.RunAction]] = dataclasses.field(default_factory=list)
    #: Action executions failed because no executor took them in time.
    untaken: list[str] = dataclasses.field(default_factory=list)


class HeartbeatChecker:
    """Looks for expired leases and decides the fate of their actions."""

    def __init__(
        self,
        database: Database,
        clock: Callable[[], datetime],
        timing: Timing,
        *,
        new_id: Callable[[], str],
        keep_offered: bool = False,
        holder: str | None = None,
    ) -> None:
        """``keep_offered``: actions offered again are leased forever to this process
        (named ``holder``: it runs them itself) instead of being left free for executor
        processes."""
        self._database = database
        self._clock = clock
        self.timing = timing
        self._new_id = new_id
        self._keep_offered = keep_offered
        self._holder = holder
        #: Whether actions no executor took fail (not when this process runs them).
        self._untaken_wait = None if keep_offered else timing.untaken_wait
        self._ready_at = clock() + timing.lease
        self._after_outage = False
        #: When the soonest lease seen by the last check ends.
        self._soonest: datetime | None = None

    def outage(self) -> None:
        """This process could not reach the database: once it can again, give executors a
        lease to renew theirs before taking any action from them."""
        self._after_outage = True

    def next_check(self) -> datetime:
        """When to check next: one interval from now, or just after the soonest lease seen
        by the last check ends, whichever comes first (never before the start-up wait)."""
        now = self._clock()
        wake = now + timedelta(seconds=self.timing.interval)
        if now < self._ready_at:
            return min(wake, self._ready_at)
        if self._soonest is not None:
            wake = min(wake, self._soonest + MARGIN)
        return wake

    def check(self) -> Outcome:
        """Fail or offer again every action whose lease ran out."""
        now = self._clock()
        outcome = Outcome()
        if now < self._ready_at:
            return outcome
        with self._database.read() as connection:
            soonest = leases.earliest(connection)
            if self._untaken_wait is not None:
                queued = leases.oldest_untaken(connection)
                if queued is not None:
                    due = queued + self._untaken_wait
                    soonest = due if soonest is None else min(soonest, due)
        if self._after_outage:
            self._after_outage = False
            self._ready_at = now + self.timing.lease
            self._soonest = None
            return outcome
        self._soonest = soonest
        if soonest is None or soonest >= now:
            return outcome
        self._soonest = None  # some run out now: look again after one interval at most
        with self._database.transaction() as connection:
            rows = [(row, False) for row in leases.expired(connection, now=now)]
            if self._untaken_wait is not None:
                before = now - self._untaken_wait
                rows.extend((row, True) for row in leases.untaken(connection, before=before))
            for row, untaken in rows:
                command = codec.decode(row.payload)
                if not isinstance(command, commands.RunAction):
                    continue
                message = MISSED if untaken else MISSED_MESSAGE
                if not untaken and in_flight.runs_again(command):
                    again = dataclasses.replace(
                        command, execution={**command.execution, "redelivered": True}
                    )
                    leases.offer_again(
                        connection,
                        row.id,
                        codec.encode(again),
                        held=leases.FOREVER if self._keep_offered else None,
                        holder=self._holder,
                        now=now,
                    )
                    outcome.offered.append((row.id, again))
                else:
                    handed = result_routing.hand_back(
                        connection,
                        row.id,
                        command,
                        State.ERROR,
                        None,
                        message,
                        now=now,
                        new_id=self._new_id,
                    )
                    if handed is not None:
                        outcome.failed.append((handed.result_id, handed.event))
                if untaken:
                    outcome.untaken.append(command.action_execution_id)
            if outcome.offered and not self._keep_offered:
                notify.send(connection, notify.EXECUTOR)  # free again: wake the executors
        for row_id, command in outcome.offered:
            log.warning(
                "executor of action %s missed its heartbeats; running it again (safe-rerun)",
                command.action_execution_id,
                extra={"action_execution_id": command.action_execution_id, "outbox_id": row_id},
            )
        for action_execution_id in outcome.untaken:
            log.warning(
                "no executor took action %s in time; the action fails",
                action_execution_id,
                extra={"action_execution_id": action_execution_id},
            )
        for _, event in outcome.failed:
            if event.action_execution_id in outcome.untaken:
                continue
            log.warning(
                "executor of action %s missed its heartbeats; the action fails",
                event.action_execution_id,
                extra={"action_execution_id": event.action_execution_id},
            )
        return outcome
