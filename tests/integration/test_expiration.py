"""The execution expiration policy: finished root executions deleted with their children;
under a soak with the policy running, the database stays under a bound."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from sirocco.runtime import expiration as periodic
from sirocco.settings import Settings
from sirocco.store import expiration, tables
from tests.integration import helpers

WORKFLOWS = """
version: '2.0'
parent:
  tasks:
    call:
      workflow: child
child:
  tasks:
    work:
      action: std.noop
held:
  tasks:
    wait:
      action: test.hold
"""


def _counts(app: object) -> dict[str, int]:
    with app.parts.database.read() as connection:  # type: ignore[attr-defined]
        return {
            table.name: connection.execute(
                sa.select(sa.func.count()).select_from(table)
            ).scalar_one()
            for table in (
                tables.workflow_executions,
                tables.task_executions,
                tables.action_executions,
            )
        }


def test_a_soak_stays_under_the_bound(database_url: str, gate: object) -> None:
    policy = expiration.Policy(max_finished_executions=3, batch_size=2)
    with helpers.embedded(database_url) as app:
        helpers.deploy(app, WORKFLOWS)
        running = helpers.start(app, "held")
        for round_number in range(4):
            started = [helpers.start(app, "parent") for _ in range(3)]
            for execution_id in started:
                assert helpers.wait_for(app, execution_id).state == "SUCCESS"
            periodic.run_once(app.parts.database, policy, app.parts.runtime.clock())
            counts = _counts(app)
            # 3 finished parents with a child each, and the running one
            assert counts["workflow_executions"] == 3 * 2 + 1, (round_number, counts)
            assert counts["task_executions"] == 3 * 2 + 1
            assert counts["action_executions"] == 3 + 1
        with app.parts.database.read() as connection:
            kept = set(connection.execute(sa.select(tables.workflow_executions.c.id)).scalars())
        assert set(started) <= kept and running in kept
        # older_than: every finished one is older than 0 minutes; RUNNING is never touched
        later = app.parts.runtime.clock() + timedelta(seconds=1)
        older = expiration.Policy(older_than=timedelta(0), ignored_states=("ERROR",))
        assert periodic.run_once(app.parts.database, older, later) == 3
        assert _counts(app)["workflow_executions"] == 1
        gate.set()  # type: ignore[attr-defined]
        assert helpers.wait_for(app, running).state == "SUCCESS"


def test_the_policy_comes_from_settings() -> None:
    settings = Settings.load(
        environ={
            "SIROCCO_EXPIRATION_OLDER_THAN": "90",
            "SIROCCO_EXPIRATION_MAX_FINISHED_EXECUTIONS": "1000",
            "SIROCCO_EXPIRATION_BATCH_SIZE": "50",
            "SIROCCO_EXPIRATION_IGNORED_STATES": "error, cancelled",
        }
    )
    policy = settings.expiration_policy()
    assert policy.older_than == timedelta(minutes=90)
    assert policy.max_finished_executions == 1000 and policy.batch_size == 50
    assert policy.states() == ["SUCCESS"]
    assert not Settings.load(environ={}).expiration_policy().enabled
