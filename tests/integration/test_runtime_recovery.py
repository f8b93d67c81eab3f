"""Durability: what a process committed before it died is finished by the next one.

A "crash" here is a process that committed a step and never dispatched what
it wrote (outbox rows, timers), or an executor that ran an action and died
before its result reached the engine. The next process on the same database
must finish the execution, and must not run a side effect twice unless the
task says ``safe-rerun: true``.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from sirocco import clock as clock_module
from sirocco import testing
from sirocco.cli.embedded import Embedded
from sirocco.engine import commands, events
from sirocco.engine.states import State
from sirocco.runtime import in_flight, timers
from sirocco.runtime.work import Envelope, StartItem
from sirocco.store import sources, tables
from tests.integration import helpers
from tests.waiting import BOUND

ADHOC_EFFECT = """
version: '2.0'
append_twice_safe:
  base: test.append
  base-input:
    path: <% $.target %>
    line: <% $.words %>
  input: [target, words]
  output: <% $.toUpper() %>
"""

SIDE_EFFECT = """
version: '2.0'
effect:
  input: [path]
  tasks:
    write:
      action: test.append path=<% $.path %> line="written"
      publish:
        line: <% task().result %>
      on-success: [after]
    after:
      action: std.echo output="after <% $.line %>"
      publish:
        done: <% task().result %>
  output:
    done: <% $.done %>

safe_effect:
  input: [path]
  tasks:
    write:
      action: test.append path=<% $.path %> line="written"
      safe-rerun: true
      publish:
        line: <% task().result %>
  output:
    line: <% $.line %>

delayed:
  tasks:
    later:
      wait-before: 1
      action: std.echo output="on time"
      publish:
        said: <% task().result %>
  output:
    said: <% $.said %>

safe_adhoc_effect:
  input: [path]
  tasks:
    write:
      action: append_twice_safe target=<% $.path %> words="written"
      safe-rerun: true
      publish:
        line: <% task().result %>
  output:
    line: <% $.line %>

items:
  input: [path]
  tasks:
    each:
      with-items: n in [1, 2, 3]
      action: test.append path=<% $.path %> line="item <% $.n %>"
      publish:
        lines: <% task().result %>
  output:
    lines: <% $.lines %>
"""


def _start_item(app: Embedded, workflow: str, workflow_input: dict[str, Any]) -> StartItem:
    found = sources.find_workflow(app.parts.database, workflow)
    return StartItem(
        spec_name=found.name,
        definition=found.definition,
        workbook=found.workbook,
        workflow_id=found.id,
        execution_id=str(uuid.uuid4()),
        input=workflow_input,
        params={},
    )


def _commit_start_and_die(
    url: str,
    workflow: str,
    workflow_input: dict[str, Any],
    clock: Any = None,
    *,
    own_executor: bool = True,
) -> str:
    """A process that commits the start of ``workflow`` and dies before dispatching it;
    ``own_executor``: its actions were for its own executor (else for executor processes)."""
    app = helpers.build(url, clock=clock)
    try:
        if not own_executor:
            app.parts.runtime.attach_executor(None, None)
        helpers.deploy(app, SIDE_EFFECT)
        item = _start_item(app, workflow, workflow_input)
        result = app.parts.runtime.stepper.run_batch([item], {})
        assert not result.failed_starts
        return item.execution_id  # what it left for the dispatcher is lost
    finally:
        app.close()


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def test_outbox_rows_of_a_dead_process_are_sent_on_restart(
    database_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "effects.txt"
    execution_id = _commit_start_and_die(
        database_url, "effect", {"path": str(path)}, own_executor=False
    )
    with helpers.embedded(database_url, start=False) as app:
        kinds = [(row.kind, row.claimed_until) for row in _outbox(app)]
        assert kinds == [("RunAction", None)]  # never handed: it runs after the restart
        (write,) = helpers.tasks(app, execution_id)
        assert [action.state for action in helpers.actions(app, write.id)] == ["RUNNING"]
        assert not path.exists()
        app.parts.runtime.start()
        row = helpers.wait_for(app, execution_id)
        assert row.state == "SUCCESS", row.state_info
        assert row.output == {"done": "after written"}
        assert _lines(path) == ["written"]
        assert _outbox(app) == []


def test_an_action_for_its_own_executor_is_committed_handed_and_fails_after_a_crash(
    database_url: str, tmp_path: Path
) -> None:
    """The step that makes an action its process's executor runs writes the row handed (no
    second transaction marks it): a crash right after that commit may have run it, so on
    restart it fails like any handed-over action that is not safe to run again."""
    path = tmp_path / "effects.txt"
    execution_id = _commit_start_and_die(database_url, "effect", {"path": str(path)})
    with helpers.embedded(database_url, start=False) as app:
        (row,) = _outbox(app)
        assert (row.kind, row.claimed_until) == ("RunAction", in_flight.HANDED)
        assert row.holder is not None and row.holder.startswith("server@")
        assert row.held_since == row.created_at
        app.parts.runtime.start()
        done = helpers.wait_for(app, execution_id)
        assert done.state == "ERROR"
        assert "cannot be re-run safely" in (done.state_info or "")
        assert not path.exists()  # not run after the restart
        assert _outbox(app) == []


def test_timer_of_a_dead_process_fires_after_restart(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(timers, "IDLE_POLL", 0.02)
    clock = testing.FakeClock(clock_module.utcnow_seconds())
    execution_id = _commit_start_and_die(database_url, "delayed", {}, clock)
    with helpers.embedded(database_url, clock=clock, start=False) as app:
        assert helpers.task_states(app, execution_id) == {"later": "DELAYED"}
        assert helpers.count_rows(app, tables.timers) == 1
        app.parts.runtime.start()
        row = helpers.run_on_clock(app, execution_id, clock)  # the restarted process fires it
        assert row.state == "SUCCESS", row.state_info
        assert row.output == {"said": "on time"}
        assert helpers.count_rows(app, tables.timers) == 0


def _run_and_lose_the_result(
    url: str, workflow: str, path: Path
) -> tuple[str, list[commands.RunAction]]:
    """A process whose executor runs the action (its side effect happens) and dies before
    the result reaches the engine."""
    app = helpers.build(url)
    taken: list[commands.RunAction] = []

    def executor_that_dies(command: commands.RunAction, *_: Any) -> None:
        taken.append(command)
        with Path(command.input["path"]).open("a") as handle:
            handle.write(command.input["line"] + "\n")

    try:
        app.parts.runtime.attach_executor(executor_that_dies, None)
        app.parts.runtime.start()
        helpers.deploy(app, ADHOC_EFFECT)
        helpers.deploy(app, SIDE_EFFECT)
        execution_id = helpers.start(app, workflow, {"path": str(path)})
        helpers.wait_until(lambda: bool(taken))
        app.parts.runtime.intake.barrier().result(BOUND)
    finally:
        app.close()
    return execution_id, taken


def test_handed_over_action_is_not_run_twice(database_url: str, tmp_path: Path) -> None:
    path = tmp_path / "effects.txt"
    execution_id, taken = _run_and_lose_the_result(database_url, "effect", path)
    assert len(taken) == 1 and _lines(path) == ["written"]
    with helpers.embedded(database_url) as app:
        row = helpers.wait_for(app, execution_id)
        assert row.state == "ERROR"
        assert _lines(path) == ["written"]  # not run again
        write = helpers.task(app, execution_id, "write")
        assert write.state == "ERROR"
        (action,) = helpers.actions(app, write.id)
        assert action.state == "ERROR"
        assert action.id == taken[0].action_execution_id
        assert "cannot be re-run safely" in (action.state_info or "")
        assert "after" not in helpers.task_states(app, execution_id)


def test_handed_over_safe_rerun_action_runs_again(database_url: str, tmp_path: Path) -> None:
    path = tmp_path / "effects.txt"
    execution_id, taken = _run_and_lose_the_result(database_url, "safe_effect", path)
    assert len(taken) == 1 and _lines(path) == ["written"]
    with helpers.embedded(database_url) as app:
        row = helpers.wait_for(app, execution_id)
        assert row.state == "SUCCESS", row.state_info
        assert row.output == {"line": "written"}
        assert _lines(path) == ["written", "written"]  # allowed: safe-rerun
        write = helpers.task(app, execution_id, "write")
        assert [action.state for action in helpers.actions(app, write.id)] == ["SUCCESS"]


def test_handed_over_safe_rerun_adhoc_action_runs_its_base_again(
    database_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "effects.txt"
    execution_id, taken = _run_and_lose_the_result(database_url, "safe_adhoc_effect", path)
    assert [command.action_name for command in taken] == ["test.append"]
    assert _lines(path) == ["written"]
    with helpers.embedded(database_url) as app:
        helpers.deploy(app, ADHOC_EFFECT)
        row = helpers.wait_for(app, execution_id)
        assert row.state == "SUCCESS", row.state_info
        assert row.output == {"line": "WRITTEN"}
        assert _lines(path) == ["written", "written"]


def test_with_items_results_committed_before_a_crash_complete_after_restart(
    database_url: str, tmp_path: Path
) -> None:
    """Every item handed over and reported, the step committed, the completion timer never
    delivered."""
    path = tmp_path / "effects.txt"
    app = helpers.build(database_url)
    try:
        helpers.deploy(app, SIDE_EFFECT)
        item = _start_item(app, "items", {"path": str(path)})
        stepper = app.parts.runtime.stepper
        started = stepper.run_batch([item], {})
        runs = [
            command
            for _, command in started.outgoing.items
            if isinstance(command, commands.RunAction)
        ]
        assert len(runs) == 3
        with app.parts.database.transaction() as connection:  # handed to the executor
            connection.execute(sa.delete(tables.outbox))
        results = [
            Envelope(
                event=events.ActionCompleted(
                    workflow_execution_id=item.execution_id,
                    action_execution_id=command.action_execution_id,
                    state=State.SUCCESS,
                    result=f"item {command.input['line'][-1]}",
                    message=None,
                ),
            )
            for command in runs
        ]
        stepper.run_batch([], {item.execution_id: results})
    finally:
        app.close()
    with helpers.embedded(database_url) as app:
        row = helpers.wait_for(app, item.execution_id)
        assert row.state == "SUCCESS", row.state_info
        assert row.output == {"lines": ["item 1", "item 2", "item 3"]}
        assert not path.exists()  # the results came in; nothing ran again


def test_a_duplicate_result_is_ignored(database_url: str, tmp_path: Path) -> None:
    path = tmp_path / "effects.txt"
    with helpers.embedded(database_url) as app:
        helpers.deploy(app, SIDE_EFFECT)
        row = helpers.run(app, "effect", {"path": str(path)})
        assert row.state == "SUCCESS", row.state_info
        write = helpers.task(app, row.id, "write")
        (action,) = helpers.actions(app, write.id)
        before = [(task.name, task.state, task.published) for task in helpers.tasks(app, row.id)]
        app.parts.runtime.intake.event(
            events.ActionCompleted(
                workflow_execution_id=row.id,
                action_execution_id=action.id,
                state=State.ERROR,
                result=None,
                message="a late duplicate",
            )
        )
        app.parts.runtime.intake.barrier().result(BOUND)
        after = [(task.name, task.state, task.published) for task in helpers.tasks(app, row.id)]
        assert after == before
        assert helpers.execution(app, row.id).state == "SUCCESS"
        assert helpers.actions(app, write.id)[0].state == "SUCCESS"


def _outbox(app: Embedded) -> list[Any]:
    with app.parts.database.read() as connection:
        return list(connection.execute(sa.select(tables.outbox)))
