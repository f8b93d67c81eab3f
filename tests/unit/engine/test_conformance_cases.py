"""The shared conformance cases (what real Mistral 23 returned), run through the pure driver.

Steps that are API calls become events (resume, cancel, rerun, skip);
``wait_*`` steps run the driver until the condition holds. ``min_seconds``
and ``max_seconds`` are checked against the fake clock.
"""

from __future__ import annotations

import pathlib
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from sirocco import testing
from sirocco.engine import events, states
from sirocco.engine.states import State
from sirocco.lang import specs

from . import parsing

CASES = pathlib.Path("/work/shared/conformance/cases")


def _cases() -> list[pathlib.Path]:
    if not CASES.is_dir():
        return []
    found = []
    for path in sorted(CASES.glob("*.yaml")):
        case = yaml.safe_load(path.read_text())
        if "create_error" in (case.get("expect") or {}):
            continue  # a definition error: the language tests cover it
        found.append(path)
    return found


def _load(
    case: dict[str, Any],
) -> tuple[specs.WorkflowSpec, list[specs.WorkflowSpec], list[specs.ActionSpec]]:
    workflows: dict[str, specs.WorkflowSpec] = {}
    adhoc: list[specs.ActionSpec] = []
    if "workflow" in case:
        workflows.update(parsing.workflows(case["workflow"]))
    if "workbook" in case:
        book = parsing.workbook(case["workbook"])
        workflows.update(book.workflows)
        adhoc.extend(book.actions.values())
    if "actions" in case:
        adhoc.extend(parsing.actions(case["actions"]))
    start = case.get("start") or next(iter(workflows))
    return workflows[start], list(workflows.values()), adhoc


def _match(expected: Any, actual: Any, path: str) -> list[str]:
    if isinstance(expected, str) and expected.startswith("~contains:"):
        needle = expected[len("~contains:") :]
        return (
            []
            if isinstance(actual, str | list) and needle in actual
            else [f"{path}: {actual!r} does not contain {needle!r}"]
        )
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{path}: expected a dict, got {actual!r}"]
        problems = []
        if set(expected) != set(actual):
            problems.append(f"{path}: keys {sorted(actual)} != {sorted(expected)}")
        for key in expected:
            if key in actual:
                problems.extend(_match(expected[key], actual[key], f"{path}.{key}"))
        return problems
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return [f"{path}: expected {expected!r}, got {actual!r}"]
        return [
            p
            for n, (e, a) in enumerate(zip(expected, actual, strict=True))
            for p in _match(e, a, f"{path}[{n}]")
        ]
    if type(expected) is not type(actual) or expected != actual:
        return [f"{path}: expected {expected!r}, got {actual!r}"]
    return []


def _check(run: testing.Run, expect: dict[str, Any], elapsed: float | None) -> list[str]:
    problems: list[str] = []
    workflow = run.workflow
    if "state" in expect and workflow.state != expect["state"]:
        problems.append(f"state {workflow.state} ({workflow.state_info})")
    if "state_info" in expect:
        problems.extend(_match(expect["state_info"], workflow.state_info, "state_info"))
    if "output" in expect:
        problems.extend(_match(expect["output"], workflow.output, "output"))
    found = run.tasks_of()
    by_name: dict[str, list[Any]] = {}
    for task in found:
        by_name.setdefault(task.name, []).append(task)
    if "task_count" in expect and len(found) != expect["task_count"]:
        problems.append(f"task_count {len(found)}")
    if "task_names" in expect and sorted(by_name) != sorted(expect["task_names"]):
        problems.append(f"task_names {sorted(by_name)}")
    for name, wanted in (expect.get("tasks") or {}).items():
        executions = by_name.get(name, [])
        if wanted == "absent":
            if executions:
                problems.append(f"task {name} ran")
            continue
        if isinstance(wanted, str):
            wanted = {"state": wanted}
        if not executions:
            problems.append(f"task {name} did not run")
            continue
        task = executions[-1]
        if "count" in wanted and len(executions) != wanted["count"]:
            problems.append(f"task {name}: {len(executions)} executions")
        if "state" in wanted and task.state != wanted["state"]:
            problems.append(f"task {name}: state {task.state} ({task.state_info})")
        if "published" in wanted:
            problems.extend(_match(wanted["published"], dict(task.published), f"{name}.published"))
        if "result" in wanted:
            problems.extend(_match(wanted["result"], task.result, f"{name}.result"))
        if "actions" in wanted and len(run.actions_of(task)) != wanted["actions"]:
            problems.append(f"task {name}: {len(run.actions_of(task))} actions")
    if elapsed is not None:
        if "min_seconds" in expect and elapsed < expect["min_seconds"]:
            problems.append(f"too fast: {elapsed}s")
        if "max_seconds" in expect and elapsed > expect["max_seconds"]:
            problems.append(f"too slow: {elapsed}s")
    if "sub_executions" in expect:
        subs = [w for w in run.workflows.values() if w.root_execution_id == workflow.id]
        wanted_subs = expect["sub_executions"]
        if "count" in wanted_subs and len(subs) != wanted_subs["count"]:
            problems.append(f"sub executions: {len(subs)}")
        if "states" in wanted_subs and sorted(w.state for w in subs) != sorted(
            wanted_subs["states"]
        ):
            problems.append(f"sub execution states: {[w.state for w in subs]}")
    return problems


def _ended(run: testing.Run) -> bool:
    return states.is_terminal(run.workflow.state)


def _wait_state(wanted: Any) -> Callable[[testing.Run], bool]:
    wanted_states = wanted if isinstance(wanted, list) else [wanted]
    return lambda run: run.workflow.state in wanted_states


def _wait_task(name: str, state: str | None) -> Callable[[testing.Run], bool]:
    def ready(run: testing.Run) -> bool:
        found = [task for task in run.tasks_of() if task.name == name]
        return bool(found) and (state is None or found[-1].state == state)

    return ready


@pytest.mark.parametrize("path", _cases(), ids=lambda path: path.stem)
def test_conformance_case(path: pathlib.Path) -> None:
    case = yaml.safe_load(path.read_text())
    spec, workflows, adhoc = _load(case)
    clock = testing.FakeClock()
    started = clock.now
    steps = case.get("steps") or []
    first_wait: Callable[[testing.Run], bool] = _ended
    if steps:
        first_wait = lambda run: True  # noqa: E731 - steps decide when to wait
    params = dict(case.get("params") or {})
    run = testing.run_until_idle(
        spec,
        input=case.get("input"),
        params=params,
        env=case.get("env"),
        workflows=workflows,
        adhoc_actions=adhoc,
        clock=clock,
        until=first_wait,
    )
    driver = run.driver
    assert driver is not None
    for step in steps:
        ((kind, argument),) = step.items()
        workflow_id = run.workflow.id
        if kind == "wait_state":
            driver.loop(until=_wait_state(argument))
        elif kind == "wait_task":
            driver.loop(until=_wait_task(argument["task"], argument.get("state")))
        elif kind == "check":
            assert _check(run, argument, None) == []
        elif kind == "sleep":
            clock.advance(float(argument))
        elif kind == "resume":
            driver.deliver(
                [
                    events.ResumeWorkflow(
                        workflow_execution_id=workflow_id, env=(argument or {}).get("env")
                    )
                ]
            )
        elif kind == "set_state":
            state = State(argument["state"])
            if state == State.PAUSED:
                driver.deliver([events.PauseWorkflow(workflow_execution_id=workflow_id)])
            elif state == State.RUNNING:
                driver.deliver([events.ResumeWorkflow(workflow_execution_id=workflow_id)])
            else:
                driver.deliver(
                    [
                        events.StopWorkflow(
                            workflow_execution_id=workflow_id,
                            state=state,
                            message=argument.get("state_info"),
                        )
                    ]
                )
        elif kind in ("rerun_task", "skip_task"):
            task = run.task(argument["task"])
            if kind == "rerun_task":
                driver.deliver(
                    [
                        events.RerunTask(
                            workflow_execution_id=workflow_id,
                            task_execution_id=task.id,
                            reset=bool(argument.get("reset", True)),
                            env=argument.get("env"),
                        )
                    ]
                )
            else:
                driver.deliver(
                    [events.SkipTask(workflow_execution_id=workflow_id, task_execution_id=task.id)]
                )
        else:
            pytest.fail(f"unknown step {kind}")
    driver.loop(until=_ended)
    assert run.problems == []
    elapsed = (clock.now - started).total_seconds()
    assert _check(run, case["expect"], elapsed) == []
