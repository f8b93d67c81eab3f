"""Opening the database: URL resolution, engine set-up, transactions, migrations."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy import event

from sirocco import errors
from sirocco.store.checkpoints import Checkpoints
from sirocco.store.driver_reads import DriverReads

DB_ENV = "SIROCCO_DB"

# SQLite's driver looks for an adapter for every parameter that is not an int, float, str
# or bytearray, None included; with none registered for it, the look-up raises and clears
# an AttributeError each time: ~1 us per NULL bound, and a step's rows bind dozens. An
# adapter for None found at once, which gives None back (``{}.get``, a C function), binds
# the same NULL at a third of the cost. Process-wide, as every adapter is.
sqlite3.register_adapter(type(None), cast("Callable[[None], None]", {}.get))

#: The connection a transaction runs on (callers outside the store name it by this).
Connection = sa.Connection
#: Any error the database driver raised (callers outside the store catch it by this).
DatabaseError = sa.exc.DBAPIError

#: Seconds a pooled PostgreSQL connection may sit idle before it is checked at checkout.
PING_AFTER = 1.0
#: Connections of the pool for transactions whose commit does not wait for the disk (the
#: leases of a poller and of the timer thread: one or two at a time).
_NOT_DURABLE_POOL = {"pool_size": 1, "max_overflow": 3}


def default_url() -> str:
    """``$SIROCCO_DB``, else a SQLite file under the user's data directory."""
    url = os.environ.get(DB_ENV)
    if url:
        return normalize_url(url)
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return f"sqlite:///{base / 'sirocco' / 'sirocco.sqlite'}"


def normalize_url(url: str) -> str:
    """Accept a plain file path as a SQLite database; use psycopg 3 for PostgreSQL."""
    if "://" not in url:
        return f"sqlite:///{Path(url).expanduser().absolute()}"
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


class Database:
    """One database: its SQLAlchemy engine and how to open a write transaction.

    SQLite runs in WAL mode with one writer: write transactions start with
    ``BEGIN IMMEDIATE`` and are serialised by a process-wide lock so that
    threads queue instead of failing with "database is locked".
    """

    def __init__(self, url: str | None = None) -> None:
        self.url = normalize_url(url) if url else default_url()
        self.is_sqlite = self.url.startswith("sqlite")
        self._write_lock = threading.RLock()
        self._pools_lock = threading.Lock()
        kwargs: dict[str, Any] = {"future": True}
        if self.is_sqlite:
            path = self.url.split("///", 1)[1] if "///" in self.url else ""
            if path and path != ":memory:":
                try:
                    Path(path).parent.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise errors.ConfigurationError(
                        f"Can't create the database folder for {path}: {exc.strerror}"
                    ) from exc
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 60}
            kwargs["pool_size"] = 8
            kwargs["max_overflow"] = 16
        else:
            kwargs["pool_size"] = 10
            kwargs["max_overflow"] = 20
            # Not SQLAlchemy's pre-ping: at every checkout it runs SELECT 1 in a transaction
            # of its own (one more round trip besides BEGIN, the statement and COMMIT, and
            # one more commit in PostgreSQL's counts). Only a connection that sat idle is
            # checked (_ping_when_idle); one that the database dropped since its last use
            # fails its transaction as an outage, and the pool is then renewed.
            kwargs["pool_pre_ping"] = False
            # Last in, first out: the connection handed out is the one used last, so the
            # others of the pool sit idle (and are checked) rather than every connection
            # going unused for long enough to need a check before a transaction.
            kwargs["pool_use_lifo"] = True
            # A database that does not answer is an outage to report, not a hang.
            kwargs["connect_args"] = {"connect_timeout": 5}
        #: Connections the pool may open at most (its size and its overflow).
        self.pool_limit = int(kwargs["pool_size"]) + int(kwargs["max_overflow"])
        try:
            self.engine = sa.create_engine(self.url, **kwargs)
        except (sa.exc.ArgumentError, ImportError) as exc:
            raise errors.ConfigurationError(f"Invalid database URL {self.url!r}: {exc}") from exc
        self._kwargs = kwargs
        #: Connections kept open by :meth:`kept`, closed by :meth:`dispose`.
        self._kept: weakref.WeakSet[KeptConnection] = weakref.WeakSet()
        #: Connections whose commits do not wait for the disk (made at first use).
        self._not_durable: sa.Engine | None = None
        #: The busiest reads on a SQLite file go straight to the driver (``fetch``).
        self._driver_reads: DriverReads | None = None
        #: The WAL checkpoints of a SQLite file, off the commits (``checkpoints.py``).
        self.checkpoints: Checkpoints | None = None
        if self.is_sqlite:
            file = self.engine.url.database
            if file and file != ":memory:" and not file.startswith("file:"):
                self._driver_reads = DriverReads(self.engine, file)
                self.checkpoints = Checkpoints(file, self._write_lock)
                # A database dropped without ``dispose`` (tests, short commands) does not
                # leave its thread waiting for commits that never come.
                weakref.finalize(self, self.checkpoints.stop, wait=False)
            _configure_sqlite(self.engine, checkpointed=self.checkpoints is not None)
        else:
            _ping_when_idle(self.engine)

    @contextmanager
    def transaction(self, *, durable: bool = True) -> Iterator[sa.Connection]:
        """A write transaction; commits on success, rolls back on error.

        ``durable=False``: on PostgreSQL the commit returns without waiting for its WAL
        to reach the disk (a connection of a small pool set to ``synchronous_commit =
        off``), and a database crash may forget it. Only for writes whose loss is
        harmless, such as a lease whose work the next holder would find already done;
        on a busy disk a flushed commit costs several milliseconds. Visibility and
        locking are unchanged.
        """
        if self.is_sqlite:
            with self._write_lock:
                with self.engine.connect() as connection:
                    connection = connection.execution_options(sirocco_write=True)
                    with connection.begin():
                        yield connection
                if self.checkpoints is not None:
                    self.checkpoints.committed()
        elif durable:
            with self.engine.begin() as connection:
                yield connection
        else:
            with self._not_durable_engine().begin() as connection:
                yield connection

    def kept(self) -> KeptConnection:
        """Write transactions for one thread that writes often (the engine's), on a
        connection kept open between them (see :class:`KeptConnection`)."""
        kept = KeptConnection(self)
        self._kept.add(kept)
        return kept

    def session_conninfo(self) -> str | None:
        """The libpq connection string of a PostgreSQL database, for a connection of its
        own outside the pool (``LISTEN``, a session's advisory lock); None elsewhere."""
        if self.is_sqlite or self.engine.dialect.name != "postgresql":
            return None
        url = self.engine.url.set(drivername="postgresql")
        return url.render_as_string(hide_password=False)

    @contextmanager
    def statement(self, *, durable: bool = True) -> Iterator[sa.Connection]:
        """A connection for a write of one statement, which is its own transaction.

        On PostgreSQL the connection is in autocommit: the statement commits as it runs,
        in one round trip, where a transaction costs three (psycopg sends BEGIN and
        COMMIT as round trips of their own). Run one writing statement on it: two would
        commit apart. ``durable`` as for :meth:`transaction`. On SQLite, a write
        transaction.
        """
        if self.is_sqlite:
            with self.transaction() as connection:
                yield connection
            return
        engine = self.engine if durable else self._not_durable_engine()
        with engine.connect() as connection:
            yield connection.execution_options(isolation_level="AUTOCOMMIT")

    def wait_for_disk(self, connection: sa.Connection) -> None:
        """Return once the commits made on ``connection`` are on disk (PostgreSQL: a small
        durable commit on the same connection, ``one_statement.wait_for_disk``; a crash of
        the database since those commits fails it, as their session is gone). SQLite:
        nothing to wait for (each commit is as durable as it will be when it returns)."""
        if self.is_sqlite:
            return
        from sirocco.store import one_statement

        one_statement.wait_for_disk(connection)

    def _not_durable_engine(self) -> sa.Engine:
        """A small pool of connections set to ``synchronous_commit = off`` (set once per
        connection: no extra statement per transaction)."""
        with self._pools_lock:
            if self._not_durable is None:
                connect_args = dict(self._kwargs["connect_args"])
                connect_args["options"] = "-c synchronous_commit=off"
                self._not_durable = sa.create_engine(
                    self.url,
                    **{**self._kwargs, **_NOT_DURABLE_POOL, "connect_args": connect_args},
                )
                _ping_when_idle(self._not_durable)
            return self._not_durable

    @contextmanager
    def read(self) -> Iterator[sa.Connection]:
        """A read-only connection (a consistent snapshot for its duration)."""
        with self.engine.connect() as connection:
            yield connection
            connection.rollback()

    def fetch(
        self, statement: sa.Select[Any], values: Mapping[str, Any] | None = None
    ) -> Sequence[Sequence[Any]]:
        """The rows of one prebuilt read (a module constant) whose columns need no type
        conversion: on a SQLite file straight through the driver (``driver_reads``),
        otherwise in a read of its own."""
        if self._driver_reads is not None:
            return self._driver_reads.rows(statement, values)
        with self.read() as connection:
            return connection.execute(statement, dict(values or {})).all()

    def fetch_mapped(
        self, statement: sa.Select[Any], values: Mapping[str, Any] | None = None
    ) -> list[dict[str, Any]] | None:
        """The rows of one prebuilt read (a module constant) as dicts by column key, its
        columns converted as SQLAlchemy converts them, straight through the driver on a
        SQLite file (``driver_reads``); None elsewhere (the caller reads as usual)."""
        if self._driver_reads is None:
            return None
        return self._driver_reads.mapped_rows(statement, values)

    def ping(self) -> None:
        """Raise unless the database answers a trivial query."""
        with self.engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
            connection.rollback()

    def pool_use(self) -> dict[str, int]:
        """Connections of this process's pool: ``in_use`` (checked out), ``idle`` (open,
        waiting in the pool) and ``limit`` (most it may open)."""
        pool: Any = self.engine.pool
        return {
            "in_use": int(pool.checkedout()),
            "idle": int(pool.checkedin()),
            "limit": self.pool_limit,
        }

    def dispose(self) -> None:
        for kept in list(self._kept):
            kept.close()
        if self.checkpoints is not None:
            self.checkpoints.stop()
        if self._driver_reads is not None:
            self._driver_reads.close()
        self.engine.dispose()
        if self._not_durable is not None:
            self._not_durable.dispose()


class KeptConnection:
    """Write transactions of one thread at a time on a SQLite connection kept checked out
    between them: each transaction is then BEGIN, its statements and COMMIT, without the
    pool's checkout, a new ``Connection`` and the pool's reset at checkin around it (on a
    cold path, several times what SQLite's BEGIN IMMEDIATE and COMMIT cost). The engine
    thread's steps run on one. Elsewhere than on SQLite, :meth:`Database.transaction`.

    A connection SQLAlchemy invalidated (an error that broke it) is closed and another
    taken at the next transaction; :meth:`close` (or the database's ``dispose``) gives it
    back.
    """

    def __init__(self, database: Database) -> None:
        self._database = database
        self._connection: sa.Connection | None = None

    @contextmanager
    def transaction(self) -> Iterator[sa.Connection]:
        """A write transaction (as :meth:`Database.transaction`) on the kept connection."""
        database = self._database
        if not database.is_sqlite:
            with database.transaction() as connection:
                yield connection
            return
        with database._write_lock:
            connection = self._open()
            try:
                with connection.begin():
                    yield connection
            except BaseException:
                if connection.invalidated or _left_open(connection):
                    self.close()  # the pool's reset rolls back what a failed COMMIT left open
                raise
            if database.checkpoints is not None:
                database.checkpoints.committed()

    def _open(self) -> sa.Connection:
        """The kept connection; another one when there is none or it broke."""
        connection = self._connection
        if connection is None or connection.closed or connection.invalidated:
            self.close()
            connection = self._database.engine.connect().execution_options(sirocco_write=True)
            self._connection = connection
        return connection

    def close(self) -> None:
        """Give the connection back to the pool (a later transaction takes another)."""
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.close()
            except sa.exc.SQLAlchemyError:  # a connection that broke: nothing to give back
                pass


def _left_open(connection: sa.Connection) -> bool:
    """Whether SQLite still holds the transaction open (a failed COMMIT may leave it so);
    when that cannot be told, as if it did."""
    try:
        driver = connection.connection.driver_connection
        return driver is None or bool(driver.in_transaction)
    except Exception:
        return True


def _ping_when_idle(engine: sa.Engine) -> None:
    """Check a pooled connection at checkout only when it sat idle for ``PING_AFTER``
    seconds (a dead one is replaced by the pool); busy connections go unchecked."""

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info["sirocco_idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("sirocco_idle_since")
        if since is None or time.monotonic() - since < PING_AFTER:
            return  # new, or in use a moment ago
        try:
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute("SELECT 1")
            finally:
                cursor.close()
            dbapi_connection.rollback()
        except Exception as exc:
            # The pool drops this connection and checks out another (a fresh one).
            raise sa.exc.DisconnectionError(str(exc)) from exc


#: How long a SQLite connection waits for a lock another process holds (seconds).
SQLITE_BUSY_WAIT = 60.0


def _switch_to_wal(cursor: Any) -> None:
    """Put the database in WAL mode, waiting for a lock another process holds.

    The switch needs the file's exclusive lock. While another connection holds the write
    lock (a process upgrading the schema at the same moment), SQLite answers "database is
    locked" at once, without its busy wait (waiting there could deadlock), so the wait is
    here: try again with a growing pause until the other lets go, or another process has
    made the switch already, for at most ``SQLITE_BUSY_WAIT``.
    """
    deadline = time.monotonic() + SQLITE_BUSY_WAIT
    pause = 0.005
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            if time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.2)


def _configure_sqlite(engine: sa.Engine, *, checkpointed: bool) -> None:
    """Set up each new connection; ``checkpointed``: a thread checkpoints the WAL
    (``checkpoints.py``), the connections' commits do not."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's BEGIN be ours: the driver must not open transactions itself.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # The wait first: every statement may meet a lock another process upgrading the
        # schema holds for longer than the driver's 5 s default (the WAL switch waits
        # on its own: SQLite's wait does not cover it).
        cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_WAIT * 1000)}")
        _switch_to_wal(cursor)
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        if checkpointed:
            cursor.execute("PRAGMA wal_autocheckpoint=0")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        # Writers take the write lock at BEGIN, so two writers never deadlock on upgrade.
        # Straight to the driver: a statement through SQLAlchemy costs several times more
        # than SQLite's BEGIN itself, and every transaction and read pays it.
        # Its errors are wrapped as SQLAlchemy's would be (``is_outage`` reads them).
        driver: Any = connection.connection.driver_connection
        statement = (
            "BEGIN IMMEDIATE"
            if connection.get_execution_options().get("sirocco_write")
            else "BEGIN"
        )
        try:
            driver.execute(statement)
        except sqlite3.Error as exc:
            raise sa.exc.DBAPIError.instance(statement, None, exc, sqlite3.Error) from exc


def connect_session(conninfo: str) -> Any:
    """A psycopg connection of its own on ``conninfo`` (``Database.session_conninfo``), in
    autocommit, giving up on connecting after 5 s."""
    import psycopg

    return psycopg.connect(conninfo, autocommit=True, connect_timeout=5)


def is_outage(exc: BaseException) -> bool:
    """Whether ``exc`` says the database can't be used now (down, restarting, locked, a
    deadlock) rather than that the work is wrong: the same work may be tried again."""
    if isinstance(exc, (sa.exc.OperationalError, sa.exc.InterfaceError)):
        return True
    return isinstance(exc, sa.exc.DBAPIError) and bool(exc.connection_invalidated)
