"""Schema migrations with Alembic: upgrade to the newest revision, the current one, the list.

Alembic costs a few hundred milliseconds to import, more than a whole ``sirocco
run``. So the question asked on every start, "is the database up to date?", is
answered without it: the shipped head comes from the revision files' own
``revision``/``down_revision`` lines, the database's revision from its
``alembic_version`` table. Alembic is imported only to apply migrations and to
list them.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from sirocco import errors
from sirocco.store import preinstalled
from sirocco.store.database import Database

if TYPE_CHECKING:
    from alembic.config import Config

_HERE = Path(__file__).parent / "migrations"

#: The PostgreSQL advisory lock key that serialises schema upgrades ("sirocco" in ASCII).
_UPGRADE_LOCK = 0x7369726F63636F


@dataclass(frozen=True, slots=True, kw_only=True)
class Revision:
    """One schema migration shipped with Sirocco.

    Attributes:
        revision: its id (``0002``).
        down_revision: the revision it applies on top of (None for the first).
        message: what it changes (the first line of its docstring).
    """

    revision: str
    down_revision: str | None
    message: str


#: A revision file's ``revision = "0002"`` and ``down_revision = "0001"`` (or ``None``) lines.
_REVISION_LINE = re.compile(r"^(down_revision|revision)\s*(?::[^=]*)?=\s*(.+?)\s*$", re.M)


def _config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_HERE))
    return config


@functools.cache
def head() -> str | None:
    """The newest revision shipped with this version of Sirocco."""
    shipped = _read_revision_files()
    if shipped is not None:
        revisions, parents = shipped
        heads = revisions - parents
        if len(heads) == 1:
            return heads.pop()
    from alembic.script import ScriptDirectory  # several heads or an unusual file: ask Alembic

    return ScriptDirectory.from_config(_config()).get_current_head()


def _read_revision_files() -> tuple[set[str], set[str]] | None:
    """Every shipped revision and every revision some other one applies on top of, read from
    the files; None when a file does not state both plainly (Alembic then reads them)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (_HERE / "versions").glob("*.py"):
        found = {key: value for key, value in _REVISION_LINE.findall(path.read_text())}
        revision = _literal(found.get("revision", ""))
        parent = found.get("down_revision")
        if revision is None or parent is None:
            return None
        revisions.add(revision)
        if parent != "None":
            down = _literal(parent)
            if down is None:
                return None
            parents.add(down)
    return revisions, parents


def _literal(text: str) -> str | None:
    """The string a plain quoted literal spells, else None."""
    if len(text) < 2 or text[0] not in "'\"" or text[-1] != text[0]:
        return None
    return text[1:-1]


def current(database: Database) -> str | None:
    """The revision the database is at (None for an empty database)."""
    with database.engine.connect() as connection:
        if not sa.inspect(connection).has_table("alembic_version"):
            return None
        rows = connection.exec_driver_sql("SELECT version_num FROM alembic_version").all()
    if len(rows) > 1:
        raise ValueError(f"the database has several schema revisions: {sorted(rows)}")
    return str(rows[0][0]) if rows else None


def upgrade(database: Database) -> None:
    """Apply every migration the database lacks (idempotent; without Alembic when there is
    nothing to apply)."""
    if current(database) == head():
        return
    from alembic import command

    config = _config()
    # Processes started together on a new database (an API and two engines, say) all find
    # it behind; they take turns: SQLite's write transaction begins with BEGIN IMMEDIATE,
    # PostgreSQL's takes an advisory lock held until it commits. The one that waited finds
    # the schema already at head (Alembic reads the revision after the lock) and applies
    # nothing, instead of failing on a table the other just created.
    with database.transaction() as connection:
        if not database.is_sqlite:
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_UPGRADE_LOCK})")
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def history() -> list[Revision]:
    """Every shipped revision, oldest first."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(_config())
    found = [
        Revision(
            revision=item.revision,
            down_revision=_single(item.down_revision),
            message=(item.doc or "").strip().splitlines()[0] if item.doc else "",
        )
        for item in script.walk_revisions()
    ]
    return list(reversed(found))


def _single(value: str | Sequence[str] | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return ", ".join(value)


def prepare(database: Database) -> None:
    """Upgrade the schema and store the preinstalled actions; a database that cannot be
    opened is a ConfigurationError naming it (its password hidden)."""
    try:
        upgrade(database)
    except sa.exc.DBAPIError as exc:
        database.dispose()
        url = sa.engine.make_url(database.url).render_as_string(hide_password=True)
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise errors.ConfigurationError(f"Can't open the database {url}: {reason}") from exc
    preinstalled.populate(database)
