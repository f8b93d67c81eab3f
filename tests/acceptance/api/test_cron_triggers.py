"""Cron triggers made through the API fire on time, once per tick, durably, with several schedulers.

Mistral refuses a first execution time less than a minute ahead, so instead of
waiting the tests drive the scheduler with a clock of their own: the
runtime's cron pass (``CronThread.fire_due``) and ``cron.claim_due`` take the
time as an argument. The engine, executor and API are the real ones.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from sirocco.api.app import create_app
from sirocco.cli.embedded import Embedded, open_embedded
from sirocco.runtime import cron as runtime_cron
from sirocco.store import cron, definitions, migrate, outbox, tables, triggers
from sirocco.store.database import Database
from tests.waiting import BOUND, wait_for

WORKFLOW = """version: '2.0'
ticked:
  input:
    - x
  tasks:
    t:
      action: std.echo output=<% $.x %>
"""


@pytest.fixture
def embedded(tmp_path: Any) -> Iterator[Embedded]:
    found = open_embedded(f"sqlite:///{tmp_path / 'cron.sqlite'}", start=False)
    found.parts.runtime.start(cron=False)  # the tests run the cron passes themselves
    try:
        yield found
    finally:
        found.close()


@pytest.fixture
def client(embedded: Embedded) -> Iterator[TestClient]:
    with TestClient(create_app(embedded.service)) as test_client:
        created = test_client.post(
            "/v2/workflows", content=WORKFLOW, headers={"content-type": "text/plain"}
        )
        assert created.status_code == 201, created.text
        yield test_client


def _first_time(minutes: int = 2) -> tuple[str, datetime]:
    """A first execution time Mistral accepts (minute precision, over a minute ahead)."""
    moment = datetime.now(UTC).replace(tzinfo=None, second=0, microsecond=0)
    moment += timedelta(minutes=minutes)
    return moment.strftime("%Y-%m-%d %H:%M"), moment


def _executions(client: TestClient, count: int) -> list[dict[str, Any]]:
    """The executions once ``count`` of them exist and all have finished."""
    found: list[dict[str, Any]] = []

    def finished() -> bool:
        found[:] = client.get("/v2/executions?include_output=true").json()["executions"]
        return len(found) >= count and all(item["state"] == "SUCCESS" for item in found)

    wait_for(finished, what=f"{count} executions to succeed", seen=lambda: found)
    return list(found)


def test_a_cron_trigger_starts_its_workflow_once_per_tick_and_counts_down(
    client: TestClient, embedded: Embedded
) -> None:
    text, first = _first_time()
    created = client.post(
        "/v2/cron_triggers",
        json={
            "name": "every_minute",
            "workflow_name": "ticked",
            "workflow_input": {"x": 7},
            "pattern": "* * * * *",
            "first_execution_time": text,
            "remaining_executions": 3,
        },
    )
    assert created.status_code == 201, created.text
    trigger = created.json()
    assert trigger["next_execution_time"] == first.strftime("%Y-%m-%d %H:%M:%S")
    clock = {"now": first - timedelta(seconds=1)}
    runtime = embedded.parts.runtime
    scheduler = runtime_cron.CronThread(
        runtime.database, runtime.intake.start_from_outbox, lambda: clock["now"]
    )

    assert scheduler.fire_due() == 0  # not yet
    clock["now"] = first
    assert scheduler.fire_due() == 1
    assert scheduler.fire_due() == 0  # the same tick starts nothing more
    started = _executions(client, 1)
    assert json.loads(started[0]["output"]) == {}
    assert json.loads(started[0]["input"]) == {"x": 7}
    assert json.loads(started[0]["description"]) == {
        "description": f"Workflow execution created by cron trigger '({trigger['id']})'.",
        "triggered_by": {"type": "cron_trigger", "id": trigger["id"]},
    }
    after_one = client.get("/v2/cron_triggers/every_minute").json()
    assert after_one["remaining_executions"] == 2
    assert after_one["next_execution_time"] == _shown(first + timedelta(minutes=1))

    clock["now"] = first + timedelta(minutes=1, seconds=5)
    assert scheduler.fire_due() == 1
    after_two = client.get("/v2/cron_triggers/every_minute").json()
    assert after_two["remaining_executions"] == 1
    assert after_two["next_execution_time"] == _shown(first + timedelta(minutes=2))

    # Missed ticks are not replayed: one start, and the last run deletes the trigger.
    clock["now"] = first + timedelta(minutes=9)
    assert scheduler.fire_due() == 1
    assert client.get("/v2/cron_triggers/every_minute").status_code == 404
    clock["now"] = first + timedelta(minutes=20)
    assert scheduler.fire_due() == 0
    assert len(_executions(client, 3)) == 3


def test_a_trigger_with_only_a_first_time_runs_once_and_is_deleted(
    client: TestClient, embedded: Embedded
) -> None:
    text, first = _first_time(minutes=3)
    created = client.post(
        "/v2/cron_triggers",
        json={
            "name": "once",
            "workflow_name": "ticked",
            "workflow_input": {"x": 1},
            "first_execution_time": text,
        },
    ).json()
    assert (created["pattern"], created["remaining_executions"]) == ("0 0 30 2 0", 1)
    database = embedded.parts.database
    assert cron.claim_due(database, first - timedelta(seconds=30)) == []
    claimed = cron.claim_due(database, first + timedelta(seconds=1))
    assert len(claimed) == 1
    assert client.get("/v2/cron_triggers/once").status_code == 404
    # "0 0 30 2 0" must never be followed: croniter would find Sundays of February.
    for days in (1, 30, 90, 400):
        assert cron.claim_due(database, first + timedelta(days=days)) == []


def test_a_claimed_tick_survives_a_crash_before_the_start(
    client: TestClient, embedded: Embedded
) -> None:
    text, first = _first_time()
    client.post(
        "/v2/cron_triggers",
        json={
            "name": "durable",
            "workflow_name": "ticked",
            "workflow_input": {"x": 2},
            "pattern": "*/5 * * * *",
            "first_execution_time": text,
        },
    )
    database = embedded.parts.database
    # The tick is claimed (trigger advanced, start written to the outbox in the same
    # transaction) but the process "dies" before starting the workflow.
    ((outbox_id, payload),) = cron.claim_due(database, first)
    assert client.get("/v2/executions").json()["executions"] == []
    with database.read() as connection:
        kinds = connection.execute(
            sa.select(tables.outbox.c.kind).where(tables.outbox.c.id == outbox_id)
        ).scalars()
        assert list(kinds) == [outbox.Kind.CRON_START]
    embedded.parts.runtime.recover()  # what a restarted process does first
    (started,) = _executions(client, 1)
    assert started["id"] == payload["execution_id"]
    embedded.parts.runtime.recover()  # delivered once: the outbox row is gone
    time.sleep(0.1)
    assert len(client.get("/v2/executions").json()["executions"]) == 1
    remaining = client.get("/v2/cron_triggers/durable").json()
    assert remaining["next_execution_time"] == _shown(_next_five(first))


# ---------------------------------------------------------------- several schedulers


def _store_triggers(database: Database, count: int, now: datetime) -> None:
    with database.transaction() as connection:
        definitions.create_workflows(connection, WORKFLOW, now=now)
        for index in range(count):
            triggers.create_cron_trigger(
                connection,
                name=f"race_{index}",
                workflow="ticked",
                workflow_input={"x": index},
                workflow_params=None,
                pattern="* * * * *",
                first_execution_time=None,
                remaining_executions=None,
                now=now,
            )


def _race(databases: list[Database], now: datetime) -> list[str]:
    """Every scheduler claims at the same moment, twice; the trigger ids they started."""
    barrier = threading.Barrier(len(databases))
    claimed: list[str] = []
    lock = threading.Lock()
    failures: list[BaseException] = []

    def schedule(database: Database) -> None:
        try:
            barrier.wait(BOUND)
            for _ in range(2):
                for _outbox_id, payload in cron.claim_due(database, now):
                    trigger = json.loads(payload["description"])["triggered_by"]["id"]
                    with lock:
                        claimed.append(trigger)
        except BaseException as exc:  # reported below, in the test's thread
            failures.append(exc)

    threads = [threading.Thread(target=schedule, args=(item,)) for item in databases]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(BOUND)
    assert not failures, failures
    return claimed


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_concurrent_schedulers_never_start_the_same_tick_twice(
    kind: str, request: pytest.FixtureRequest, tmp_path: Any
) -> None:
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'race.sqlite'}"
    else:
        url = str(request.getfixturevalue("postgres_url"))
    setup = Database(url)
    migrate.upgrade(setup)
    created = datetime(2030, 1, 1, 12, 0, 0)
    _store_triggers(setup, 30, created)
    # Each scheduler has its own engine and pool, as separate processes would.
    schedulers = [Database(url) for _ in range(3)]
    try:
        first_tick = _race(schedulers, created + timedelta(minutes=1))
        assert sorted(first_tick) == sorted(set(first_tick))  # no tick started twice
        assert len(first_tick) == 30
        second_tick = _race(schedulers, created + timedelta(minutes=2))
        assert len(second_tick) == len(set(second_tick)) == 30
        with setup.read() as connection:
            starts = connection.execute(
                sa.select(sa.func.count()).where(tables.outbox.c.kind == outbox.Kind.CRON_START)
            ).scalar_one()
        assert starts == 60
    finally:
        for database in [setup, *schedulers]:
            database.dispose()


def _shown(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _next_five(moment: datetime) -> datetime:
    """The next ``*/5`` minute after ``moment``."""
    following = moment + timedelta(minutes=1)
    while following.minute % 5:
        following += timedelta(minutes=1)
    return following


def test_no_tick_fires_in_maintenance_mode(client: TestClient, embedded: Embedded) -> None:
    text, first = _first_time()
    created = client.post(
        "/v2/cron_triggers",
        json={"name": "held", "workflow_name": "ticked", "workflow_input": {"x": 1},
              "pattern": "* * * * *", "first_execution_time": text},
    )  # fmt: skip
    assert created.status_code == 201, created.text
    runtime = embedded.parts.runtime
    scheduler = runtime_cron.CronThread(
        runtime.database, runtime.intake.start_from_outbox, lambda: first
    )
    assert client.put("/maintenance", json={"status": "PAUSED"}).json() == {"status": "PAUSING"}
    assert scheduler.fire_due() == 0  # due, but held while maintenance is on
    assert client.get("/v2/executions").json()["executions"] == []
    assert client.put("/maintenance", json={"status": "RUNNING"}).json() == {"status": "RUNNING"}
    assert scheduler.fire_due() == 1
    assert len(_executions(client, 1)) == 1
