"""std.noop, std.async_noop, std.echo, std.fail, std.sleep and std.test_dict, run by name."""

from __future__ import annotations

import time
from typing import Any

import pytest

from sirocco.actions import registry, runner

REGISTRY = registry.ActionRegistry(load_entry_points=False)
EXECUTION = {"action_execution_id": "act-7"}


def run(name: str, action_input: dict[str, Any]) -> runner.ActionOutcome | None:
    descriptor = REGISTRY.get(name)
    assert descriptor is not None
    return runner.run_action(descriptor, action_input, execution=EXECUTION)


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record the sleeps of the std actions instead of sleeping."""
    recorded: list[float] = []
    monkeypatch.setattr(time, "sleep", recorded.append)
    return recorded


def test_noop_returns_null() -> None:
    assert run("std.noop", {}) == runner.ActionOutcome(result=None)


def test_async_noop_never_reports() -> None:
    assert run("std.async_noop", {}) is None


def test_echo_returns_its_output(sleeps: list[float]) -> None:
    assert run("std.echo", {"output": {"a": [1, 2]}}) == runner.ActionOutcome(result={"a": [1, 2]})
    assert sleeps == []


@pytest.mark.parametrize(("delay", "slept"), [("0.5", [0.5]), (2, [2.0]), (-3, []), ("soon", [])])
def test_echo_delay(delay: Any, slept: list[float], sleeps: list[float]) -> None:
    assert run("std.echo", {"output": "x", "delay": delay}) == runner.ActionOutcome(result="x")
    assert sleeps == slept


def test_echo_really_waits() -> None:
    started = time.monotonic()
    run("std.echo", {"output": "x", "delay": 0.05})
    assert time.monotonic() - started >= 0.05


def test_fail_without_data_raises_mistrals_exception() -> None:
    message = (
        "The action raised an exception [action=Fail action, action_ex_id=act-7, "
        "msg='Fail action expected exception.']"
    )
    assert run("std.fail", {}) == runner.ActionOutcome(result=message, error=True, message=message)


def test_fail_with_data_is_an_error_result() -> None:
    outcome = run("std.fail", {"error_data": {"reason": "no"}})
    assert outcome == runner.ActionOutcome(
        result={"reason": "no"}, error=True, message="{'reason': 'no'}"
    )


def test_fail_with_falsy_data_raises() -> None:
    outcome = run("std.fail", {"error_data": 0})
    assert outcome is not None and outcome.error
    assert outcome.message is not None and "Fail action expected exception." in outcome.message


@pytest.mark.parametrize(
    ("action_input", "slept"),
    [({}, [1]), ({"seconds": "3"}, [3]), ({"seconds": -1}, []), ({"seconds": "abc"}, [])],
)
def test_sleep(action_input: dict[str, Any], slept: list[int], sleeps: list[float]) -> None:
    assert run("std.sleep", action_input) == runner.ActionOutcome(result=None)
    assert sleeps == slept


def test_test_dict() -> None:
    outcome = run("std.test_dict", {"size": 3, "key_prefix": "k", "val": "v"})
    assert outcome == runner.ActionOutcome(result={"k0": "v", "k1": "v", "k2": "v"})
    assert run("std.test_dict", {}) == runner.ActionOutcome(result={})
