"""YAML scenarios run through the pure engine (``sirocco.testing.run_until_idle``).

Each file holds a workflow, its input, scripted action results per task
(``value``, ``error``, ``cancel`` or ``hold``, used in turn), optional steps
(``expect`` checks in between, ``resume``) and the expected outcome: the
state, the output, the task sequence (names in creation order), states,
state_infos, action counts and the seconds the fake clock moved.
"""

from __future__ import annotations

import pathlib
from typing import Any

import pytest
import yaml

from sirocco import testing
from sirocco.engine import events

HERE = pathlib.Path(__file__).parent


def _outcome(item: dict[str, Any]) -> Any:
    if "error" in item:
        return testing.Fail(item["error"])
    if "cancel" in item:
        return testing.Cancel(item["cancel"])
    if item.get("hold"):
        return testing.Hold()
    return item.get("value")


def _check(run: testing.Run, expect: dict[str, Any], seconds: float) -> None:
    workflow = run.workflow
    if "state" in expect:
        assert workflow.state == expect["state"], workflow.state_info
    if "state_info" in expect:
        assert workflow.state_info == expect["state_info"]
    if "output" in expect:
        assert workflow.output == expect["output"]
    if "tasks" in expect:
        assert run.task_names() == expect["tasks"]
    for name, state in (expect.get("states") or {}).items():
        assert run.task(name).state == state
    for name, info in (expect.get("state_infos") or {}).items():
        assert run.task(name).state_info == info
    for name, count in (expect.get("actions") or {}).items():
        assert len(run.actions_of(run.task(name))) == count
    if "seconds" in expect:
        assert seconds == expect["seconds"]


@pytest.mark.parametrize("path", sorted(HERE.glob("*.yaml")), ids=lambda path: path.stem)
def test_scenario(path: pathlib.Path) -> None:
    scenario = yaml.safe_load(path.read_text())
    found = testing.load_workflows(scenario["workflow"])
    spec = found[scenario.get("start") or next(iter(found))]
    script = {
        name: [_outcome(item) for item in items]
        for name, items in (scenario.get("script") or {}).items()
    }
    clock = testing.FakeClock()
    start = clock.now
    run = testing.run_until_idle(
        spec,
        input=scenario.get("input"),
        params=scenario.get("params"),
        env=scenario.get("env"),
        workflows=found.values(),
        adhoc_actions=testing.load_actions(scenario["actions"]) if "actions" in scenario else (),
        script=script,
        clock=clock,
    )
    driver = run.driver
    assert driver is not None
    for step in scenario.get("steps") or []:
        if "expect" in step:
            _check(run, step["expect"], (clock.now - start).total_seconds())
        elif "resume" in step:
            driver.send(
                events.ResumeWorkflow(
                    workflow_execution_id=run.workflow.id, env=(step["resume"] or {}).get("env")
                )
            )
    assert run.problems == []
    _check(run, scenario["expect"], (clock.now - start).total_seconds())
