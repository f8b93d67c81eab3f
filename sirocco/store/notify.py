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
_NOTIFY_OWNER = sa.text(
    f"WITH {OWNERS} SELECT pg_notify({owner_channel('CAST(:execution_id AS varchar)')}, '')"
)
_NOTIFY_WITH = sa.text("SELECT pg_notify(:channel, :payload)")
#: PostgreSQL refuses payloads of 8,000 bytes or more: ids go by the hundred.
_IDS_PER_NOTIFY = 100


def send(connection: sa.Connection, channel: str) -> None:
    """Wake the listeners of ``channel`` when the caller's transaction commits."""
    if connection.dialect.name == "postgresql":
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

    def __init__(self, database: Database, channels: Sequence[str]) -> None:
        self._channels = list(channels)
        #: The channels its connection LISTENs to (those it had when it connected, or
        #: when :meth:`follow` last moved it).
        self._heard: list[str] = []
        self._conninfo = database.session_conninfo()
        self._connection: object | None = None
        self._idle = threading.Event()

    def follow(self, channels: Sequence[str]) -> None:
        """Listen to ``channels`` from the next wait on (instead of those it had). A wait
        that starts listening to a channel returns at once, woken: what was sent there
        before it listened is for its caller to look for."""
        self._channels = list(channels)

    @property
    def listening(self) -> bool:
        """Whether notifications wake this listener (else it polls)."""
        return self._conninfo is not None

    def _connect(self) -> object:
        connection = connect_session(self._conninfo or "")
        self._heard = []
        self._listen(connection)
        return connection

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
                return True  # a channel heard from now: what came before, look for
            connection = self._connection
            woken = False
            for _ in connection.notifies(timeout=timeout, stop_after=1):  # type: ignore[attr-defined]
                woken = True
            return woken
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
        if connection is not None:
            try:
                connection.close()  # type: ignore[attr-defined]
            except Exception:  # a broken connection may fail to close; it is gone either way
                log.debug("closing the notification connection failed", exc_info=True)
