"""PostgreSQL LISTEN/NOTIFY: a transaction that leaves work for another role wakes it.

``send`` queues a notification in the caller's transaction (PostgreSQL delivers it
at commit, never for a rolled-back transaction). A :class:`Listener` holds one
connection that LISTENs and wakes its thread as soon as a notification arrives;
on SQLite, or while its connection is lost, it just waits the timeout (polling).

Engines hold slots (``engine_slots``) and each takes the events of its share of the
executions; an event for an execution wakes only the engine whose share it is, on the
channel of its slot (:func:`engine_channel`): the sender's statement finds that engine
among the live slots when it runs (:func:`owner_channel`), so a share that moves (an
engine gone, or one more) wakes its new owner from the next event on. Events of no
execution, and those sent while no engine holds a slot, go to :data:`ENGINE`, which
every engine hears.

Executors hold slots too, each on its listening connection (a slot lives as long as what
hears it). A step that leaves actions for any executor wakes one of them, chosen at
random among the live slots by its statement (:data:`ONE_EXECUTOR`), not every one; an
executor woken so that finds no free worker, or fills every free one, passes the wake on
to :data:`EXECUTOR`, which every executor hears.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

import sqlalchemy as sa

from sirocco.store.database import Database, connect_session

log = logging.getLogger("sirocco.notify")

#: Work for engines (results, timers, cron starts) / for executors (actions).
ENGINE = "sirocco_engine"
EXECUTOR = "sirocco_executor"
#: Workflow executions cancelled (the payload: their ids, comma-separated).
CANCEL = "sirocco_cancel"

#: The first key of every engine's advisory lock ("eng" in ASCII; ``engine_slots``).
ENGINE_SLOT_CLASS = 0x656E67
#: The slots engines hold on this database now, lowest first (as ``objid``).
LIVE_ENGINES = (
    f"SELECT objid FROM pg_locks WHERE locktype = 'advisory' AND classid = {ENGINE_SLOT_CLASS}"
    " AND objsubid = 2 AND granted"
    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)
#: A CTE, ``owners``: the channel of each live engine's slot, its place among them and
#: how many there are (read from ``pg_locks`` once per statement).
OWNERS = (
    f"owners AS MATERIALIZED (SELECT '{ENGINE}_' || objid AS channel,"
    " row_number() OVER (ORDER BY objid) - 1 AS place, count(*) OVER () AS engines"
    f" FROM ({LIVE_ENGINES}) AS live)"
)


#: The first key of every executor's advisory lock ("exe" in ASCII); the second is its slot.
EXECUTOR_SLOT_CLASS = 0x657865
#: Slots a listener tries, lowest first (more listeners than this hold none: every one is
#: still woken on the channel all hear).
SLOTS = 256
#: Not a channel: told it, a statement wakes one executor serving any target, chosen at
#: random among the live ones (:data:`EXECUTOR` while none holds a slot).
ONE_EXECUTOR = "sirocco_executor_one"
#: SQL: the channel :data:`ONE_EXECUTOR` stands for, chosen as the statement runs.
ONE_EXECUTOR_SQL = (
    f"COALESCE((SELECT '{EXECUTOR}_' || objid FROM pg_locks WHERE locktype = 'advisory'"
    f" AND classid = {EXECUTOR_SLOT_CLASS} AND objsubid = 2 AND granted"
    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    f" ORDER BY random() LIMIT 1), '{EXECUTOR}')"
)
#: The channels whose listeners hold a slot of a class, and hear that slot's channel too.
SLOTTED = {EXECUTOR: EXECUTOR_SLOT_CLASS}


def executor_channel(slot: int) -> str:
    """The channel that wakes the executor holding ``slot``."""
    return f"{EXECUTOR}_{slot}"


def engine_channel(slot: int) -> str:
    """The channel that wakes the engine holding ``slot``."""
    return f"{ENGINE}_{slot}"


def owner_channel(execution_id: str) -> str:
    """SQL: the channel of the engine whose share the execution ``execution_id`` (an SQL
    expression) is, in a statement that has the :data:`OWNERS` CTE; :data:`ENGINE` when
    no engine holds a slot or the id is NULL. The share is ``outbox.claim``'s: the
    execution id's ``hashtext`` modulo the live engines, as their place."""
    return (
        f"COALESCE((SELECT owners.channel FROM owners WHERE owners.place ="
        f" mod(hashtext({execution_id}) & 2147483647, owners.engines)), '{ENGINE}')"
    )


_NOTIFY = sa.text("SELECT pg_notify(:channel, '')")
_NOTIFY_ONE_EXECUTOR = sa.text(f"SELECT pg_notify({ONE_EXECUTOR_SQL}, '')")
_TRY_SLOT = "SELECT pg_try_advisory_lock(%s::int4, %s::int4)"
_NOTIFY_OWNER = sa.text(
    f"WITH {OWNERS} SELECT pg_notify({owner_channel('CAST(:execution_id AS varchar)')}, '')"
)
_NOTIFY_WITH = sa.text("SELECT pg_notify(:channel, :payload)")
#: PostgreSQL refuses payloads of 8,000 bytes or more: ids go by the hundred.
_IDS_PER_NOTIFY = 100


def send(connection: sa.Connection, channel: str) -> None:
    """Wake the listeners of ``channel`` when the caller's transaction commits."""
    if connection.dialect.name != "postgresql":
        return
    if channel == ONE_EXECUTOR:
        connection.execute(_NOTIFY_ONE_EXECUTOR)
    else:
        connection.execute(_NOTIFY, {"channel": channel})


def send_to_owner(connection: sa.Connection, execution_id: str | None) -> None:
    """Wake the engine whose share ``execution_id`` is (every engine for None) when the
    caller's transaction commits."""
    if connection.dialect.name == "postgresql":
        connection.execute(_NOTIFY_OWNER, {"execution_id": execution_id})


def send_ids(database: Database, channel: str, ids: Sequence[str]) -> None:
    """Tell the listeners of ``channel`` these ids (in a transaction of its own; nothing on
    SQLite, which has no notifications)."""
    if database.is_sqlite or not ids:
        return
    with database.transaction() as connection:
        for start in range(0, len(ids), _IDS_PER_NOTIFY):
            payload = ",".join(ids[start : start + _IDS_PER_NOTIFY])
            connection.execute(_NOTIFY_WITH, {"channel": channel, "payload": payload})


class Listener:
    """Waits for a notification on any of ``channels`` (or for the timeout)."""

    def __init__(
        self, database: Database, channels: Sequence[str], *, slot_class: int | None = None
    ) -> None:
        """``slot_class``: on its connection the listener holds the lowest free slot of that
        class (an advisory lock, gone with the connection) and hears the slot's channel
        too, ``<first channel>_<slot>``, from before the slot is held."""
        self._channels = list(channels)
        self._slot_class = slot_class
        #: The slot held on the connection (None: none, or no connection).
        self.slot: int | None = None
        #: The channel of the last wait's first notification (None: it timed out).
        self.woken_on: str | None = None
        #: The channels its connection LISTENs to (those it had when it connected, or
        #: when :meth:`follow` last moved it).
        self._heard: list[str] = []
        self._conninfo = database.session_conninfo()
        self._connection: object | None = None
        self._idle = threading.Event()

    def follow(self, channels: Sequence[str]) -> None:
        """Listen to ``channels`` from the next wait on (instead of those it had; with its
        slot's). A wait that starts listening to a channel returns at once, woken: what was
        sent there before it listened is for its caller to look for."""
        if self._slot_class is not None and self.slot is not None:
            channels = [*channels, f"{channels[0]}_{self.slot}"]
        self._channels = list(channels)

    @property
    def listening(self) -> bool:
        """Whether notifications wake this listener (else it polls)."""
        return self._conninfo is not None

    def _connect(self) -> object:
        connection = connect_session(self._conninfo or "")
        self._heard = []
        self.slot = None
        try:
            self._listen(connection)
            if self._slot_class is not None:
                self._hold(connection, self._slot_class)
        except BaseException:
            connection.close()  # with any slot it took: not left to the garbage collector
            raise
        return connection

    def _hold(self, connection: object, slot_class: int) -> None:
        """Hold the lowest free slot of ``slot_class``, hearing its channel first."""
        for slot in range(SLOTS):
            channel = f"{self._channels[0]}_{slot}"
            connection.execute(f'LISTEN "{channel}"')  # type: ignore[attr-defined]
            found = connection.execute(_TRY_SLOT, (slot_class, slot))  # type: ignore[attr-defined]
            taken = found.fetchone()
            if taken is not None and taken[0]:
                self.slot = slot
                self._channels = [*self._channels, channel]
                self._heard = [*self._heard, channel]
                return
            connection.execute(f'UNLISTEN "{channel}"')  # type: ignore[attr-defined]

    def _listen(self, connection: object) -> bool:
        """Make ``connection`` listen to the channels wanted now; whether it took a new one."""
        wanted = self._channels
        for channel in self._heard:
            if channel not in wanted:
                connection.execute(f'UNLISTEN "{channel}"')  # type: ignore[attr-defined]
        new = [channel for channel in wanted if channel not in self._heard]
        for channel in new:
            connection.execute(f'LISTEN "{channel}"')  # type: ignore[attr-defined]
        self._heard = list(wanted)
        return bool(new)

    def wait(self, timeout: float) -> bool:
        """Return once a notification came (True) or ``timeout`` seconds passed (False)."""
        if self._conninfo is None:
            self._idle.wait(timeout)
            return False
        try:
            if self._connection is None:
                self._connection = self._connect()
            elif self._heard != self._channels and self._listen(self._connection):
                self.woken_on = None
                return True  # a channel heard from now: what came before, look for
            connection = self._connection
            self.woken_on = None
            for item in connection.notifies(timeout=timeout, stop_after=1):  # type: ignore[attr-defined]
                self.woken_on = str(item.channel)
            return self.woken_on is not None
        except Exception as exc:  # lost connection: poll until it can be made again
            log.warning("notification connection lost; polling", extra={"error": str(exc)})
            self.close()
            self._idle.wait(min(timeout, 1.0))
            return False

    def receive_ids(self, timeout: float) -> list[str]:
        """The ids notifications carried within ``timeout`` seconds (see :func:`send_ids`);
        an empty list when none came."""
        if self._conninfo is None:
            self._idle.wait(timeout)
            return []
        try:
            if self._connection is None:
                self._connection = self._connect()
            connection = self._connection
            ids: list[str] = []
            for item in connection.notifies(timeout=timeout, stop_after=1):  # type: ignore[attr-defined]
                ids.extend(part for part in str(item.payload).split(",") if part)
            return ids
        except Exception as exc:  # lost connection: try again later
            log.warning("notification connection lost", extra={"error": str(exc)})
            self.close()
            self._idle.wait(min(timeout, 1.0))
            return []

    def close(self) -> None:
        connection, self._connection = self._connection, None
        self._heard = []
        if self.slot is not None:  # its channel goes with it: a new slot comes with a new one
            slotted = f"{self._channels[0]}_{self.slot}"
            self._channels = [channel for channel in self._channels if channel != slotted]
            self.slot = None
        if connection is not None:
            try:
                connection.close()  # type: ignore[attr-defined]
            except Exception:  # a broken connection may fail to close; it is gone either way
                log.debug("closing the notification connection failed", exc_info=True)
