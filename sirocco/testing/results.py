"""What actions answer in a test: scripted results, or what the standard actions do.

A script gives, per task name, the results its actions return in turn: a
plain value (success), ``Fail(error)``, ``Cancel()`` or ``Hold()`` (the action
stays RUNNING until the test completes it). Without a script the standard
actions behave as their classes say (``std.echo`` echoes, ``std.fail`` fails,
``std.async_noop`` holds, ...), without doing I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sirocco.actions import registry, std
from sirocco.engine import ports
from sirocco.runtime.lookup import signature_of

__all__ = ["STANDARD_ACTIONS", "Cancel", "Fail", "Hold", "standard_result"]


@dataclass(frozen=True, slots=True)
class Fail:
    """A scripted action result: the action fails with this error data."""

    error: Any = "Scripted failure"


@dataclass(frozen=True, slots=True)
class Cancel:
    """A scripted action result: the action is cancelled."""

    message: str | None = None


@dataclass(frozen=True, slots=True)
class Hold:
    """A scripted action result: the action stays RUNNING (complete it yourself)."""


def _standard_signature(name: str, action_class: type) -> ports.ActionSignature:
    """The engine's view of a standard action, from what its class declares."""
    return signature_of(registry.describe(name, action_class, is_system=True))


#: The standard actions the fakes know: their signatures, from their classes.
STANDARD_ACTIONS: Mapping[str, ports.ActionSignature] = {
    name: _standard_signature(name, action_class)
    for name, action_class in std.STANDARD_ACTIONS.items()
}


def standard_result(name: str, action_input: Mapping[str, Any], action_id: str) -> Any:
    """What the standard actions return (``Fail`` for an error, as Mistral words it)."""
    try:
        return _standard_result(name, action_input, action_id)
    except (TypeError, ValueError) as error:
        return Fail(
            f"The action raised an exception [action={name}, action_ex_id={action_id}, "
            f"msg='{error}']"
        )


def _standard_result(name: str, action_input: Mapping[str, Any], action_id: str) -> Any:
    if name == "std.echo":
        return action_input.get("output")
    if name == "std.fail":
        error_data = action_input.get("error_data")
        if error_data:
            return Fail(error_data)
        return Fail(
            "The action raised an exception [action=Fail action, "
            f"action_ex_id={action_id}, msg='Fail action expected exception.']"
        )
    if name == "std.test_dict":
        size = int(action_input.get("size") or 0)
        prefix = action_input.get("key_prefix", "")
        return {f"{prefix}{number}": action_input.get("val", "") for number in range(size)}
    if name == "std.async_noop":
        return Hold()
    return None
