"""What the executor tests on the database path share: RunAction rows put in the outbox,
and a delivery whose taker never wakes, so that a test calls ``take`` itself."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import sqlalchemy as sa

from sirocco.clock import utcnow
from sirocco.engine import commands
from sirocco.runtime import codec, delivery
from sirocco.store import outbox
from sirocco.store.database import Database
from tests.waiting import BOUND


class Asleep(delivery.DatabaseDelivery):
    """The database path, with a taker that never wakes (until the worker stops): the
    test calls ``take`` itself."""

    def wait(self, channel: str, timeout: float | None = None) -> None:
        self._closing.wait(BOUND)


def insert_run_actions(
    database: Database,
    numbers: Iterable[int],
    *,
    action_name: str = "std.echo",
    input_of: Callable[[int], dict[str, Any]] = lambda number: {"output": number},
) -> None:
    """One RunAction row per number (row ``row-N`` of action ``action-N``, of task
    ``task-N`` of workflow ``workflow-N``), queued now, in one transaction."""
    now = utcnow()
    with database.transaction() as connection:
        outbox.insert(
            connection,
            [
                outbox.row(
                    id=f"row-{number}",
                    kind=outbox.Kind.RUN_ACTION,
                    payload=codec.encode(
                        commands.RunAction(
                            action_execution_id=f"action-{number}",
                            workflow_execution_id=f"workflow-{number}",
                            task_execution_id=f"task-{number}",
                            action_name=action_name,
                            input=input_of(number),
                            execution={},
                        )
                    ),
                    created_at=now,
                )
                for number in numbers
            ],
        )


def waiting_for_locks(database: Database) -> bool:
    """Whether a session of this database waits for a row lock (PostgreSQL)."""
    with database.read() as connection:
        waiting = connection.execute(
            sa.text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND wait_event_type = 'Lock'"
            )
        ).scalar_one()
    return bool(waiting)
