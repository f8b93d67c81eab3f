"""Which engines are live on one PostgreSQL database, and which share of the executions
each one takes the event rows of.

Each engine process holds a session advisory lock, ``(SLOT_CLASS, slot)``, on a
connection of its own for as long as it lives: the live engines are the granted locks
of that class in ``pg_locks`` (advisory locks belong to one database, so deployments on
other databases don't count), and a killed engine's lock goes with its connection, at
once. An engine's share is its place among the live slots: it takes the event rows of
the executions whose id hashes to that place (``outbox.Share``), so that the same engine
steps an execution from one event to the next and keeps its snapshot, instead of two
engines taking turns and each reading the execution's tasks and actions again.

The share is a preference, never a guarantee anyone relies on: while engines disagree
about who is live, or the owner is slow, the rows of an execution wait at most
``outbox.OWNER_GRACE`` before any engine takes them; two engines stepping one
execution is as safe as ever (the execution row is locked, the event rows deleted).
"""

from __future__ import annotations

import logging

import sqlalchemy as sa

from sirocco.store import notify, outbox
from sirocco.store.database import Database, connect_session

log = logging.getLogger("sirocco.store")

#: The first key of every engine's advisory lock ("eng" in ASCII); the second is its slot.
SLOT_CLASS = notify.ENGINE_SLOT_CLASS
#: Slots an engine tries, lowest first (more engines than this share nothing out).
SLOTS = 256

_LIVE = f"{notify.LIVE_ENGINES} ORDER BY objid"
_TRY = f"SELECT pg_try_advisory_lock({SLOT_CLASS}, %s::int4)"
_LIVE_STATEMENT = sa.text(_LIVE)


def live_slots(database: Database) -> list[int]:
    """The slots of the live engines, lowest first, for a process that sends engines
    their events (empty on SQLite); raises when the database can't be read."""
    if database.session_conninfo() is None:
        return []
    # The pool's own connections (a read writes nothing to flush): no pool of its own.
    with database.statement() as connection:
        return [int(found[0]) for found in connection.execute(_LIVE_STATEMENT)]


class Membership:
    """This engine's slot (held on a connection of its own) and its share of executions."""

    def __init__(self, database: Database) -> None:
        self._conninfo = database.session_conninfo()
        self._connection: object | None = None
        self.slot: int | None = None
        #: The live engines' slots at the last look (empty until one succeeds).
        self.live: list[int] = []

    def share(self) -> outbox.Share | None:
        """This engine's share among the live engines now (holding a slot first); None when
        it has none to keep to (SQLite, the only engine, no slot free, or the database is
        away: then it takes every row)."""
        if self._conninfo is None:
            return None
        try:
            if self._connection is None:
                self._connection = self._hold()
            if self.slot is None:
                return None
            live = self.live = [
                int(found[0])
                for found in self._connection.execute(_LIVE)  # type: ignore[attr-defined]
            ]
        except Exception as exc:  # the database is away: take every row until it is back
            # Said once per outage: while the database is away each look fails to connect.
            report = log.warning if self._connection is not None else log.debug
            report("engine slot lost; taking every execution's events",
                   extra={"error": str(exc)})  # fmt: skip
            self.close()
            return None
        if self.slot not in live or len(live) < 2:
            return None
        return outbox.Share(index=live.index(self.slot), count=len(live))

    def channels(self) -> list[str]:
        """The channels that wake this engine: every engine's, and its slot's (events of
        its share go there: ``notify.owner_channel``)."""
        if self.slot is None:
            return [notify.ENGINE]
        return [notify.ENGINE, notify.engine_channel(self.slot)]

    def _hold(self) -> object:
        connection = connect_session(self._conninfo or "")
        self.slot = None
        try:
            for slot in range(SLOTS):
                taken = connection.execute(_TRY, (slot,)).fetchone()
                if taken is not None and taken[0]:
                    self.slot = slot
                    break
        except BaseException:
            self.slot = None
            connection.close()  # with any slot it took: not left to the garbage collector
            raise
        return connection

    def close(self) -> None:
        """Give the slot up (its lock goes with the connection)."""
        connection, self._connection = self._connection, None
        self.slot = None
        if connection is not None:
            try:
                connection.close()  # type: ignore[attr-defined]
            except Exception:  # a broken connection may fail to close; it is gone either way
                log.debug("closing the engine slot's connection failed", exc_info=True)
