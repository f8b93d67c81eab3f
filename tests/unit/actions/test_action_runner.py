"""Running actions: mistral_lib user actions run unchanged; outcomes are Mistral's."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from mistral_lib import actions

from sirocco import errors
from sirocco.actions import registry, runner
from sirocco.actions.std import basic
from tests.waiting import BOUND

EXECUTION = {
    "workflow_execution_id": "wf-1",
    "task_execution_id": "task-1",
    "action_execution_id": "act-1",
    "workflow_name": "my_workflow",
    "with_items_index": 2,
    "task_name": "first",  # not a field of mistral_lib's context: ignored
}


class ReportContext(actions.Action):  # type: ignore[misc]
    """A sync user action that returns what its context says."""

    def __init__(self, prefix: str, suffix: str = "") -> None:
        self.prefix = prefix
        self.suffix = suffix

    def run(self, context: Any) -> dict[str, Any]:
        execution = context.execution
        return {
            "text": self.prefix + self.suffix,
            "workflow_execution_id": execution.workflow_execution_id,
            "task_execution_id": execution.task_execution_id,
            "action_execution_id": execution.action_execution_id,
            "workflow_name": execution.workflow_name,
            "callback_url": execution.callback_url,
            "with_items_index": execution.with_items_index,
            "project_id": context.security.project_id,
        }


class Later(actions.Action):  # type: ignore[misc]
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail

    def run(self, context: Any) -> Any:
        if self.fail:
            return actions.Result(error="could not start")
        return actions.Result(data="ignored: async results come through the API")

    def is_sync(self) -> bool:
        return False


class Returns(actions.Action):  # type: ignore[misc]
    def __init__(self, result: Any) -> None:
        self.result = result

    def run(self, context: Any) -> Any:
        return self.result


class Raises(actions.Action):  # type: ignore[misc]
    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return "Raises action"

    def run(self, context: Any) -> Any:
        raise RuntimeError(self.text)


class BadConstructor(actions.Action):  # type: ignore[misc]
    def __init__(self, secret: str) -> None:
        raise ValueError(f"cannot use {secret}")

    def run(self, context: Any) -> None:
        return None


class Blocks(actions.Action):  # type: ignore[misc]
    release = threading.Event()

    def run(self, context: Any) -> str:
        self.release.wait(BOUND)  # released by the test
        return "late"


class LegacyNoContext:
    """An action class that does not use mistral_lib and whose run takes no context."""

    def __init__(self, value: int) -> None:
        self.value = value

    def run(self) -> int:
        return self.value * 2


def _descriptor(action_class: type, name: str = "acme.test") -> registry.ActionDescriptor:
    return registry.describe(name, action_class)


def test_sync_user_action_gets_a_mistral_lib_context() -> None:
    outcome = runner.run_action(
        _descriptor(ReportContext),
        {"prefix": "a", "suffix": "b"},
        execution=EXECUTION,
        security={"project_id": "p-9", "unknown": 1},
    )
    assert outcome == runner.ActionOutcome(
        result={
            "text": "ab",
            "workflow_execution_id": "wf-1",
            "task_execution_id": "task-1",
            "action_execution_id": "act-1",
            "workflow_name": "my_workflow",
            "callback_url": "/v2/action_executions/act-1",
            "with_items_index": 2,
            "project_id": "p-9",
        }
    )


def test_explicit_callback_url_is_kept() -> None:
    outcome = runner.run_action(
        _descriptor(ReportContext),
        {"prefix": "x"},
        execution={**EXECUTION, "callback_url": "http://sirocco/v2/action_executions/act-1"},
    )
    assert outcome is not None
    assert outcome.result["callback_url"] == "http://sirocco/v2/action_executions/act-1"


def test_async_action_that_succeeds_has_no_outcome_yet() -> None:
    assert runner.run_action(_descriptor(Later), {}, execution=EXECUTION) is None


def test_async_action_that_returns_an_error_fails_now() -> None:
    outcome = runner.run_action(_descriptor(Later), {"fail": True}, execution=EXECUTION)
    assert outcome == runner.ActionOutcome(
        result="could not start", error=True, message="could not start"
    )


@pytest.mark.parametrize(
    ("returned", "expected"),
    [
        (7, runner.ActionOutcome(result=7)),
        (None, runner.ActionOutcome(result=None)),
        (actions.Result(data={"a": 1}), runner.ActionOutcome(result={"a": 1})),
        (
            actions.Result(error={"code": 42}),
            runner.ActionOutcome(result={"code": 42}, error=True, message="{'code': 42}"),
        ),
        (actions.Result(error=""), runner.ActionOutcome(result="", error=True, message=None)),
        (
            actions.Result(cancel=True),
            runner.ActionOutcome(result=None, cancelled=True, message=None),
        ),
        (
            actions.Result(error="stopped", cancel=True),
            runner.ActionOutcome(result="stopped", cancelled=True, message="stopped"),
        ),
    ],
)
def test_returned_values_and_results(returned: Any, expected: runner.ActionOutcome) -> None:
    outcome = runner.run_action(_descriptor(Returns), {"result": returned}, execution=EXECUTION)
    assert outcome == expected


def test_exception_gives_mistrals_message() -> None:
    outcome = runner.run_action(_descriptor(Raises), {"text": "it broke"}, execution=EXECUTION)
    message = (
        "The action raised an exception [action=Raises action, action_ex_id=act-1, msg='it broke']"
    )
    assert outcome == runner.ActionOutcome(result=message, error=True, message=message)


def test_exception_message_names_the_action_not_an_object_address() -> None:
    class Plain(actions.Action):  # type: ignore[misc]
        def run(self, context: Any) -> None:
            raise KeyError("k")

    outcome = runner.run_action(_descriptor(Plain), {}, execution={})
    assert outcome is not None and outcome.error
    assert outcome.message == (
        "The action raised an exception [action=acme.test, action_ex_id=None, msg=''k'']"
    )
    assert "object at 0x" not in outcome.message


def test_system_exit_in_an_action_is_an_error_not_an_exit() -> None:
    class Exits(actions.Action):  # type: ignore[misc]
        def run(self, context: Any) -> None:
            raise SystemExit(3)

    outcome = runner.run_action(_descriptor(Exits), {}, execution=EXECUTION)
    assert outcome is not None and outcome.error
    assert outcome.message is not None and outcome.message.endswith("msg='3']")


def test_constructor_failure_does_not_show_the_input() -> None:
    outcome = runner.run_action(_descriptor(BadConstructor), {"secret": "hunter2"}, execution={})
    assert outcome is not None and outcome.error
    assert outcome.message == (
        "Failed to instantiate an action [action_desc=Python action [name=acme.test, "
        f"cls={BadConstructor!r}]]"
    )
    assert "hunter2" not in str(outcome.result)


def test_timeout_stops_waiting_and_reports_mistrals_text() -> None:
    Blocks.release.clear()
    try:
        outcome = runner.run_action(_descriptor(Blocks), {}, execution=EXECUTION, timeout=0.05)
    finally:
        Blocks.release.set()
    assert outcome is not None and outcome.error
    assert outcome.message is not None
    assert outcome.message.endswith("action_ex_id=act-1, msg='Timeout after 0.05 seconds']")


def test_with_a_timeout_results_and_errors_still_arrive() -> None:
    done = runner.run_action(_descriptor(Returns), {"result": 5}, execution={}, timeout=BOUND)
    assert done == runner.ActionOutcome(result=5)
    failed = runner.run_action(_descriptor(Raises), {"text": "x"}, execution={}, timeout=BOUND)
    assert failed is not None and failed.message is not None
    assert failed.message.endswith("msg='x']")


def test_action_not_using_mistral_lib_runs_without_context() -> None:
    outcome = runner.run_action(_descriptor(LegacyNoContext), {"value": 21}, execution=EXECUTION)
    assert outcome == runner.ActionOutcome(result=42)


def test_bad_input_is_an_error_outcome_before_running() -> None:
    outcome = runner.run_action(_descriptor(ReportContext), {"prefixx": 1}, execution={})
    assert outcome is not None and outcome.error
    assert outcome.message == (
        "Invalid input [name=acme.test, class=tests_module.ReportContext, missing=['prefix'], "
        "unexpected=['prefixx']]".replace("tests_module", ReportContext.__module__)
    )


def test_check_input_messages() -> None:
    echo = registry.ActionRegistry(load_entry_points=False).get("std.echo")
    assert echo is not None
    runner.check_input(echo, {"output": 1})
    runner.check_input(echo, {"output": 1, "delay": 2})
    with pytest.raises(errors.ActionInputError) as missing:
        runner.check_input(echo, {"delay": 2})
    assert str(missing.value) == (
        "Invalid input [name=std.echo, class=mistral.actions.std_actions.EchoAction, "
        "missing=['output']]"
    )
    with pytest.raises(errors.ActionInputError) as unexpected:
        runner.check_input(echo, {"output": 1, "colour": "red", "size": 3})
    assert str(unexpected.value) == (
        "Invalid input [name=std.echo, class=mistral.actions.std_actions.EchoAction, "
        "unexpected=['colour', 'size']]"
    )


def test_check_input_accepts_anything_with_kwargs() -> None:
    class Open(actions.Action):  # type: ignore[misc]
        def __init__(self, needed: Any, **rest: Any) -> None:
            pass

        def run(self, context: Any) -> None:
            return None

    runner.check_input(_descriptor(Open), {})
    runner.check_input(_descriptor(Open), {"anything": 1})


def test_check_input_reads_the_descriptor_text() -> None:
    # An ad-hoc style descriptor: the text, not the class, says what is accepted.
    descriptor = registry.ActionDescriptor(
        name="acme.adhoc",
        action_class=Returns,
        input_text='greeting, names=["a, b"]',
        description="",
        is_sync=True,
        is_system=False,
    )
    runner.check_input(descriptor, {"greeting": "hi", "names": []})
    with pytest.raises(errors.ActionInputError, match=r"missing=\['greeting'\]"):
        runner.check_input(descriptor, {})


class EchoWithContext(basic.EchoAction):
    """A user's action built on std.echo's class that reads its context."""

    def run(self, context: Any) -> Any:
        return [self.output, context.execution.workflow_execution_id]


def test_std_noop_and_echo_are_given_no_context_a_subclass_that_reads_it_is() -> None:
    assert not runner._reads_context(basic.NoopAction)
    assert not runner._reads_context(basic.EchoAction)
    outcome = runner.run_action(
        _descriptor(EchoWithContext), {"output": "x"}, execution=EXECUTION, security={}
    )
    assert outcome == runner.ActionOutcome(result=["x", "wf-1"])
