"""Cancelling a running action: std.sleep stops waiting and reports CANCELLED; the executor
pool tells the actions of the cancelled execution only."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from sirocco.actions import cancellation, registry, runner
from sirocco.engine import commands
from sirocco.engine.states import State
from sirocco.executor.pool import ExecutorPool
from tests.waiting import BOUND, wait_for

REGISTRY = registry.ActionRegistry(load_entry_points=False)


def _sleep(token: cancellation.Token, *, timeout: float | None = None) -> Any:
    descriptor = REGISTRY.get("std.sleep")
    assert descriptor is not None
    with cancellation.watching(token):
        return runner.run_action(
            descriptor, {"seconds": 600}, execution={"action_execution_id": "a"}, timeout=timeout
        )


@pytest.mark.parametrize("timeout", [None, 900.0])  # 900: the runner uses a thread
def test_a_cancelled_sleep_stops_and_reports_cancelled(timeout: float | None) -> None:
    token = cancellation.Token()
    outcomes: list[Any] = []

    def sleep() -> None:
        outcomes.append(_sleep(token, timeout=timeout))

    thread = threading.Thread(target=sleep)
    thread.start()
    token.cancel()
    thread.join(BOUND)
    assert not thread.is_alive()
    assert outcomes == [
        runner.ActionOutcome(
            result=cancellation.CANCELLED_MESSAGE,
            cancelled=True,
            message=cancellation.CANCELLED_MESSAGE,
        )
    ]


def test_outside_an_executor_sleep_is_not_cancellable() -> None:
    assert cancellation.current() is None
    assert cancellation.sleep(0) is False


def _command(execution_id: str, action_id: str) -> commands.RunAction:
    return commands.RunAction(
        action_execution_id=action_id,
        workflow_execution_id=execution_id,
        task_execution_id="t",
        action_name="std.sleep",
        input={"seconds": 600},
        execution={"action_execution_id": action_id},
    )


def test_the_pool_tells_the_actions_of_the_cancelled_execution_only() -> None:
    reported: dict[str, State] = {}
    done = threading.Event()

    def report(command: commands.RunAction, state: State, result: Any, message: Any) -> None:
        reported[command.action_execution_id] = state
        done.set()

    pool = ExecutorPool(REGISTRY, report, workers=4)
    try:
        pool.submit(_command("wf-1", "a1"))
        pool.submit(_command("wf-2", "a2"))
        wait_for(lambda: pool.running_in() == {"wf-1", "wf-2"}, what="both actions to run")
        assert pool.cancel(["wf-1", "wf-9"]) == 1
        assert done.wait(BOUND)
        assert reported == {"a1": State.CANCELLED}
        assert pool.running_in() == {"wf-2"}
        assert pool.cancel(["wf-1"]) == 0  # nothing of wf-1 runs any more
        assert pool.cancel(["wf-2"]) == 1
        wait_for(lambda: len(reported) == 2, what="the second action to stop")
        assert reported == {"a1": State.CANCELLED, "a2": State.CANCELLED}
    finally:
        pool.cancel(["wf-1", "wf-2"])
        pool.shutdown(wait=True)
