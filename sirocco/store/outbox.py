"""The outbox table: every command and event a transaction makes, until it is applied.

A row is written in the transaction that makes the command. It is claimed
before it is delivered: deleted at once (an executor taking a RunAction in the
database transport), marked ``HANDED`` (an action handed to an executor that
may run it), or leased until ``claimed_until`` (an event on its way to an
engine; the step that applies it deletes the row). A lease that runs out
because its process died is taken over by another process.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from sirocco import ids
from sirocco.store import executions, notify, tables
from sirocco.store.database import Database


class Kind(StrEnum):
    """The kinds of work that travel between roles (the ``kind`` column of a row)."""

    RUN_ACTION = "RunAction"
    ACTION_RESULT = "ActionResult"
    TIMER_EVENT = "TimerEvent"
    START_SUBWORKFLOW = "StartSubworkflow"
    NOTIFY_PARENT = "NotifyParent"
    SEND_EVENT = "SendEvent"
    CRON_START = "CronStart"
    EVENT_START = "EventStart"


#: Kinds an engine applies: events for executions and requests to start one.
ENGINE_KINDS: tuple[Kind, ...] = (
    Kind.SEND_EVENT,
    Kind.NOTIFY_PARENT,
    Kind.START_SUBWORKFLOW,
    Kind.CRON_START,
    Kind.EVENT_START,
    Kind.ACTION_RESULT,
    Kind.TIMER_EVENT,
)

#: Rows claimed per look at the outbox.
PAGE = 500
#: The claim length in seconds when the settings name none (``settings.claim_seconds``).
DEFAULT_CLAIM_SECONDS = 60.0
#: How long a process may keep an outbox row or a due timer it leased before another
#: takes it over (the one claim length; ``settings.claim_seconds`` sets it).
CLAIM_FOR = timedelta(seconds=DEFAULT_CLAIM_SECONDS)


def set_claim_duration(seconds: float) -> None:
    """How long this process's claims on event rows and timers last (a process that dies
    holds them that long). A shorter claim only risks a duplicate delivery, which the
    step that applies events drops (the row is gone)."""
    global CLAIM_FOR
    CLAIM_FOR = timedelta(seconds=seconds)


#: How long the event rows of an execution wait for the engine whose share it is before
#: any engine takes them (that engine may be slow, or the engines may disagree for a
#: moment about who is live: ``engine_slots``).
OWNER_GRACE = timedelta(seconds=2)


@dataclass(frozen=True, slots=True)
class Share:
    """The executions an engine takes the event rows of: those whose id hashes to
    ``index`` among ``count`` live engines (``engine_slots``)."""

    index: int
    count: int


#: ``claimed_until`` of a RunAction row once handed to an executor that may run it.
HANDED = datetime(9999, 12, 31)

_outbox = tables.outbox

_DELETE = (
    sa.delete(_outbox)
    .where(_outbox.c.id.in_(sa.bindparam("ids", expanding=True)))
    .returning(_outbox.c.id)
)
_INSERT = sa.insert(_outbox)
_HAND = (
    sa.update(_outbox)
    .where(_outbox.c.id.in_(sa.bindparam("ids", expanding=True)))
    .values(claimed_until=HANDED)
)


def row(
    *,
    id: str,
    kind: str,
    payload: Any,
    created_at: datetime,
    workflow_execution_id: str | None = None,
    claimed_until: datetime | None = None,
    target: str | None = None,
    holder: str | None = None,
) -> dict[str, Any]:
    """One outbox row as the insert statement takes it; ``holder``: the process that runs
    it, since ``created_at`` (a RunAction row written handed, ``claimed_until=HANDED``)."""
    return {
        "id": id,
        "workflow_execution_id": workflow_execution_id,
        "kind": str(kind),
        "payload": payload,
        "created_at": created_at,
        "claimed_until": claimed_until,
        "target": target,
        "holder": holder,
        "held_since": created_at if holder is not None else None,
    }


def insert(connection: sa.Connection, rows: Iterable[dict[str, Any]]) -> None:
    """Write rows (a chunk per ``executemany``)."""
    executions.execute_many(connection, _INSERT, rows)


def delete(connection: sa.Connection, ids: Sequence[str]) -> set[str]:
    """Delete rows by id; return the ids that were still there."""
    if not ids:
        return set()
    return set(connection.execute(_DELETE, {"ids": list(ids)}).scalars())


def hand(
    database: Database,
    ids: Sequence[str],
    *,
    holder: str | None = None,
    now: datetime | None = None,
) -> None:
    """Mark RunAction rows handed to an executor (after a crash: they may have run);
    ``holder``: the process that runs them, since ``now``."""
    with database.transaction() as connection:
        connection.execute(_HAND.values(holder=holder, held_since=now), {"ids": list(ids)})


def release(database: Database, ids: Sequence[str], *, channel: str) -> None:
    """Free leased rows for any poller now (the broker that was to deliver them failed)."""
    with database.transaction() as connection:
        connection.execute(
            sa.update(_outbox).where(_outbox.c.id.in_(list(ids))).values(claimed_until=None)
        )
        notify.send(connection, channel)


def remove(database: Database, ids: Sequence[str]) -> None:
    """Delete rows in a transaction of their own."""
    with database.transaction() as connection:
        delete(connection, ids)


def everything(database: Database) -> list[Any]:
    """Every row, oldest first (recovery after a crash)."""
    with database.read() as connection:
        return list(connection.execute(sa.select(_outbox).order_by(_outbox.c.created_at)))


def handed_payloads(database: Database, workflow_execution_ids: Collection[str]) -> list[Any]:
    """Payloads of the RunAction rows of these executions handed to an executor, oldest first."""
    with database.read() as connection:
        return list(
            connection.execute(
                sa.select(_outbox.c.payload)
                .where(
                    _outbox.c.kind == Kind.RUN_ACTION,
                    _outbox.c.claimed_until >= HANDED,
                    _outbox.c.workflow_execution_id.in_(list(workflow_execution_ids)),
                )
                .order_by(_outbox.c.created_at)
            ).scalars()
        )


def put(
    database: Database,
    kind: str,
    payload: dict[str, Any],
    *,
    now: datetime,
    workflow_execution_id: str | None = None,
    row_id: str | None = None,
    claimed_until: datetime | None = None,
    wake: str | None = None,
) -> str:
    """Add one row (in its own transaction) and return its id (``row_id`` if given).

    ``claimed_until``: pollers leave it alone until then (a broker delivers it);
    ``wake``: the channel to NOTIFY at commit (no broker; ``notify.ENGINE`` with an
    execution: the engine whose share it is).
    """
    row_id = row_id or ids.new_id()
    with database.transaction() as connection:
        connection.execute(
            _INSERT,
            [
                row(
                    id=row_id,
                    kind=kind,
                    payload=payload,
                    created_at=now,
                    workflow_execution_id=workflow_execution_id,
                    claimed_until=claimed_until,
                )
            ],
        )
        if wake == notify.ENGINE and workflow_execution_id is not None:
            notify.send_to_owner(connection, workflow_execution_id)  # its share's engine
        elif wake is not None:
            notify.send(connection, wake)
    return row_id


def claim(
    database: Database,
    kinds: Sequence[str],
    *,
    now: datetime,
    limit: int = PAGE,
    targets: Sequence[str | None] | None = None,
    take: bool = False,
    share: Share | None = None,
) -> list[Any]:
    """Claim up to ``limit`` unclaimed rows of ``kinds``, oldest first.

    With ``take`` the rows are deleted (handed over for good); otherwise they
    are leased for ``CLAIM_FOR``. ``targets`` restricts RunAction rows to those
    for one of the given targets (``None`` in it: rows for any executor).
    ``share`` (PostgreSQL): only the rows of the executions in this engine's share,
    of no execution, or older than ``OWNER_GRACE``.
    """
    if targets is None and not take and not database.is_sqlite:
        return _claim_events(database, kinds, now=now, limit=limit, share=share)
    free = sa.or_(_outbox.c.claimed_until.is_(None), _outbox.c.claimed_until < now)
    query = sa.select(_outbox).where(_outbox.c.kind.in_([str(kind) for kind in kinds]), free)
    if targets is not None:
        named = [target for target in targets if target is not None]
        choices = [_outbox.c.target.in_(named)] if named else []
        if None in targets:
            choices.append(_outbox.c.target.is_(None))
        query = query.where(sa.or_(*choices))
    if share is not None and share.count > 1 and not database.is_sqlite:
        query = query.where(
            sa.or_(
                _outbox.c.workflow_execution_id.is_(None),
                _outbox.c.created_at < now - OWNER_GRACE,
                _share_of(_outbox.c.workflow_execution_id, share.count) == share.index,
            )
        )
    query = query.order_by(_outbox.c.created_at).limit(limit)
    if not database.is_sqlite and not take:
        # One statement (one round trip) on PostgreSQL: lock, lease and return the rows.
        # The lease need not survive a database crash: a forgotten one only lets another
        # process deliver the row again, and the step that applies it drops the duplicate
        # (the row is gone). So its commit does not wait for the disk, and the statement
        # is its own transaction (no BEGIN and COMMIT round trips).
        chosen = query.with_only_columns(_outbox.c.id).with_for_update(skip_locked=True)
        with database.statement(durable=False) as connection:
            leased = connection.execute(
                sa.update(_outbox)
                .where(_outbox.c.id.in_(chosen.scalar_subquery()))
                .values(claimed_until=now + CLAIM_FOR)
                .returning(*_outbox.c)
            )
            return sorted(leased, key=_created)
    with database.read() as connection:
        if connection.execute(query.with_only_columns(_outbox.c.id)).first() is None:
            return []
    with database.transaction() as connection:
        if connection.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        rows = list(connection.execute(query))
        if not rows:
            return []
        ids = [found.id for found in rows]
        if take:
            connection.execute(sa.delete(_outbox).where(_outbox.c.id.in_(ids)))
        else:
            connection.execute(
                sa.update(_outbox)
                .where(_outbox.c.id.in_(ids))
                .values(claimed_until=now + CLAIM_FOR)
            )
    return rows


#: PostgreSQL: an engine's claim of event rows (its outbox poller, at every wake), built
#: once: lock, lease and return the rows in one statement, as :func:`claim` builds it,
#: without building, cache-keying and compiling a SQLAlchemy construct each time.
_CLAIM_CHOSEN = (
    "SELECT id FROM outbox WHERE kind = ANY(CAST(:kinds AS varchar[]))"
    " AND (claimed_until IS NULL OR claimed_until < :now)"
)
#: ... and only the rows of this engine's share (``_share_of``), of no execution, or
#: older than ``OWNER_GRACE``.
_CLAIM_SHARED = (
    " AND (workflow_execution_id IS NULL OR created_at < :grace"
    " OR mod(hashtext(workflow_execution_id) & 2147483647, :count) = :index)"
)
_CLAIM_ORDER = " ORDER BY created_at LIMIT :limit FOR UPDATE SKIP LOCKED"
_CLAIM_RETURNING = " RETURNING " + ", ".join(column.name for column in _outbox.c)
_CLAIM, _CLAIM_SHARE = (
    sa.text(
        f"UPDATE outbox SET claimed_until = :until WHERE id IN ({_CLAIM_CHOSEN}{shared}"
        f"{_CLAIM_ORDER}){_CLAIM_RETURNING}"
    )
    .bindparams(*(sa.bindparam(name, type_=sa.DateTime) for name in times))
    .columns(*_outbox.c)
    for shared, times in (("", ("now", "until")), (_CLAIM_SHARED, ("now", "until", "grace")))
)


def _claim_events(
    database: Database, kinds: Sequence[str], *, now: datetime, limit: int, share: Share | None
) -> list[Any]:
    """:func:`claim` of rows for any process on PostgreSQL: one statement built once. The
    lease need not survive a database crash (see :func:`claim`): its commit does not wait
    for the disk, and the statement is its own transaction."""
    values: dict[str, Any] = {
        "kinds": [str(kind) for kind in kinds],
        "now": now,
        "until": now + CLAIM_FOR,
        "limit": limit,
    }
    statement = _CLAIM
    if share is not None and share.count > 1:
        statement = _CLAIM_SHARE
        values.update(grace=now - OWNER_GRACE, count=share.count, index=share.index)
    with database.statement(durable=False) as connection:
        return sorted(connection.execute(statement, values), key=_created)


def _share_of(execution_id: Any, count: int) -> Any:
    """The share (0 to ``count`` - 1) an execution id falls in, computed by PostgreSQL
    (:func:`share_of` computes the same in Python)."""
    return sa.func.mod(sa.func.hashtext(execution_id).op("&")(0x7FFFFFFF), count)


def share_of(execution_id: str, count: int) -> int:
    """The share (0 to ``count`` - 1) an execution id falls in, as :func:`_share_of`
    computes it in SQL: a sender routes an execution's events to the engine that claims
    its rows (``transport``'s queue per engine slot)."""
    return (_hashtext(execution_id) & 0x7FFFFFFF) % count


_WORD = 0xFFFFFFFF


def _rotated(value: int, bits: int) -> int:
    return ((value << bits) | (value >> (32 - bits))) & _WORD


def _hashtext(text: str) -> int:
    """PostgreSQL's ``hashtext`` (its ``hash_any``, Bob Jenkins' lookup3 hash, as a
    little-endian machine computes it) of ``text`` in UTF-8, as a signed 32-bit int."""
    data = text.encode()
    a = b = c = (0x9E3779B9 + len(data) + 3923095) & _WORD
    end = len(data) - len(data) % 12
    for at in range(0, end, 12):
        a = (a + int.from_bytes(data[at : at + 4], "little")) & _WORD
        b = (b + int.from_bytes(data[at + 4 : at + 8], "little")) & _WORD
        c = (c + int.from_bytes(data[at + 8 : at + 12], "little")) & _WORD
        # mix(a, b, c)
        a = ((a - c) & _WORD) ^ _rotated(c, 4)
        c = (c + b) & _WORD
        b = ((b - a) & _WORD) ^ _rotated(a, 6)
        a = (a + c) & _WORD
        c = ((c - b) & _WORD) ^ _rotated(b, 8)
        b = (b + a) & _WORD
        a = ((a - c) & _WORD) ^ _rotated(c, 16)
        c = (c + b) & _WORD
        b = ((b - a) & _WORD) ^ _rotated(a, 19)
        a = (a + c) & _WORD
        c = ((c - b) & _WORD) ^ _rotated(b, 4)
        b = (b + a) & _WORD
    rest = data[end:]
    # The last 0-11 bytes: four to a, four to b, three to c above its lowest byte.
    a = (a + int.from_bytes(rest[0:4], "little")) & _WORD
    b = (b + int.from_bytes(rest[4:8], "little")) & _WORD
    c = (c + (int.from_bytes(rest[8:11], "little") << 8)) & _WORD
    # final(a, b, c)
    c = ((c ^ b) - _rotated(b, 14)) & _WORD
    a = ((a ^ c) - _rotated(c, 11)) & _WORD
    b = ((b ^ a) - _rotated(a, 25)) & _WORD
    c = ((c ^ b) - _rotated(b, 16)) & _WORD
    a = ((a ^ c) - _rotated(c, 4)) & _WORD
    b = ((b ^ a) - _rotated(a, 14)) & _WORD
    c = ((c ^ b) - _rotated(b, 24)) & _WORD
    return c - (1 << 32) if c & 0x80000000 else c


def _created(row: Any) -> Any:
    return (row.created_at, row.id)
