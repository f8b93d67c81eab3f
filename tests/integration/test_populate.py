"""The preinstalled ad-hoc actions, stored by every process that starts."""

from __future__ import annotations

import threading

import sqlalchemy as sa

from sirocco.store import migrate, preinstalled, tables
from sirocco.store.database import Database


def test_processes_starting_together_store_the_preinstalled_actions_once(
    database_url: str,
) -> None:
    migrate.upgrade(Database(database_url))
    failures: list[BaseException] = []
    ready = threading.Barrier(6)

    def start() -> None:
        database = Database(database_url)  # each "process" has its own connections
        try:
            ready.wait()
            preinstalled.populate(database)
        except BaseException as exc:  # reported below
            failures.append(exc)
        finally:
            database.dispose()

    threads = [threading.Thread(target=start) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    database = Database(database_url)
    with database.read() as connection:
        names = connection.execute(sa.select(tables.action_definitions.c.name)).scalars().all()
    database.dispose()
    assert names == ["std.wait_ssh"]
