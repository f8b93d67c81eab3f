"""Run a case (or a scenario) through the pure engine driver (``sirocco.testing``).

Steps that are API calls become events (resume, cancel, rerun, skip);
``wait_*`` steps run the driver until the condition holds; ``sleep`` moves
the fake clock. A scenario (``tests/scenarios``) is a case with ``script``:
per task name, the results its actions return in turn (``value``, ``error``,
``cancel`` or ``hold``), where the oracle's cases run the real actions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest

from sirocco import testing
from sirocco.engine import events, states
from sirocco.engine.states import State
from sirocco.lang import specs
from tests.conformance import casekit
from tests.unit.engine import parsing


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


def observe(run: testing.Run, elapsed: float | None) -> casekit.Observed:
    workflow = run.workflow
    return casekit.Observed(
        state=str(workflow.state),
        state_info=workflow.state_info,
        output=workflow.output,
        input=dict(workflow.input),
        tasks=[
            casekit.ObservedTask(
                name=task.name,
                state=str(task.state),
                state_info=task.state_info,
                published=dict(task.published),
                result=task.result,
                actions=len(run.actions_of(task)),
                runtime_context=task.runtime.to_dict(),
            )
            for task in run.tasks_of()
        ],
        sub_states=[
            str(child.state)
            for child in run.workflows.values()
            if child.root_execution_id == workflow.id and child.id != workflow.id
        ],
        elapsed=elapsed,
    )


def check(run: testing.Run, expect: Mapping[str, Any], elapsed: float | None) -> list[str]:
    """What differs between ``expect`` and the run (empty when it matches)."""
    return casekit.check(expect, observe(run, elapsed))


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


def scripted(case: Mapping[str, Any]) -> dict[str, list[Any]]:
    """A scenario's ``script`` as the driver takes it."""
    return {
        name: [_outcome(item) for item in items]
        for name, items in (case.get("script") or {}).items()
    }


def _outcome(item: Mapping[str, Any]) -> Any:
    if "error" in item:
        return testing.Fail(item["error"])
    if "cancel" in item:
        return testing.Cancel(item["cancel"])
    if item.get("hold"):
        return testing.Hold()
    return item.get("value")


def run(case: Mapping[str, Any]) -> tuple[testing.Run, float]:
    """Run ``case`` and its steps to the end; the run and the seconds the clock moved."""
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
        script=scripted(case),
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
            assert check(run, argument, None) == []
        elif kind == "sleep":
            driver.advance(float(argument))
        elif kind == "resume":
            driver.deliver(
                [
                    events.ResumeWorkflow(
                        workflow_execution_id=workflow_id, env=(argument or {}).get("env")
                    )
                ]
            )
        elif kind == "put_execution" and "state" not in argument:
            if int(argument.get("expect_status") or 200) < 400:
                pytest.skip("an env update without a state change has no engine event")
        elif kind in ("set_state", "put_execution"):
            known = len(run.problems)
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
            if int(argument.get("expect_status") or 200) >= 400:
                del run.problems[known:]  # the API refuses it; the engine changes nothing
        elif kind in ("rerun_task", "skip_task"):
            task = run.task(argument["task"])
            refused = int(argument.get("expect_status") or 200) >= 400
            known = len(run.problems)
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
            if refused:
                # The API refuses it; the engine, given it anyway, changes nothing.
                assert len(run.problems) == known + 1
                del run.problems[known:]
        else:
            pytest.fail(f"unknown step {kind}")
    driver.loop(until=_ended)
    elapsed = (clock.now - started).total_seconds()  # to the end, as run_cases.py measures
    if case.get("settle"):
        driver.loop()  # what is still running may finish after the end
    return run, elapsed
