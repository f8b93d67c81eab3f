"""`sirocco executor`: leases RunAction rows, runs them, sends heartbeats, hands results back.

Its threads are each kept alive through database outages (``runtime.health.Guard``):

* the taker leases as many RunAction rows as there are free workers (woken by a
  NOTIFY, or polling);
* with a broker, the leaser leases the rows the broker announced: every
  announcement waiting, one per free worker, in one transaction;
* the heartbeat renews the leases of every action this process holds, so that an
  engine can tell a live executor from a dead one (``runtime.heartbeats``);
* the writer hands results back: each replaces its RunAction row by an ActionResult
  row in one transaction. A result that meets an outage waits in memory and is
  written once the database is back; its lease is renewed meanwhile.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sirocco.actions.registry import ActionRegistry
from sirocco.engine import commands
from sirocco.engine.states import State
from sirocco.executor.pool import ExecutorPool
from sirocco.runtime import codec, delivery, maintenance, metrics, result_routing
from sirocco.runtime.health import Guard, Health
from sirocco.runtime.heartbeats import Timing
from sirocco.store import leases, notify, outbox
from sirocco.store.database import Database

log = logging.getLogger("sirocco.executor")

POLL = 0.05
#: Results written per transaction.
WRITE_BATCH = 256


@dataclass(frozen=True, slots=True, kw_only=True)
class _Result:
    """An action's outcome on its way to the database (``state`` None: async action)."""

    row_id: str
    command: commands.RunAction
    state: State | None
    result: Any = None
    message: str | None = None
    #: When the lease this outcome was run under began (the row's ``held_since``).
    since: datetime | None = None


class ExecutorWorker:
    """An executor in its own process, serving ``target`` (or any action without one)."""

    def __init__(
        self,
        database: Database,
        registry: ActionRegistry,
        *,
        clock: Callable[[], datetime],
        target: str | None = None,
        workers: int = 32,
        timing: Timing | None = None,
        health: Health | None = None,
        parcels: delivery.Delivery | None = None,
    ) -> None:
        self._database = database
        #: How actions are announced and results sent (None: the database alone, polled).
        self._delivery = parcels
        self._clock = clock
        self._targets: list[str | None] = [None] if target is None else [None, target]
        self._workers = workers
        self._timing = timing or Timing()
        #: How this process is named on the rows it holds (explain, gauges).
        self.name = leases.process_name("executor")
        self.health = health or Health()
        self.health.probe("database", database.ping)
        self.health.condition("maintenance", maintenance.readiness(database))
        self._pool = ExecutorPool(registry, self._report, workers=workers)
        self._busy = threading.Semaphore(workers)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        #: Leased rows not yet handed back: row id -> when this executor's lease began
        #: (the row's ``held_since``; a row leased anew gets a new one).
        self._held: dict[str, datetime] = {}
        #: The leases (row id, start) of the results the writer is handing back.
        self._writing: set[tuple[str, datetime | None]] = set()
        self._held_lock = threading.Lock()
        self._results: queue.Queue[_Result] = queue.Queue()
        #: Announcements from the broker, each holding a free worker, waiting to be leased.
        self._announced: queue.Queue[delivery.Parcel] = queue.Queue()
        #: The row each running command came from (set before the pool runs it).
        self._rows = threading.local()
        #: Whether RunAction rows may be waiting for a worker (database path): only then
        #: does a hand-back lease the next rows for the workers its results freed, so that
        #: the hand-back of a lone action is not slowed by a lease that finds nothing.
        self._waiting = True
        #: Looks of the taker that found no free worker (see ``_looked``).
        self._missed = 0

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self._stop.clear()
        if self._delivery is not None:
            for served in self._targets:
                self._delivery.receive(
                    delivery.executor_queue(served), self.receive, prefetch=self._workers
                )
            self._delivery.on_cancel(self.cancel)
        loops = [
            ("executor-taker", self._take_loop),
            ("executor-heartbeat", self._heartbeat_loop),
            ("executor-writer", self._write_loop),
        ]
        if self._delivery is not None:
            loops.append(("executor-leaser", self._lease_loop))
        for name, target in loops:
            thread = threading.Thread(target=target, name=name, daemon=True)
            self._threads.append(thread)
            self.health.watch(thread)
            thread.start()

    def stop(self, timeout: float = 8.0) -> None:
        """Stop taking actions; let running ones finish and their results be written for up
        to ``timeout`` seconds. Actions still running then are left to their leases."""
        self._stop.set()
        self._announced.put(_STOP)  # the leaser leases nothing more (write() reserves none)
        taker = self._threads[0] if self._threads else None
        if taker is not None:
            self.health.forget(taker)
            taker.join(5)
        waited = threading.Thread(target=self._pool.shutdown, kwargs={"wait": True}, daemon=True)
        waited.start()
        waited.join(timeout / 2)
        self._results.put(_STOP)
        for thread in self._threads[1:]:
            self.health.forget(thread)
            thread.join(timeout / 2)
        self._threads = []

    def held(self) -> list[str]:
        """Ids of the rows this executor holds (running, or result not yet written)."""
        with self._held_lock:
            return list(self._held)

    # ------------------------------------------------------------ taking

    def _take_loop(self) -> None:
        guard = Guard("executor-taker", self.health)
        while not self._stop.is_set():
            woken = None
            if self._delivery is not None and not guard.in_outage:
                woken = self._delivery.wait(notify.EXECUTOR)
            elif self._stop.wait(POLL + guard.backoff):
                break
            if not self._stop.is_set():
                # Woken alone (on its slot's channel, notify.ONE_EXECUTOR): it passes the
                # wake on to every executor if it cannot take all there may be.
                chosen = woken is not None and woken != notify.EXECUTOR
                guard.call(functools.partial(self.take, chosen=chosen))

    def receive(self, parcel: delivery.Parcel) -> None:
        """A broker announced an action: once a worker is free, hand it to the leaser, which
        leases the rows of every announcement waiting in one transaction."""
        self._busy.acquire()  # back-pressure: the broker holds what no worker can take
        self._announced.put(parcel)

    def _lease_loop(self) -> None:
        guard = Guard("executor-leaser", self.health)
        while not self._stop.is_set():
            first = self._announced.get()  # stop() puts _STOP: no need to wake and look
            if first is _STOP:
                break
            batch = [first]
            while True:
                try:
                    parcel = self._announced.get_nowait()
                except queue.Empty:
                    break
                if parcel is _STOP:
                    self._announced.put(_STOP)  # after this batch
                    break
                batch.append(parcel)
            if not guard.call(functools.partial(self.lease, batch)):
                # The database is away: the rows stay free in the outbox, where the taker
                # finds them once it is back. The broker may forget the announcements. (The
                # lease commits as its statement runs: if the connection broke while its rows
                # came back, they stay leased, unrun, and the heartbeat check treats them as
                # it treats an executor that died holding them.)
                for parcel in batch:
                    parcel.acknowledge()
                    self._busy.release()
                self._stop.wait(guard.backoff)

    def lease(self, parcels: list[delivery.Parcel]) -> int:
        """Lease the rows of ``parcels`` in one transaction and start their actions; every
        announcement is acknowledged once the leases are committed. Returns how many ran."""
        now = self._clock()
        with self._database.statement() as connection:  # one statement: one round trip
            rows = leases.take_many(
                connection,
                [parcel.outbox_id for parcel in parcels],
                until=now + self._timing.first_lease,
                holder=self.name,
                now=now,
            )
        redelivered = {parcel.outbox_id for parcel in parcels if parcel.redelivered}
        for parcel in parcels:
            parcel.acknowledge()
        for _ in range(len(parcels) - len(rows)):
            self._busy.release()  # taken by another executor, or done already
        for row in rows:
            command = codec.decode(row.payload)
            if row.id in redelivered:
                # Its first receiver died before leasing it, so it never ran (the lease says so).
                command = dataclasses.replace(
                    command, execution={**command.execution, "redelivered": True}
                )
            with self._held_lock:
                self._held[row.id] = now
            self._pool.spawn(_Job(self, row.id, command, row.created_at, now))
        return len(rows)

    def take(self, *, chosen: bool = False) -> int:
        """Lease as many RunAction rows as there are free workers and start them.

        ``chosen``: this executor alone was woken for the rows (``notify.ONE_EXECUTOR``);
        if it has no free worker, or fills every one it has, more rows may wait than it
        takes: it wakes every executor for them."""
        missed = self._missed
        reserved = self._reserve()
        if reserved == 0:
            with self._held_lock:
                self._missed += 1  # rows may wait for a worker: the next hand-back looks
                self._waiting = True
            if chosen:
                self._pass_on()
            return 0
        rows: list[Any] = []  # once committed
        now = self._clock()
        try:
            with self._database.statement() as connection:  # one statement: one round trip
                taken = self._lease_free(connection, reserved, now)
            rows = taken
        finally:
            self._unreserve(reserved - len(rows))
        self._looked(missed, reserved, len(rows))
        self._start(rows, now)
        if chosen and len(rows) >= reserved:
            self._pass_on()
        return len(rows)

    def _pass_on(self) -> None:
        """Wake every executor: rows this one was woken for may wait for a free worker."""
        with self._database.transaction() as connection:
            notify.send(connection, notify.EXECUTOR)

    def _looked(self, missed: int, reserved: int, leased: int) -> None:
        """After a lease of ``leased`` rows for ``reserved`` free workers (begun when
        ``_missed`` was ``missed``): more rows may be waiting if it filled every worker it
        had, or if meanwhile a look found rows possibly waiting and no worker free."""
        with self._held_lock:
            if leased >= reserved:
                self._waiting = True
            elif self._missed == missed:
                self._waiting = False

    def _reserve(self) -> int:
        """Reserve every free worker (so that two threads never lease for the same one)."""
        count = 0
        while count < self._workers and self._busy.acquire(blocking=False):
            count += 1
        return count

    def _unreserve(self, count: int) -> None:
        for _ in range(count):
            self._busy.release()

    def _lease_free(self, connection: Any, reserved: int, now: datetime) -> list[Any]:
        """Lease up to ``reserved`` RunAction rows no executor holds, in ``connection``'s
        transaction; the rows leased (start them once it committed)."""
        return leases.take(
            connection,
            limit=reserved,
            targets=self._targets,
            until=now + self._timing.first_lease,
            holder=self.name,
            now=now,
        )

    def _start(self, rows: list[Any], since: datetime) -> None:
        """Run rows leased at ``since``, each on a worker reserved for it."""
        for row in rows:
            command = codec.decode(row.payload)
            with self._held_lock:
                self._held[row.id] = since
            self._pool.spawn(_Job(self, row.id, command, row.created_at, since))

    def _run(
        self, row_id: str, command: commands.RunAction, written: datetime, since: datetime
    ) -> None:
        metrics.METRICS.handed_off((self._clock() - written).total_seconds())
        self._rows.row_id = row_id
        self._rows.since = since
        self._rows.freed = False
        try:
            if not self._pool.run(command):
                self._hand_over(_Result(row_id=row_id, command=command, state=None, since=since))
        finally:
            self._rows.row_id = None
            self._rows.since = None
            if not self._rows.freed:
                self._busy.release()

    def _report(
        self, command: commands.RunAction, state: State, result: Any, message: str | None
    ) -> None:
        row_id = getattr(self._rows, "row_id", None) or command.action_execution_id
        since = getattr(self._rows, "since", None)
        self._hand_over(
            _Result(
                row_id=row_id,
                command=command,
                state=state,
                result=result,
                message=message,
                since=since,
            )
        )

    def _hand_over(self, item: _Result) -> None:
        """Queue an outcome for the writer, its worker counted free first: on the database
        path the writer leases the next rows for the free workers in the transaction that
        hands the results back."""
        if getattr(self._rows, "freed", True) is False:
            self._rows.freed = True
            self._busy.release()
        self._results.put(item)

    # ------------------------------------------------------------ heartbeats

    def _heartbeat_loop(self) -> None:
        guard = Guard("executor-heartbeat", self.health)
        interval = self._timing.interval
        while not self._stop.wait(min(guard.backoff, interval) if guard.in_outage else interval):
            guard.call(self.beat)

    def cancel(self, workflow_execution_ids: list[str]) -> int:
        """These workflow executions were cancelled: their running actions are told (one
        that waits stops and reports CANCELLED); returns how many were told."""
        told = self._pool.cancel(workflow_execution_ids)
        if told:
            log.info("%d running actions told that their execution was cancelled", told)
        return told

    def beat(self) -> int:
        """Renew the lease of every row this executor holds, and tell the actions of
        executions cancelled meanwhile (a missed message); returns how many were renewed.

        A lease not renewed was either ended here (the writer handed its row back
        meanwhile, or holds it locked to do so) or taken over: the heartbeat check found
        it expired (this process was stopped, starved of CPU or cut off for longer than
        the lease) and failed the action or offered it again. Only the leases taken over
        are counted and forgotten (no later heartbeat renews them; the action's result,
        when it comes, is dropped by the hand-back)."""
        with self._held_lock:
            held = dict(self._held)
        if not held:
            return 0
        serving = self._pool.running_in()
        with self._database.transaction() as connection:
            renewed = leases.renew(
                connection, held, holder=self.name, until=self._clock() + self._timing.lease
            )
            missing = [row_id for row_id in held if row_id not in renewed]
            # Rows skipped as locked, or gone: whose lease is each now (what is committed).
            now_held = leases.holders(connection, missing) if missing else {}
            stopped = leases.cancelled(connection, serving) if serving else set()
        if stopped:
            self.cancel(sorted(stopped))
        lost = []
        with self._held_lock:
            for row_id in missing:
                since = held[row_id]
                if self._held.get(row_id) != since or (row_id, since) in self._writing:
                    continue  # handed back here, or being handed back
                if now_held.get(row_id) == (self.name, since):
                    continue  # locked by another transaction, still ours: renewed next time
                del self._held[row_id]
                lost.append(row_id)
        if lost:
            log.warning(
                "%d of %d actions held here were taken over (their heartbeats were missed: "
                "this process was stopped, starved of CPU or cut off from the database); "
                "their results will be dropped: %s",
                len(lost),
                len(held),
                ", ".join(sorted(lost)[:20]),
            )
        return len(renewed)

    # ------------------------------------------------------------ results

    def _write_loop(self) -> None:
        guard = Guard("executor-writer", self.health)
        pending: list[_Result] = []
        stopping = False
        while not (stopping and not pending):
            if not pending:
                item = self._results.get()
                if item is _STOP:
                    stopping = True
                    continue
                pending.append(item)
            while len(pending) < WRITE_BATCH:
                try:
                    item = self._results.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stopping = True
                    break
                pending.append(item)
            if guard.call(functools.partial(self.write, pending)):
                pending = []
            elif stopping:
                log.warning("%d results not written before stopping", len(pending))
                return
            else:
                self._stop.wait(guard.backoff)

    def write(self, results: list[_Result]) -> None:
        """Hand results back in one transaction (all, or none on error), then announce them
        to the engines (through the broker, else by a NOTIFY in that transaction).

        Only a result of a lease this executor still holds is handed back: one whose
        lease was taken over (the row since leased anew, here or elsewhere) is dropped,
        here if this executor knows it, else by the hand-back's statement."""
        with self._held_lock:
            # An outcome reported off its worker's thread names no lease: the row's current.
            results = [
                item if item.since is not None
                else dataclasses.replace(item, since=self._held.get(item.row_id))
                for item in results
            ]  # fmt: skip
            current = [
                item
                for item in results
                if item.row_id in self._held and self._held[item.row_id] == item.since
            ]
            writing = {(item.row_id, item.since) for item in current}
            self._writing |= writing
        if len(current) < len(results):
            kept = {id(item) for item in current}
            stale = sorted({item.row_id for item in results if id(item) not in kept})
            log.warning(
                "%d results dropped: the leases of their actions were taken over: %s",
                len(results) - len(current),
                ", ".join(stale[:20]),
            )
        if not current:
            return
        try:
            self._write(current)
        finally:
            with self._held_lock:
                self._writing -= writing

    def _write(self, results: list[_Result]) -> None:
        now = self._clock()
        brokered = self._delivery is not None and self._delivery.brokered
        leased = now + outbox.CLAIM_FOR if brokered else None
        parcels: list[delivery.Parcel] = []
        # Without a broker, the workers these results freed get their next rows in the same
        # transaction: one commit for both, and no wait for the engine's next NOTIFY.
        missed = self._missed
        looking = not (brokered or self._stop.is_set()) and self._waiting
        reserved = self._reserve() if looking else 0
        rows: list[Any] = []  # once committed
        taken: list[Any] = []
        try:
            with self._database.transaction() as connection:
                # Without a broker, each result's statement wakes the engines at commit.
                announce = None if brokered else notify.ENGINE
                outcomes = []
                if _mixed(results):  # several statements: every row locked in id order first
                    leases.lock_in_order(connection, [item.row_id for item in results])
                for item in sorted(results, key=_row_id):  # one lock order for every writer
                    if item.state is None:  # result through the API
                        leases.hold_forever(
                            connection, item.row_id, held_by=self.name, held_since=item.since
                        )
                    else:
                        outcomes.append(_outcome(item))
                # Unless next rows are leased after it, the hand-back commits as it runs;
                # with a broker, before its flush: the engines are told, then it is waited
                # for (whoever the broker wakes acts through durable commits of its own).
                handed = result_routing.hand_back_many(
                    connection, outcomes, now=now, claimed_until=leased, announce=announce,
                    last=not reserved, unflushed=brokered, held_by=self.name,
                )  # fmt: skip
                parcels = [one.parcel() for one in handed if one is not None]
                if reserved:
                    taken = self._lease_free(connection, reserved, now)
                if parcels and brokered:
                    self._send(parcels)
                if outcomes and brokered and not reserved:
                    # The statement committed before its flush (even when every row was
                    # gone, and with it this transaction's other writes, such as an
                    # asynchronous action's lease held for ever): the results are
                    # forgotten only once on disk, waited for on this connection. A
                    # database crash before that fails this write, and they are handed
                    # back again (a row already replaced gets no second result; a parcel
                    # for a row the crash forgot is dropped by the engine).
                    self._database.wait_for_disk(connection)
            rows = taken
        finally:
            self._unreserve(reserved - len(rows))
        if reserved:
            self._looked(missed, reserved, len(rows))
        self._start(rows, now)
        with self._held_lock:
            for item in results:
                if item.row_id in self._held and self._held[item.row_id] == item.since:
                    del self._held[item.row_id]

    def _send(self, parcels: list[delivery.Parcel]) -> None:
        """Announce handed-back results to the engines through the broker; those it refuses
        are left to the engines' pollers."""
        if self._delivery is None:
            return
        left = self._delivery.send(parcels)
        if left:
            outbox.release(
                self._database, [parcel.outbox_id for parcel in left], channel=notify.ENGINE
            )


class _Job:
    """One leased action on its way to a pool thread."""

    def __init__(
        self,
        worker: ExecutorWorker,
        row_id: str,
        command: commands.RunAction,
        written: datetime,
        since: datetime,
    ) -> None:
        self._worker = worker
        self._row_id = row_id
        self._command = command
        #: When the engine wrote the command (its outbox row): the hand-off starts there.
        self._written = written
        #: When the lease it runs under began.
        self._since = since

    def __call__(self) -> None:
        self._worker._run(self._row_id, self._command, self._written, self._since)


def _row_id(item: _Result) -> str:
    return item.row_id


def _mixed(results: list[_Result]) -> bool:
    """Whether handing back ``results`` takes more than the task rows' one statement: an
    asynchronous action's row is held, or a standalone action's row deleted, beside
    other rows."""
    return len(results) > 1 and any(
        item.state is None or result_routing.is_standalone(item.command) for item in results
    )


def _outcome(item: _Result) -> result_routing.Outcome:
    assert item.state is not None
    return result_routing.Outcome(
        row_id=item.row_id,
        command=item.command,
        state=item.state,
        result=item.result,
        message=item.message,
        held_since=item.since,
    )


_STOP: Any = object()
