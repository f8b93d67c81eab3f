"""``sirocco db upgrade | current | history`` on SQLite and PostgreSQL, as docs/running.md shows."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from click.testing import CliRunner, Result

from sirocco.cli.main import main
from sirocco.store import migrate

MIGRATIONS = Path(migrate.__file__).parent / "migrations"


def sirocco(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_current_and_history_around_an_upgrade(database_url: str, tmp_path: Path) -> None:
    head = migrate.head()
    revisions = migrate.history()
    assert revisions[-1].revision == head and revisions[0].down_revision is None
    before = sirocco("db", "current", "--db", database_url)
    assert before.exit_code == 0, before.stderr
    if database_url.startswith("sqlite"):
        assert before.stdout == (
            f"no database file yet; `sirocco db upgrade` creates it at revision {head}\n"
        )
        assert not list(tmp_path.glob("*.sqlite"))  # asking created nothing
    else:
        assert before.stdout == (
            f"database is empty; `sirocco db upgrade` creates the schema at revision {head}\n"
        )
    assert sirocco("db", "upgrade", "--db", database_url).exit_code == 0
    after = sirocco("db", "current", "--db", database_url)
    assert after.stdout == f"database at revision {head} (the newest)\n"
    history = sirocco("db", "history", "--db", database_url).stdout.splitlines()
    assert [line.split()[0] for line in history] == [item.revision for item in revisions]
    assert history[-1].endswith("(newest, this database)")


def test_current_on_a_database_behind(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    first = migrate.history()[0].revision
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url)
    from sqlalchemy import create_engine

    engine = create_engine(url)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, first)
    engine.dispose()
    behind = len(migrate.history()) - 1
    shown = sirocco("db", "current", "--db", url).stdout
    if behind == 0:
        assert shown == f"database at revision {first} (the newest)\n"
        return
    assert shown.startswith(f"database at revision {first}; {behind} newer revision")
    assert shown.endswith(f"to apply with `sirocco db upgrade` (newest: {migrate.head()})\n")
    history = sirocco("db", "history", "--db", url).stdout.splitlines()
    assert history[0].endswith("(this database)")


def test_history_without_a_database() -> None:
    shown = sirocco("db", "history").stdout.splitlines()
    assert len(shown) == len(migrate.history())
    assert shown[-1].endswith("(newest)")


def test_an_unreachable_database_is_one_line() -> None:
    result = sirocco("db", "current", "--db", "postgresql://nobody@127.0.0.1:1/none")
    assert result.exit_code == 2
    assert result.stderr.startswith("sirocco: can't read the database: ")
    assert len(result.stderr.splitlines()) == 1
