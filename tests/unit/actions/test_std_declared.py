"""Every standard action declares what it is on its class, and the runtime reads it there."""

from __future__ import annotations

from typing import Any

import pytest

from sirocco.actions import registry, std
from sirocco.actions.std import standard
from sirocco.engine import commands
from sirocco.executor.pool import ExecutorPool
from sirocco.runtime import in_flight


def _registered() -> list[registry.ActionDescriptor]:
    return [
        descriptor
        for descriptor in registry.ActionRegistry(load_entry_points=False).list()
        if descriptor.is_system
    ]


def test_every_registered_std_action_declares_all_its_properties() -> None:
    found = _registered()
    assert [descriptor.name for descriptor in found] == sorted(std.STANDARD_ACTIONS)
    for descriptor in found:
        declared_by = std.STANDARD_ACTIONS[descriptor.name]
        assert issubclass(descriptor.action_class, declared_by)
        missing = [name for name in standard.DECLARED if name not in vars(declared_by)]
        assert missing == [], f"{descriptor.name} does not declare {missing}"
        assert descriptor.name in declared_by.names
        assert declared_by.mistral_class
        assert descriptor.class_path == declared_by.mistral_class_path()
        assert descriptor.side_effects is declared_by.side_effects
        assert descriptor.safe_rerun is declared_by.safe_rerun
        assert descriptor.input_text is not None  # its signature: its constructor


def test_an_action_that_runs_inline_has_no_side_effect() -> None:
    for descriptor in _registered():
        if descriptor.side_effects:
            assert not descriptor.runs_inline({}, None), descriptor.name


def test_a_std_class_missing_a_declaration_is_refused_and_not_registered() -> None:
    with pytest.raises(TypeError, match=r"does not declare \['side_effects', 'safe_rerun'"):

        class Half(standard.StandardAction):
            names = ("std.half",)
            mistral_class = "HalfAction"

            def run(self, context: Any) -> None:
                return None

    assert "std.half" not in standard.registered()


def test_a_std_class_with_side_effects_cannot_run_inline() -> None:
    with pytest.raises(TypeError, match="has side effects"):

        class Rash(standard.StandardAction):
            names = ("std.rash",)
            mistral_class = "RashAction"
            side_effects = True
            safe_rerun = False

            @classmethod
            def runs_inline(cls, given: Any, timeout: float | None) -> bool:
                return True

            def run(self, context: Any) -> None:
                return None

    assert "std.rash" not in standard.registered()


def _command(
    name: str, given: dict[str, Any], *, safe_rerun: bool = False, timeout: float | None = None
) -> commands.RunAction:
    return commands.RunAction(
        action_execution_id="a1",
        workflow_execution_id="w1",
        task_execution_id="t1",
        action_name=name,
        input=given,
        safe_rerun=safe_rerun,
        timeout=timeout,
        execution={},
    )


@pytest.mark.parametrize(
    ("name", "again"),
    [
        ("std.noop", True),
        ("std.echo", True),
        ("std.fail", True),
        ("std.test_dict", True),
        ("std.sleep", False),
        ("std.async_noop", False),
        ("std.http", False),
        ("std.ssh", False),
        ("std.javascript", False),
        ("acme.plugin", False),
    ],
)
def test_an_action_handed_over_runs_again_by_its_declared_default(name: str, again: bool) -> None:
    assert in_flight.runs_again(_command(name, {})) is again
    assert in_flight.needs_handing(_command(name, {})) is not again
    assert in_flight.runs_again(_command(name, {}, safe_rerun=True)) is True


@pytest.mark.parametrize(
    ("name", "given", "timeout", "inline"),
    [
        ("std.noop", {}, None, True),
        ("std.noop", {}, 5.0, False),
        ("std.echo", {"output": 1}, None, True),
        ("std.echo", {"output": 1, "delay": 0}, None, True),
        ("std.echo", {"output": 1, "delay": 1}, None, False),
        ("std.echo", {"output": 1}, 5.0, False),
        ("std.fail", {}, None, True),
        ("std.test_dict", {"size": 1}, None, True),
        ("std.sleep", {"seconds": 0}, None, False),
        ("std.async_noop", {}, None, False),
        ("std.http", {"url": "http://127.0.0.1:9"}, None, False),
    ],
)
def test_the_executor_runs_inline_what_the_action_says(
    name: str, given: dict[str, Any], timeout: float | None, inline: bool
) -> None:
    reported: list[Any] = []
    pool = ExecutorPool(
        registry.ActionRegistry(load_entry_points=False),
        lambda *outcome: reported.append(outcome),
        workers=1,
    )
    completed = pool.run_inline(_command(name, given, timeout=timeout))
    assert (completed is not None) is inline
    assert reported == []  # nothing went to the pool's reporter


def test_a_std_name_replaced_in_code_is_not_run_inline() -> None:
    class Loud(std.basic.NoopAction):
        """Not a standard action: it declares no names of its own."""

    action_registry = registry.ActionRegistry(load_entry_points=False)
    action_registry.register("std.noop", Loud)
    pool = ExecutorPool(action_registry, lambda *outcome: None, workers=1)
    assert pool.run_inline(_command("std.noop", {})) is None
