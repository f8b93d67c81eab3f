"""Schema migrations with Alembic: upgrade to the newest revision, the current one, the list."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from sirocco.store.database import Database

_HERE = Path(__file__).parent / "migrations"


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


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(_HERE))
    return config


def head() -> str | None:
    """The newest revision shipped with this version of Sirocco."""
    return ScriptDirectory.from_config(_config()).get_current_head()


def current(database: Database) -> str | None:
    """The revision the database is at (None for an empty database)."""
    with database.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(database: Database) -> None:
    """Apply every migration the database lacks (idempotent)."""
    if current(database) == head():
        return
    config = _config()
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def history() -> list[Revision]:
    """Every shipped revision, oldest first."""
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
