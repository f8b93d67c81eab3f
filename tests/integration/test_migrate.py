"""The start-up check "is the database up to date?" gives Alembic's answers without Alembic."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from sirocco.store import migrate
from sirocco.store.database import Database
from tests.waiting import BOUND


def test_the_head_read_from_the_files_is_alembics() -> None:
    assert migrate.head() == ScriptDirectory.from_config(migrate._config()).get_current_head()
    assert migrate.head() == migrate.history()[-1].revision


def test_the_current_revision_is_alembics(database_url: str) -> None:
    database = Database(database_url)
    try:
        migrate.upgrade(database)
        with database.engine.connect() as connection:
            assert (
                migrate.current(database)
                == MigrationContext.configure(connection).get_current_revision()
            )
        assert migrate.current(database) == migrate.head()
    finally:
        database.dispose()


def test_a_new_database_has_no_revision_until_upgraded(sqlite_url: str) -> None:
    database = Database(sqlite_url)
    try:
        assert migrate.current(database) is None
        migrate.upgrade(database)
        assert migrate.current(database) == migrate.head()
    finally:
        database.dispose()


def test_an_up_to_date_database_is_opened_without_alembic(sqlite_url: str) -> None:
    database = Database(sqlite_url)
    migrate.upgrade(database)
    database.dispose()
    script = textwrap.dedent(
        f"""
        import sys
        from sirocco.store import migrate
        from sirocco.store.database import Database
        migrate.upgrade(Database({sqlite_url!r}))
        print(sorted(name for name in sys.modules if name.split(".")[0] == "alembic"))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=BOUND, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "[]\n", done.stdout


def test_the_migrated_unique_keys_include_the_project(database_url: str) -> None:
    """Names are unique per project, as in Mistral: the migrated schema (SQLite and
    PostgreSQL) takes the same name in two projects and refuses it twice in one."""
    from datetime import datetime

    import pytest
    import sqlalchemy as sa

    from sirocco.store import tables

    database = Database(database_url)
    try:
        migrate.upgrade(database)
        now = datetime(2026, 12, 7)
        rows = {
            tables.workflow_definitions: {"definition": "x", "namespace": "", "spec": {}},
            tables.workbooks: {"definition": "x", "namespace": ""},
            tables.action_definitions: {"definition": "x", "namespace": ""},
            tables.environments: {},
        }
        for table, values in rows.items():
            columns = set(table.c.keys())
            given = {key: value for key, value in values.items() if key in columns}
            with database.transaction() as connection:
                for index, project in enumerate(("alpha", "beta")):
                    connection.execute(
                        sa.insert(table).values(
                            id=f"00000000-0000-4000-8000-00000000000{index}",
                            name="deploy",
                            project_id=project,
                            created_at=now,
                            **given,
                        )
                    )
            with pytest.raises(sa.exc.IntegrityError), database.transaction() as connection:
                connection.execute(
                    sa.insert(table).values(
                        id="00000000-0000-4000-8000-000000000009",
                        name="deploy",
                        project_id="alpha",
                        created_at=now,
                        **given,
                    )
                )
    finally:
        database.dispose()


def test_processes_started_together_on_a_new_database_all_come_up(database_url: str) -> None:
    """An API and engines started at once on an empty database each find it behind; they
    take turns to upgrade it, and the ones that waited apply nothing, instead of failing on
    a table another just created (seen on PostgreSQL: duplicate key in pg_type)."""
    script = textwrap.dedent(
        f"""
        import sys
        from sirocco.store import migrate
        from sirocco.store.database import Database
        database = Database({database_url!r})
        print("ready", flush=True)
        sys.stdin.readline()
        migrate.prepare(database)
        print(migrate.current(database), flush=True)
        """
    )
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", script],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    try:
        for process in processes:
            assert process.stdout is not None
            assert process.stdout.readline().strip() == "ready", process.communicate(timeout=BOUND)
        for process in processes:  # all go at once, once every one has its connection ready
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        outcomes = [process.communicate(timeout=BOUND) for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
    for process, (out, err) in zip(processes, outcomes, strict=True):
        assert process.returncode == 0, err
        assert out.strip() == migrate.head(), (out, err)
