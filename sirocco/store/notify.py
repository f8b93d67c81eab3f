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

from sirocco.store.database import Database

log = logging.getLogger("sirocco.notify")

#: Work for engines (results, timers, cron starts) / for executors (actions).
ENGINE = "sirocco_engine"
EXECUTOR = "sirocco_executor"

_NOTIFY = sa.text("SELECT pg_notify(:channel, '')")


def send(connection: sa.Connection, channel: str) -> None:
    """Wake the listeners of ``channel`` when the caller's transaction commits."""
    if connection.dialect.name == "postgresql":
        connection.execute(_NOTIFY, {"channel": channel})


class Listener:
    """Waits for a notification on any of ``channels`` (or for the timeout)."""

    def __init__(self, database: Database, channels: Sequence[str]) -> None:
        self._channels = list(channels)
        self._conninfo: str | None = None
        if not database.is_sqlite and database.engine.dialect.name == "postgresql":
            url = database.engine.url.set(drivername="postgresql")
            self._conninfo = url.render_as_string(hide_password=False)
        self._connection: object | None = None
        self._idle = threading.Event()

    @property
    def listening(self) -> bool:
        """Whether notifications wake this listener (else it polls)."""
        return self._conninfo is not None

    def _connect(self) -> object:
        import psycopg

        connection = psycopg.connect(self._conninfo or "", autocommit=True, connect_timeout=5)
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

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.close()  # type: ignore[attr-defined]
            except Exception:  # a broken connection may fail to close; it is gone either way
                log.debug("closing the notification connection failed", exc_info=True)
