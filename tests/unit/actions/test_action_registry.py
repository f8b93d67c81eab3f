"""The action registry: std actions, ``mistral.actions`` entry points and module paths.

Entry points come from a real (temporary) ``*.dist-info`` directory put on
``sys.path``, so ``importlib.metadata`` finds them as it would an installed package.
"""

from __future__ import annotations

import logging
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mistral_lib import actions

from sirocco import errors
from sirocco.actions import registry
from sirocco.actions.std import STANDARD_ACTIONS, basic

PLUGIN_SOURCE = '''
from mistral_lib import actions


class Greet(actions.Action):
    """Says hello."""

    def __init__(self, who, punctuation="!"):
        self.who = who
        self.punctuation = punctuation

    def run(self, context):
        return "hello " + self.who + self.punctuation


class Later(actions.Action):
    def run(self, context):
        return None

    def is_sync(self):
        return False


NOT_A_CLASS = 42
'''


@pytest.fixture
def plugin_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A module of actions on sys.path under a fresh name; its name is returned."""
    module_name = f"sirocco_test_plugin_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module_name}.py").write_text(PLUGIN_SOURCE)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield module_name
    sys.modules.pop(module_name, None)


@pytest.fixture
def installed_plugin(tmp_path: Path, plugin_module: str) -> str:
    """A fake installed distribution declaring ``mistral.actions`` entry points."""
    dist_info = tmp_path / "sirocco_test_plugin-1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: sirocco-test-plugin\nVersion: 1.0\n"
    )
    (dist_info / "entry_points.txt").write_text(
        textwrap.dedent(
            f"""\
            [mistral.actions]
            acme.greet = {plugin_module}:Greet
            acme.later = {plugin_module}:Later
            acme.broken = {plugin_module}_missing:Nothing
            acme.number = {plugin_module}:NOT_A_CLASS
            std.echo = {plugin_module}:Greet

            [console_scripts]
            unrelated = {plugin_module}:Greet
            """
        )
    )
    return plugin_module


def test_std_actions_are_always_there_and_are_system_actions() -> None:
    action_registry = registry.ActionRegistry(load_entry_points=False)
    names = [descriptor.name for descriptor in action_registry.list()]
    assert names == sorted(STANDARD_ACTIONS)
    echo = action_registry.get("std.echo")
    assert echo is not None
    assert echo.action_class is basic.EchoAction
    assert echo.input_text == "output, delay=0"
    assert echo.is_system is True
    assert echo.is_sync is True
    assert echo.class_path == "mistral.actions.std_actions.EchoAction"
    assert issubclass(echo.action_class, actions.Action)


@pytest.mark.parametrize(
    ("name", "is_sync"),
    [
        ("std.async_noop", False),
        ("std.mistral_http", False),
        ("std.http", True),
        ("std.noop", True),
    ],
)
def test_sync_flag_of_std_actions(name: str, is_sync: bool) -> None:
    descriptor = registry.ActionRegistry(load_entry_points=False).get(name)
    assert descriptor is not None
    assert descriptor.is_sync is is_sync


def test_unknown_action_is_none() -> None:
    assert registry.ActionRegistry(load_entry_points=False).get("acme.nothing") is None


def test_entry_points_are_loaded_by_their_names(
    installed_plugin: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="sirocco.actions.registry"):
        action_registry = registry.ActionRegistry()
    greet = action_registry.get("acme.greet")
    assert greet is not None
    assert greet.action_class.__module__ == installed_plugin
    assert greet.input_text == 'who, punctuation="!"'
    assert greet.description == "Says hello."
    assert greet.is_system is False
    assert greet.is_sync is True
    later = action_registry.get("acme.later")
    assert later is not None
    assert later.is_sync is False
    # A plugin cannot take a std name; std.echo is still Sirocco's own.
    echo = action_registry.get("std.echo")
    assert echo is not None
    assert echo.action_class is basic.EchoAction
    # Broken plugins are skipped with a warning naming them.
    assert action_registry.get("acme.broken") is None
    assert action_registry.get("acme.number") is None
    skipped = sorted(
        record.__dict__["action"]
        for record in caplog.records
        if record.getMessage() == "Action plugin skipped"
    )
    assert skipped == ["acme.broken", "acme.number"]
    assert action_registry.get("unrelated") is None


def test_entry_points_are_not_read_when_disabled(installed_plugin: str) -> None:
    assert registry.ActionRegistry(load_entry_points=False).get("acme.greet") is None


def test_module_paths_with_and_without_names(plugin_module: str) -> None:
    action_registry = registry.ActionRegistry(
        load_entry_points=False,
        modules=[f"acme.hello = {plugin_module}:Greet", f"{plugin_module}.Later"],
    )
    named = action_registry.get("acme.hello")
    assert named is not None
    assert named.action_class.__name__ == "Greet"
    by_path = action_registry.get(f"{plugin_module}.Later")
    assert by_path is not None
    assert by_path.is_sync is False


def test_bad_module_paths_are_skipped_with_a_warning(
    plugin_module: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="sirocco.actions.registry"):
        action_registry = registry.ActionRegistry(
            load_entry_points=False,
            modules=[
                f"{plugin_module}:Missing",
                "no_such_module_anywhere:Thing",
                f"std.noop={plugin_module}:Greet",
                f"x.num={plugin_module}:NOT_A_CLASS",
                "nodots",
            ],
        )
    assert len(action_registry.list()) == len(STANDARD_ACTIONS)
    reasons = [
        record.__dict__["reason"]
        for record in caplog.records
        if record.getMessage() == "Action plugin skipped"
    ]
    assert len(reasons) == 5
    assert reasons[0].startswith("AttributeError")
    assert reasons[1].startswith("ModuleNotFoundError")
    assert reasons[2] == "the name of a standard action"
    assert reasons[3] == "not a class with a run method"
    assert reasons[4].startswith("ValueError")


def test_register_adds_and_replaces() -> None:
    class Custom(actions.Action):  # type: ignore[misc]
        def __init__(self, value: Any, **extra: Any) -> None:
            super().__init__()

        def run(self, context: Any) -> None:
            return None

    action_registry = registry.ActionRegistry(load_entry_points=False)
    action_registry.register("acme.custom", Custom, description="Mine.")
    custom = action_registry.get("acme.custom")
    assert custom is not None
    assert (custom.input_text, custom.description, custom.is_system) == (
        "value, **extra",
        "Mine.",
        False,
    )
    action_registry.register("std.noop", Custom)
    replaced = action_registry.get("std.noop")
    assert replaced is not None
    assert replaced.action_class is Custom
    assert replaced.is_system is False


def test_register_refuses_what_is_not_an_action_class() -> None:
    action_registry = registry.ActionRegistry(load_entry_points=False)
    with pytest.raises(errors.ActionError):
        action_registry.register("acme.bad", object)
    with pytest.raises(errors.ActionError):
        action_registry.register("acme.bad", 42)  # type: ignore[arg-type]


def test_is_sync_that_fails_without_constructor_counts_as_sync() -> None:
    class Fussy(actions.Action):  # type: ignore[misc]
        def __init__(self, mode: str) -> None:
            super().__init__()
            self.mode = mode

        def run(self, context: Any) -> None:
            return None

        def is_sync(self) -> bool:
            return self.mode != "async"  # no attribute on a bare instance

    assert registry.describe("acme.fussy", Fussy).is_sync is True
