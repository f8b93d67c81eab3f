"""``sirocco db current`` and ``sirocco db history``: the schema revisions, in a few lines."""

from __future__ import annotations

from pathlib import Path

from sirocco.store import database as store_database
from sirocco.store import migrate
from sirocco.store.database import Database


def _open(db_url: str | None) -> Database | None:
    """The database, or None when it is a SQLite file that does not exist (nothing is created)."""
    url = store_database.normalize_url(db_url) if db_url else store_database.default_url()
    if url.startswith("sqlite") and "///" in url:
        path = url.split("///", 1)[1]
        if path != ":memory:" and not Path(path).exists():
            return None
    return Database(url)


def current_text(db_url: str | None) -> str:
    """``database at revision 0002 (the newest)``, or what ``sirocco db upgrade`` would do."""
    database = _open(db_url)
    head = migrate.head()
    if database is None:
        return f"no database file yet; `sirocco db upgrade` creates it at revision {head}"
    try:
        current = migrate.current(database)
    finally:
        database.engine.dispose()
    if current is None:
        return f"database is empty; `sirocco db upgrade` creates the schema at revision {head}"
    if current == head:
        return f"database at revision {current} (the newest)"
    known = [item.revision for item in migrate.history()]
    if current not in known:
        return (
            f"database at revision {current}, which this version of Sirocco does not know "
            f"(its newest is {head}): it was made by a newer Sirocco"
        )
    behind = len(known) - 1 - known.index(current)
    return (
        f"database at revision {current}; {behind} newer revision{'s' if behind > 1 else ''} "
        f"to apply with `sirocco db upgrade` (newest: {head})"
    )


def history_text(db_url: str | None) -> str:
    """One line per shipped revision, oldest first; the database's own marked when given."""
    current = None
    if db_url is not None:
        database = _open(db_url)
        if database is not None:
            try:
                current = migrate.current(database)
            finally:
                database.engine.dispose()
    lines = []
    for item in migrate.history():
        marks = []
        if item.revision == migrate.head():
            marks.append("newest")
        if item.revision == current:
            marks.append("this database")
        mark = f"  ({', '.join(marks)})" if marks else ""
        lines.append(f"{item.revision}  {item.message}{mark}")
    return "\n".join(lines)
