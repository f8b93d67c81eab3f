"""records.evolve: a copy with every field of the original but the ones changed."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

import pytest

from sirocco.engine import records
from sirocco.engine.states import State
from sirocco.lang import parse_workflows

SPEC = next(
    iter(
        parse_workflows(
            "version: '2.0'\nwf:\n  tasks:\n    t:\n      action: std.noop\n"
        ).workflows.values()
    )
)


def _distinct(cls: type) -> Any:
    """A record of ``cls`` whose every field holds a value of its own (no default)."""
    values: dict[str, Any] = {}
    for number, item in enumerate(dataclasses.fields(cls)):
        if item.name == "spec":
            values[item.name] = SPEC
        elif item.name == "state":
            values[item.name] = State.PAUSED
        elif item.name == "runtime" and cls is records.TaskExecution:
            values[item.name] = records.TaskRuntime(attempt=number)
        elif item.name.endswith("_at"):
            values[item.name] = datetime(2026, 1, 1 + number)
        elif item.type in ("bool",):
            values[item.name] = True
        elif item.type in ("int",):
            values[item.name] = number + 1
        else:
            values[item.name] = (
                {"field": item.name} if "Mapping" in str(item.type) else f"v{number}"
            )
    return cls(**values)


@pytest.mark.parametrize(
    "cls", [records.WorkflowExecution, records.TaskExecution, records.ActionExecution]
)
def test_evolve_copies_every_field_and_changes_only_those_named(cls: type) -> None:
    original = _distinct(cls)
    copy = records.evolve(original, {})
    assert copy == original and copy is not original and type(copy) is cls
    for item in dataclasses.fields(cls):
        assert getattr(copy, item.name) is getattr(original, item.name)
    changed = records.evolve(original, {"state": State.RUNNING, "created_at": datetime(2027, 1, 1)})
    assert changed.state == State.RUNNING and changed.created_at == datetime(2027, 1, 1)
    assert original.state == State.PAUSED  # the original is left as it was
    assert (
        dataclasses.replace(original, state=State.RUNNING, created_at=datetime(2027, 1, 1))
        == changed
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        changed.state = State.IDLE  # type: ignore[misc]
    with pytest.raises(TypeError, match="no field"):
        records.evolve(original, {"no_such_field": 1})
