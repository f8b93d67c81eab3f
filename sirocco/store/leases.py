"""RunAction rows held by executors in other processes: taken on a lease, kept alive by
heartbeats, handed back as a result, and found once their executor stopped renewing them.

An executor takes a RunAction row by setting ``claimed_until`` (its lease) and leaves the
row in place while the action runs; every heartbeat pushes the lease further. Its
result replaces the row in one transaction (the RunAction row is deleted, an
ActionResult row inserted), so at any moment the work is in exactly one row. A row
whose lease ran out belongs to an executor that died (or lost the database for longer
than its lease): :func:`expired` finds it, and the caller fails it or offers it again.

The row also names its ``holder`` (the executor process, :func:`process_name`) and
``held_since``, so that an operator is told which process runs an action and since
when, and which one stopped sending heartbeats.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from sirocco.store import notify, one_statement, outbox, tables

RUN_ACTION = outbox.Kind.RUN_ACTION
ACTION_RESULT = outbox.Kind.ACTION_RESULT
#: A lease that never runs out: the action is asynchronous (its result comes through the
#: API), or its executor is this process (the embedded server recovers it at start).
FOREVER = outbox.HANDED

_outbox = tables.outbox
#: How a payload is written (its column's type).
_PAYLOAD = tables.JSONText()


def process_name(role: str) -> str:
    """How a process names itself as a holder: ``executor@host:pid`` (at most 255
    characters, the column's width)."""
    return f"{role}@{socket.gethostname()}:{os.getpid()}"[:255]


#: PostgreSQL: the executors' leases as statements built once (the lease runs per batch of
#: actions; building, cache-keying and compiling the SQLAlchemy construct, and psycopg
#: parsing a query whose ``IN`` list changes length, cost more CPU than the round trip).
_LEASE = "UPDATE outbox SET claimed_until = :until, holder = :holder, held_since = :now"
_RETURNING = " RETURNING " + ", ".join(column.name for column in _outbox.c)
_LEASE_TYPES = (sa.bindparam("until", type_=sa.DateTime), sa.bindparam("now", type_=sa.DateTime))
_TAKE_MANY = (
    sa.text(
        f"{_LEASE} WHERE id = ANY(CAST(:ids AS varchar[])) AND kind = '{RUN_ACTION}'"
        f" AND claimed_until IS NULL{_RETURNING}"
    )
    .bindparams(*_LEASE_TYPES)
    .columns(*_outbox.c)
)
_TAKE: dict[tuple[bool, bool], Any] = {}


def _take_statement(named: bool, anywhere: bool) -> Any:
    """The lease of the oldest free RunAction rows for the targets ``named`` (an array
    parameter) and/or ``anywhere`` (rows for any executor), one statement."""
    statement = _TAKE.get((named, anywhere))
    if statement is None:
        choices = (["target = ANY(CAST(:named AS varchar[]))"] if named else []) + (
            ["target IS NULL"] if anywhere else []
        )
        chosen = (
            f"SELECT id FROM outbox WHERE kind = '{RUN_ACTION}' AND claimed_until IS NULL"
            f" AND ({' OR '.join(choices) or 'false'}) ORDER BY created_at LIMIT :limit"
            " FOR UPDATE SKIP LOCKED"
        )
        statement = _TAKE[(named, anywhere)] = (
            sa.text(f"{_LEASE} WHERE id IN ({chosen}){_RETURNING}")
            .bindparams(*_LEASE_TYPES)
            .columns(*_outbox.c)
        )
    return statement


def take(
    connection: sa.Connection,
    *,
    limit: int,
    targets: Sequence[str | None],
    until: datetime,
    holder: str | None = None,
    now: datetime | None = None,
) -> list[Any]:
    """Lease up to ``limit`` RunAction rows no executor holds, oldest first.

    Only rows never leased are taken: a row whose lease ran out is the checker's
    (:func:`expired`), which decides whether it may run again.
    """
    named = [target for target in targets if target is not None]
    if connection.dialect.name == "postgresql":
        # One statement (one round trip): lock, lease and return the rows.
        leased = connection.execute(
            _take_statement(bool(named), None in targets),
            {"limit": limit, "named": named, "until": until, "holder": holder, "now": now},
        )
        return sorted(leased, key=lambda row: (row.created_at, row.id))
    choices = [_outbox.c.target.in_(named)] if named else []
    if None in targets:
        choices.append(_outbox.c.target.is_(None))
    query = (
        sa.select(_outbox)
        .where(_outbox.c.kind == RUN_ACTION, _outbox.c.claimed_until.is_(None), sa.or_(*choices))
        .order_by(_outbox.c.created_at)
        .limit(limit)
    )
    rows = list(connection.execute(query))
    if rows:
        connection.execute(
            sa.update(_outbox)
            .where(_outbox.c.id.in_([row.id for row in rows]))
            .values(claimed_until=until, holder=holder, held_since=now)
        )
    return rows


def take_many(
    connection: sa.Connection,
    row_ids: Sequence[str],
    *,
    until: datetime,
    holder: str | None = None,
    now: datetime | None = None,
) -> list[Any]:
    """Lease the RunAction rows brokers announced that no executor holds yet, in one
    statement; the rows leased (those another executor took, or that are done, are not)."""
    if not row_ids:
        return []
    if connection.dialect.name == "postgresql":
        values = {"ids": list(row_ids), "until": until, "holder": holder, "now": now}
        return list(connection.execute(_TAKE_MANY, values))
    return list(
        connection.execute(
            sa.update(_outbox)
            .where(
                _outbox.c.id.in_(list(row_ids)),
                _outbox.c.kind == RUN_ACTION,
                _outbox.c.claimed_until.is_(None),
            )
            .values(claimed_until=until, holder=holder, held_since=now)
            .returning(*_outbox.c)
        )
    )


def renew(
    connection: sa.Connection,
    held: Mapping[str, datetime],
    *,
    holder: str | None,
    until: datetime,
) -> set[str]:
    """Push the leases ``held`` (row id -> when the lease began, its ``held_since``) of
    the executor ``holder`` to ``until`` (a heartbeat); returns the ids of the rows renewed.

    Only a lease that is still this one is renewed: the row is there, still held by
    ``holder`` since the same moment. An executor declared dead (stopped, starved of CPU
    or cut off for longer than its lease) whose row was offered again and taken by
    another executor, or by itself anew, must not renew that newer lease: the new
    holder's death would then go unnoticed while the stale one lives.

    A row locked by another transaction is skipped, not waited for (PostgreSQL, ``SKIP
    LOCKED``): the writer of this executor is handing it back (the lease then ends
    anyway), or the heartbeat check is taking it over. The caller tells these apart
    (:func:`holders`). The rows are locked in id order, the order of every writer."""
    wanted = sorted(held.items())
    renewed: set[str] = set()
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        mine: sa.ColumnElement[bool] = sa.and_(
            sa.tuple_(_outbox.c.id, _outbox.c.held_since).in_(chunk),
            _outbox.c.holder == holder if holder is not None else _outbox.c.holder.is_(None),
            _outbox.c.kind == RUN_ACTION,
            _outbox.c.claimed_until < FOREVER,
        )
        if connection.dialect.name == "postgresql":
            locked = (
                sa.select(_outbox.c.id)
                .where(mine)
                .order_by(_outbox.c.id)
                .with_for_update(skip_locked=True)
            )
            mine = _outbox.c.id.in_(locked.scalar_subquery())
        result = connection.execute(
            sa.update(_outbox).where(mine).values(claimed_until=until).returning(_outbox.c.id)
        )
        renewed.update(result.scalars())
    return renewed


def holders(connection: sa.Connection, ids: Iterable[str]) -> dict[str, tuple[str | None, Any]]:
    """The holder and lease start of each RunAction row ``ids`` still there (no lock:
    what is committed)."""
    wanted = sorted(set(ids))
    found: dict[str, tuple[str | None, Any]] = {}
    for start in range(0, len(wanted), 500):
        query = sa.select(_outbox.c.id, _outbox.c.holder, _outbox.c.held_since).where(
            _outbox.c.id.in_(wanted[start : start + 500]), _outbox.c.kind == RUN_ACTION
        )
        found.update((row.id, (row.holder, row.held_since)) for row in connection.execute(query))
    return found


def lock_in_order(connection: sa.Connection, ids: Iterable[str]) -> None:
    """Lock the rows ``ids`` in id order (PostgreSQL; SQLite has one writer at a time).

    A writer that hands back a batch in more than one statement (an asynchronous action's
    row held, a standalone action's row deleted, then the task rows in one statement)
    takes every lock first, in the order the heartbeat's renewal takes them: else it
    could hold a row the renewal wants next while it waits for one the renewal holds."""
    if connection.dialect.name != "postgresql":
        return
    wanted = sorted(set(ids))
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        connection.execute(
            sa.select(_outbox.c.id)
            .where(_outbox.c.id.in_(chunk))
            .order_by(_outbox.c.id)
            .with_for_update()
        )


def hold_forever(
    connection: sa.Connection,
    row_id: str,
    *,
    held_by: str | None = None,
    held_since: datetime | None = None,
) -> bool:
    """The action went asynchronous: its result comes through the API, not a heartbeat.
    ``held_by``: only if the row is still on that executor's lease begun at
    ``held_since`` (see :func:`hand_back_many`); whether the row was held."""
    query = sa.update(_outbox).where(_outbox.c.id == row_id)
    if held_by is not None:
        query = query.where(_outbox.c.holder == held_by, _outbox.c.held_since == held_since)
    return bool(connection.execute(query.values(claimed_until=FOREVER)).rowcount)


@dataclass(frozen=True, slots=True)
class HandBack:
    """One RunAction row to replace by the ActionResult row of its outcome (``payload``,
    an encoded ActionCompleted event)."""

    run_action_id: str
    result_id: str
    workflow_execution_id: str | None
    payload: dict[str, Any]
    #: When the lease of the executor that ran the action began (see ``held_by``).
    held_since: datetime | None = None


def hand_back(
    connection: sa.Connection,
    *,
    run_action_id: str,
    result_id: str,
    workflow_execution_id: str | None,
    payload: dict[str, Any],
    now: datetime,
    claimed_until: datetime | None = None,
    announce: str | None = None,
) -> bool:
    """Replace a RunAction row by the ActionResult row of its outcome, in the caller's
    transaction (see :func:`hand_back_many`); False, and nothing added, when the row is
    gone."""
    handed = HandBack(run_action_id, result_id, workflow_execution_id, payload)
    replaced = hand_back_many(
        connection, [handed], now=now, claimed_until=claimed_until, announce=announce
    )
    return run_action_id in replaced


#: PostgreSQL: the RunAction rows of a batch deleted (locked in id order first, as every
#: writer locks them), and an ActionResult row inserted for each row deleted (none for
#: a row gone), in one statement built once: one round trip for the batch, nothing
#: built or keyed again per call. Returns the ids of the RunAction rows replaced.
_HAND_BACK_GONE = (
    "WITH gone AS (DELETE FROM outbox WHERE id IN (SELECT id FROM outbox"
    " WHERE id = ANY(CAST(:run_action_ids AS varchar[])) ORDER BY id FOR UPDATE)"
    " RETURNING id),"
)
#: The same for an executor's results: only a row still on the lease its executor
#: (``:holder``) took at ``:held_since`` (one per row) is replaced.
_HAND_BACK_HELD_GONE = (
    "WITH gone AS (DELETE FROM outbox WHERE id IN (SELECT outbox.id FROM outbox JOIN"
    " unnest(CAST(:run_action_ids AS varchar[]), CAST(:held_since AS timestamp[]))"
    " AS lease(id, since) ON outbox.id = lease.id AND outbox.held_since = lease.since"
    " WHERE outbox.holder = :holder ORDER BY outbox.id FOR UPDATE OF outbox)"
    " RETURNING id),"
)
_HAND_BACK_ADDED = (
    " added AS (INSERT INTO outbox (id, workflow_execution_id, kind, payload, created_at,"
    " claimed_until, target) SELECT handed.id, handed.workflow_execution_id, :kind,"
    " handed.payload, :now, :claimed_until, NULL FROM unnest("
    "CAST(:run_action_ids AS varchar[]), CAST(:result_ids AS varchar[]),"
    " CAST(:workflow_execution_ids AS varchar[]), ARRAY(SELECT p.value FROM"
    " json_array_elements_text(CAST(:payloads AS json)) WITH ORDINALITY AS p(value, n)"
    " ORDER BY n))"
    " AS handed(run_action_id, id, workflow_execution_id, payload)"
    " JOIN gone ON gone.id = handed.run_action_id RETURNING id, workflow_execution_id)"
)
_HAND_BACK_TYPES = (
    sa.bindparam("now", type_=sa.DateTime),
    sa.bindparam("claimed_until", type_=sa.DateTime),
)


@dataclass(frozen=True, slots=True)
class _HandBackStatements:
    """The hand-back statement as run: alone; with a NOTIFY on ``:channel`` when the
    transaction commits (once, however many rows: PostgreSQL folds a channel told twice
    in a transaction); with a NOTIFY to the engine whose share each result's execution
    is (``notify.owner_channel``: the live engines read once for the statement)."""

    alone: sa.TextClause
    announced: sa.TextClause
    to_owners: sa.TextClause

    @classmethod
    def of(cls, gone: str) -> _HandBackStatements:
        statement = f"{gone}{_HAND_BACK_ADDED}"
        return cls(
            sa.text(f"{statement} SELECT gone.id FROM gone").bindparams(*_HAND_BACK_TYPES),
            sa.text(
                f"{statement} SELECT gone.id, (SELECT count(pg_notify(:channel, ''))"
                " FROM added) FROM gone"
            ).bindparams(*_HAND_BACK_TYPES),
            sa.text(
                f"{statement}, {notify.OWNERS} SELECT gone.id, (SELECT"
                f" count(pg_notify({notify.owner_channel('added.workflow_execution_id')}, ''))"
                " FROM added) FROM gone"
            ).bindparams(*_HAND_BACK_TYPES),
        )


_HAND_BACK = _HandBackStatements.of(_HAND_BACK_GONE)
_HAND_BACK_HELD = _HandBackStatements.of(_HAND_BACK_HELD_GONE)


def hand_back_many(
    connection: sa.Connection,
    handed: Sequence[HandBack],
    *,
    now: datetime,
    claimed_until: datetime | None = None,
    announce: str | None = None,
    last: bool = False,
    unflushed: bool = False,
    held_by: str | None = None,
    early: bool = True,
) -> set[str]:
    """Replace RunAction rows by the ActionResult rows of their outcomes, in the caller's
    transaction. ``claimed_until``: a broker delivers the results; pollers leave the rows
    alone until then. ``announce``: the NOTIFY channel woken when the transaction commits
    (PostgreSQL); ``notify.ENGINE``: for each result, the engine whose share its
    execution is. On PostgreSQL one statement (one round trip) does it all for the batch;
    ``last``: nothing follows in the transaction, which the statement then commits in the
    same round trip (``one_statement.execute_and_commit``); announced, it is seen before its
    flush and returns after it (unless not ``early``: a client may read what it writes).
    ``unflushed`` (with ``last``): it returns before its flush,
    and the caller waits for it on the same connection (``Database.wait_for_disk``) once it
    told a broker.

    Only a RunAction row still there is replaced: returns the ids of those replaced. A
    row gone gets no ActionResult row: its action was already handed back (the heartbeat
    check failed it while a live executor, starved of CPU or cut off from the database,
    missed its heartbeats; or it was offered again and another executor's result came
    first). A second result row for one action would reach an engine after its execution
    may have ended.

    ``held_by``: the executor that ran the actions; a row is replaced only while it is
    still on the lease that executor took (holder ``held_by`` since each one's
    ``held_since``). An executor declared dead whose row was offered again and taken
    anew (by another executor, or by itself) has a result for a lease that is over: the
    action's current run hands back its own. (The heartbeat check, which locked the
    expired rows it fails, passes None.)"""
    if not handed:
        return set()
    if connection.dialect.name == "postgresql":
        parameters = {
            "run_action_ids": [one.run_action_id for one in handed],
            "result_ids": [one.result_id for one in handed],
            "workflow_execution_ids": [one.workflow_execution_id for one in handed],
            "payloads": _payloads(handed, connection.dialect),
            "kind": str(ACTION_RESULT),
            "now": now,
            "claimed_until": claimed_until,
        }
        statements = _HAND_BACK
        if held_by is not None:
            statements = _HAND_BACK_HELD
            parameters["holder"] = held_by
            parameters["held_since"] = [one.held_since for one in handed]
        statement: Any = statements.alone
        if announce == notify.ENGINE:
            statement = statements.to_owners  # each to the engine whose share it is
        elif announce is not None:
            statement, parameters["channel"] = statements.announced, announce
        if last:
            # Announced: the engines may claim the results before the commit's flush (their
            # step's durable commit carries its WAL); the call returns after it.
            found: Any = one_statement.execute_and_commit(
                connection,
                statement,
                parameters,
                early=early and (announce is not None or unflushed),
                flushed=not unflushed,
            )
        else:
            found = connection.execute(statement, parameters)
        return {str(row[0]) for row in found}
    replaced: set[str] = set()
    rows = []
    for one in sorted(handed, key=_run_action_id):
        if not delete(connection, one.run_action_id, held_by=held_by, held_since=one.held_since):
            continue
        replaced.add(one.run_action_id)
        rows.append(
            {
                "id": one.result_id,
                "workflow_execution_id": one.workflow_execution_id,
                "kind": ACTION_RESULT,
                "payload": one.payload,
                "created_at": now,
                "claimed_until": claimed_until,
                "target": None,
            }
        )
    if rows:
        connection.execute(sa.insert(_outbox), rows)
    return replaced


def _payloads(handed: Sequence[HandBack], dialect: Any) -> str:
    """The payloads' texts as one JSON array of strings, each read back as the very text
    (psycopg quotes every text of a ``text[]`` parameter with a regular expression, one
    Python call per quote in the JSON). Strings, not the payloads' JSON itself: a result
    may hold NaN or Infinity, which the column keeps as Python writes it and PostgreSQL's
    json type refuses."""
    texts = []
    for one in handed:
        text = _PAYLOAD.process_bind_param(one.payload, dialect)
        assert text is not None  # a payload is a dict
        texts.append(text)
    return json.dumps(texts, ensure_ascii=False)


def _run_action_id(one: HandBack) -> str:
    return one.run_action_id


def delete(
    connection: sa.Connection,
    row_id: str,
    *,
    held_by: str | None = None,
    held_since: datetime | None = None,
) -> bool:
    """Forget one RunAction row (its standalone action's outcome is stored); whether it
    was there (``held_by``: and still on that executor's lease begun at ``held_since``,
    see :func:`hand_back_many`)."""
    query = sa.delete(_outbox).where(_outbox.c.id == row_id)
    if held_by is not None:
        query = query.where(_outbox.c.holder == held_by, _outbox.c.held_since == held_since)
    return bool(connection.execute(query).rowcount)


def expired(connection: sa.Connection, *, now: datetime, limit: int = 100) -> list[Any]:
    """Lock and return RunAction rows whose lease ran out (their executor is gone)."""
    query = (
        sa.select(_outbox)
        .where(_outbox.c.kind == RUN_ACTION, _outbox.c.claimed_until < now)
        .order_by(_outbox.c.claimed_until)
        .limit(limit)
    )
    if connection.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return list(connection.execute(query))


def offer_again(
    connection: sa.Connection,
    row_id: str,
    payload: dict[str, Any],
    *,
    held: datetime | None,
    holder: str | None = None,
    now: datetime | None = None,
) -> None:
    """Give an expired row its (redelivered) payload and free it for any executor
    (``held`` None), or lease it to the caller (``holder``, from ``now``) until ``held``."""
    connection.execute(
        sa.update(_outbox)
        .where(_outbox.c.id == row_id)
        .values(
            claimed_until=held,
            payload=payload,
            holder=holder if held is not None else None,
            held_since=now if held is not None else None,
        )
    )


def earliest(connection: sa.Connection) -> datetime | None:
    """The soonest lease end among RunAction rows held by executor processes (None when
    no executor holds one): the moment an engine should look for expired leases next."""
    query = sa.select(sa.func.min(_outbox.c.claimed_until)).where(
        _outbox.c.kind == RUN_ACTION, _outbox.c.claimed_until < FOREVER
    )
    value = connection.execute(query).scalar()
    return value if isinstance(value, datetime) else None


def _waits_for_executor() -> sa.ColumnElement[bool]:
    """A queued RunAction row that fails if no executor takes it: its action is
    synchronous. As in Mistral, whose check asks only for synchronous action executions,
    an asynchronous one waits for ever. A RunAction row has its action execution's id; a
    row without a stored action execution counts as synchronous."""
    actions = tables.action_executions
    asynchronous = sa.exists().where(actions.c.id == _outbox.c.id, actions.c.is_sync.is_(False))
    return sa.and_(_outbox.c.kind == RUN_ACTION, _outbox.c.claimed_until.is_(None), ~asynchronous)


def untaken(connection: sa.Connection, *, before: datetime, limit: int = 100) -> list[Any]:
    """Lock and return RunAction rows of synchronous actions that no executor has taken
    and that were queued before ``before`` (no executor serves their target, or none runs
    at all)."""
    query = (
        sa.select(_outbox)
        .where(_waits_for_executor(), _outbox.c.created_at < before)
        .order_by(_outbox.c.created_at)
        .limit(limit)
    )
    if connection.dialect.name == "postgresql":
        query = query.with_for_update(of=_outbox, skip_locked=True)
    return list(connection.execute(query))


def oldest_untaken(connection: sa.Connection) -> datetime | None:
    """When the oldest RunAction row of a synchronous action that no executor has taken
    was queued (None: none)."""
    query = sa.select(sa.func.min(_outbox.c.created_at)).where(_waits_for_executor())
    value = connection.execute(query).scalar()
    return value if isinstance(value, datetime) else None


def cancelled(connection: sa.Connection, workflow_execution_ids: Iterable[str]) -> set[str]:
    """Which of these workflow executions are CANCELLED (an executor's heartbeat asks it for
    the executions of the actions it runs, in case it missed the cancellation's message)."""
    wanted = list(workflow_execution_ids)
    found: set[str] = set()
    executions = tables.workflow_executions
    for start in range(0, len(wanted), 500):
        query = sa.select(executions.c.id).where(
            executions.c.id.in_(wanted[start : start + 500]), executions.c.state == "CANCELLED"
        )
        found.update(connection.execute(query).scalars())
    return found
