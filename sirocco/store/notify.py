"""PostgreSQL LISTEN/NOTIFY: a transaction that leaves work for another role wakes it.

``send`` queues a notification in the caller's transaction (PostgreSQL delivers it
at commit, never for a rolled-back transaction). A :class:`Listener` holds one
connection that LISTENs and wakes its thread as soon as a notification arrives;
on SQLite, or while its connection is lost, it just waits the timeout (polling).
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

_NOTIFY = sa.text("SELECT pg_notify(:channel, '')")
_NOTIFY_WITH = sa.text("SELECT pg_notify(:channel, :payload)")
#: PostgreSQL refuses payloads of 8,000 bytes or more: ids go by the hundred.
_IDS_PER_NOTIFY = 100


def send(connection: sa.Connection, channel: str) -> None:
    """Wake the listeners of ``channel`` when the caller's transaction commits."""
    if connection.dialect.name == "postgresql":
        connection.execute(_NOTIFY, {"channel": channel})


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
        self._conninfo = database.session_conninfo()
        self._connection: object | None = None
        self._idle = threading.Event()

    @property
    def listening(self) -> bool:
        """Whether notifications wake this listener (else it polls)."""
        return self._conninfo is not None

    def _connect(self) -> object:
        connection = connect_session(self._conninfo or "")
        for channel in self._channels:
            connection.execute(f'LISTEN "{channel}"')
        return connection

    def wait(self, timeout: float) -> bool:
        """Return once a notification came (True) or ``timeout`` seconds passed (False)."""
        if self._conninfo is None:
            self._idle.wait(timeout)
            return False
        try:
            if self._connection is None:
                self._connection = self._connect()
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
        if connection is not None:
            try:
                connection.close()  # type: ignore[attr-defined]
            except Exception:  # a broken connection may fail to close; it is gone either way
                log.debug("closing the notification connection failed", exc_info=True)
