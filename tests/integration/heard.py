"""A connection of the test's own that LISTENs on PostgreSQL channels and tells which one
each notification came on, in order (tests of who is woken)."""

from __future__ import annotations

from sirocco.store import notify
from sirocco.store.database import Database, connect_session
from tests.waiting import BOUND


class Heard:
    """Notifications on ``channels`` read by a connection of the test's own, in order."""

    def __init__(self, database: Database, channels: list[str]) -> None:
        self.connection = connect_session(database.session_conninfo() or "")
        for channel in [*channels, "test_marker"]:
            self.connection.execute(f'LISTEN "{channel}"')

    def until_marker(self, database: Database) -> list[str]:
        """The channels heard, up to a marker the test sends now (after what it sent)."""
        with database.transaction() as connection:
            notify.send(connection, "test_marker")
        heard: list[str] = []
        for item in self.connection.notifies(timeout=BOUND):
            if item.channel == "test_marker":
                return heard
            heard.append(item.channel)
        raise AssertionError(f"no marker within {BOUND} s; heard {heard}")

    def close(self) -> None:
        self.connection.close()
