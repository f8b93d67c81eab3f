"""Retention beyond Mistral's policy: rules per workflow and per state, the JSON-lines export
before deletion, and a soak with the periodic policy running (SQLite and PostgreSQL)."""

from __future__ import annotations

import functools
import json
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

from sirocco.runtime import expiration as periodic
from sirocco.store import expiration, tables
from tests.integration import helpers

WORKFLOWS = """
version: '2.0'
fine:
  tasks:
    only:
      action: std.noop
boom:
  tasks:
    bad:
      action: std.fail error_data="disk full"
flaky_job:
  tasks:
    bad:
      action: std.fail error_data="flaky"
nightly_backup:
  tasks:
    only:
      action: std.noop
nightlyxbackup:
  tasks:
    only:
      action: std.noop
parent:
  tasks:
    call:
      workflow: child
child:
  tasks:
    work:
      action: std.echo output="done"
"""

_ex = tables.workflow_executions


def _roots(app: helpers.Embedded) -> dict[str, str]:
    """The root executions left: id -> workflow name."""
    with app.parts.database.read() as connection:
        rows = connection.execute(
            sa.select(_ex.c.id, _ex.c.workflow_name).where(_ex.c.task_execution_id.is_(None))
        )
        return {row.id: row.workflow_name for row in rows}


def _count(app: helpers.Embedded, table: sa.Table) -> int:
    with app.parts.database.read() as connection:
        return int(connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def _ended_or_gone(app: helpers.Embedded, execution_id: str) -> bool:
    with app.parts.database.read() as connection:
        state = connection.execute(
            sa.select(_ex.c.state).where(_ex.c.id == execution_id)
        ).scalar_one_or_none()
    return state is None or state in helpers.ENDED


def test_rules_per_workflow_and_per_state(database_url: str) -> None:
    policy = expiration.Policy(
        older_than=timedelta(hours=1),
        rules=(
            expiration.Rule(state="ERROR", older_than=timedelta(days=7)),
            expiration.Rule(workflow="nightly_*", older_than=timedelta(minutes=1)),
            expiration.Rule(workflow="flaky_*", state="ERROR", older_than=timedelta(minutes=30)),
        ),
    )
    with helpers.embedded(database_url) as app:
        helpers.deploy(app, WORKFLOWS)
        names = ["fine", "boom", "flaky_job", "nightly_backup", "nightlyxbackup", "parent"]
        for name in names:
            helpers.wait_for(app, helpers.start(app, name))
        ended = app.parts.runtime.clock()
        database = app.parts.database

        def left_after(delay: timedelta) -> list[str]:
            periodic.run_once(database, policy, ended + delay)
            return sorted(_roots(app).values())

        assert left_after(timedelta(seconds=30)) == sorted(names)
        # the nightly rule; `_` in the pattern is a character, not LIKE's wildcard
        assert left_after(timedelta(minutes=2)) == sorted(set(names) - {"nightly_backup"})
        # the workflow-and-state rule wins over the state rule
        assert left_after(timedelta(minutes=45)) == ["boom", "fine", "nightlyxbackup", "parent"]
        # the policy's own older_than; ERROR kept by its rule
        assert left_after(timedelta(hours=2)) == ["boom"]
        assert _count(app, _ex) == 1  # the child went with its parent
        assert left_after(timedelta(days=8)) == []


def test_a_rule_alone_expires_only_what_it_names(database_url: str) -> None:
    policy = expiration.Policy(rules=(expiration.Rule(state="ERROR", older_than=timedelta(0)),))
    assert policy.enabled
    with helpers.embedded(database_url) as app:
        helpers.deploy(app, WORKFLOWS)
        for name in ("fine", "boom"):
            helpers.wait_for(app, helpers.start(app, name))
        later = app.parts.runtime.clock() + timedelta(days=365)
        assert periodic.run_once(app.parts.database, policy, later) == 1
        assert sorted(_roots(app).values()) == ["fine"]


def test_expired_executions_are_exported_as_json_lines(database_url: str, tmp_path: Path) -> None:
    export = tmp_path / "expired.jsonl"
    policy = expiration.Policy(older_than=timedelta(0), batch_size=1)
    with helpers.embedded(database_url) as app:
        helpers.deploy(app, WORKFLOWS)
        parent = helpers.start(app, "parent")
        boom = helpers.start(app, "boom")
        for execution_id in (parent, boom):
            helpers.wait_for(app, execution_id)
        later = app.parts.runtime.clock() + timedelta(seconds=1)
        assert periodic.run_once(app.parts.database, policy, later, export) == 2
        assert _roots(app) == {}
        assert _count(app, tables.task_executions) == 0
    lines = export.read_text().splitlines()
    records = {record["id"]: record for record in map(json.loads, lines)}
    assert set(records) == {parent, boom} and len(lines) == 2
    outer = records[parent]
    assert (outer["workflow_name"], outer["state"]) == ("parent", "SUCCESS")
    (call,) = outer["tasks"]
    assert (call["name"], call["state"], call["actions"]) == ("call", "SUCCESS", [])
    (child,) = call["workflow_executions"]
    assert (child["workflow_name"], child["task_execution_id"]) == ("child", call["id"])
    (work,) = child["tasks"]
    assert work["actions"][0]["name"] == "std.echo"
    assert work["actions"][0]["output"] == "done"  # the result as stored
    failed = records[boom]
    assert failed["state"] == "ERROR"
    (bad,) = failed["tasks"]
    assert bad["actions"][0]["state"] == "ERROR"
    assert "disk full" in bad["state_info"]
    assert failed["created_at"] <= failed["updated_at"]


def test_a_soak_with_the_periodic_policy_stays_under_the_bound(
    database_url: str, tmp_path: Path
) -> None:
    """Executions keep being created while the policy runs in its thread: the database
    never holds more than the policy's bound plus one round, and every deleted execution
    is in the export."""
    export = tmp_path / "expired.jsonl"
    keep, per_round, rounds = 4, 5, 6
    policy = expiration.Policy(
        max_finished_executions=keep,
        batch_size=3,
        rules=(expiration.Rule(state="ERROR", older_than=timedelta(0)),),
    )
    with helpers.embedded(database_url) as app:
        helpers.deploy(app, WORKFLOWS)
        expirer = periodic.Expiration(
            app.parts.database,
            policy,
            interval=0.05,
            clock=app.parts.runtime.clock,
            export=export,
        )
        expirer.start()
        started: list[str] = []
        most = 0
        try:
            for _ in range(rounds):
                batch = [helpers.start(app, "parent") for _ in range(per_round - 1)]
                batch.append(helpers.start(app, "boom"))
                for execution_id in batch:  # the policy may delete it as soon as it ends
                    helpers.wait_until(
                        functools.partial(_ended_or_gone, app, execution_id),
                        what=f"{execution_id} to end",
                    )
                started += batch
                most = max(most, _count(app, _ex))
                helpers.wait_until(
                    lambda: len(_roots(app)) <= keep, what=f"at most {keep} root executions"
                )
                most = max(most, _count(app, _ex))
            # ERROR ones expire as soon as a pass sees them ended, by their rule
            helpers.wait_until(
                lambda: set(_roots(app).values()) == {"parent"}, what="only parents left"
            )
        finally:
            expirer.stop()
        # each parent has a child: (kept + one round) roots, twice over, at the very most
        assert most <= 2 * (keep + per_round)
        left = _roots(app)
        assert len(left) <= keep
        assert _count(app, tables.task_executions) == 2 * len(left)
    exported = [json.loads(line)["id"] for line in export.read_text().splitlines()]
    assert len(exported) == len(set(exported))
    assert sorted(exported + list(left)) == sorted(started)
