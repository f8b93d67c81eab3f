"""Events and commands to JSON and back, for the outbox, the timers and the transport."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sirocco.engine import commands, events
from sirocco.engine.states import State
from sirocco.store import blobs

_EVENT_TYPES: dict[str, type[Any]] = {
    cls.__name__: cls
    for cls in (
        events.ActionCompleted,
        events.SubworkflowCompleted,
        events.SubworkflowPaused,
        events.SubworkflowRerun,
        events.TimerFired,
        events.PauseWorkflow,
        events.ResumeWorkflow,
        events.StopWorkflow,
        events.RerunTask,
        events.SkipTask,
    )
}
_COMMAND_TYPES: dict[str, type[Any]] = {
    cls.__name__: cls
    for cls in (
        commands.RunAction,
        commands.StartSubworkflow,
        commands.ScheduleTimer,
        commands.NotifyParent,
        commands.SendEvent,
        commands.WorkflowEnded,
    )
}


#: Values encoded as they are (exact types: ``State`` is a str, and is written as one).
_PLAIN = frozenset({str, int, float, bool, type(None)})
#: The field names of each dataclass encoded so far, by class.
_FIELDS: dict[type[Any], tuple[str, ...]] = {}


def encode(value: Any) -> Any:
    """A dataclass event or command (nested) as a JSON-ready dict with a ``type`` key."""
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is dict:
        return {str(key): encode(item) for key, item in value.items()}
    if kind is list:
        return [encode(item) for item in value]
    names = _FIELDS.get(kind)
    if names is None and dataclasses.is_dataclass(kind):
        names = _FIELDS[kind] = tuple(field.name for field in dataclasses.fields(kind))
    if names is not None:
        data: dict[str, Any] = {"type": kind.__name__}
        for name in names:
            data[name] = encode(getattr(value, name))
        return data
    if isinstance(value, State):
        return str(value)
    if isinstance(value, datetime):
        return {"__datetime__": value.isoformat()}
    if isinstance(value, Mapping):
        return {str(key): encode(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode(item) for item in value]
    return value


def decode(data: Any) -> Any:
    """The inverse of :func:`encode`."""
    if isinstance(data, dict):
        if "__datetime__" in data and len(data) == 1:
            return datetime.fromisoformat(data["__datetime__"])
        kind = data.get("type")
        cls = _EVENT_TYPES.get(kind) or _COMMAND_TYPES.get(kind) if isinstance(kind, str) else None
        if cls is not None:
            values: dict[str, Any] = {}
            for field in dataclasses.fields(cls):
                if field.name in data:
                    values[field.name] = _field_value(field.name, decode(data[field.name]))
            return cls(**values)
        return {key: decode(item) for key, item in data.items()}
    if isinstance(data, list):
        return [decode(item) for item in data]
    return data


def _field_value(name: str, value: Any) -> Any:
    if name == "state" and isinstance(value, str):
        return State(value)
    if name == "input":
        # A RunAction's large input values are stored by reference (sirocco.store.blobs):
        # lazy blobs, loaded when the action runs.
        return blobs.process_values(value)
    if name == "result":
        # A remote executor's large result comes by reference (blobs.claim_check): a lazy
        # blob the engine stores again by reference without loading it.
        return blobs.process_value(value)
    return value
