"""Mistral's expression functions apart from the language: the engine port, JSON and YAML helpers.

The engine supplies a :class:`Functions` object so that ``task()``,
``tasks()``, ``execution()``, ``executions()`` and ``global()`` can see
executions; everything else here (``json_dump``, ``json_pp``, ``json_parse``,
``yaml_dump``, ``yaml_parse``, ``uuid``, ``env``) works on plain values. The
YAQL and Jinja evaluators wrap these for their own calling conventions.
"""

from __future__ import annotations

import datetime
import decimal
import ipaddress
import json
import uuid
from collections.abc import Mapping
from typing import Any, Protocol

import yaml

from sirocco.expressions import conversion

# The names Mistral 23 registers in its ``mistral.expression.functions`` entry
# point group, plus ``json_pp`` (removed from Mistral 23, kept for old workflows).
FUNCTION_NAMES = (
    "env",
    "execution",
    "executions",
    "global",
    "json_dump",
    "json_parse",
    "json_pp",
    "task",
    "tasks",
    "uuid",
    "yaml_dump",
    "yaml_parse",
)


class Functions(Protocol):
    """What the engine supplies so that Mistral's functions can see executions."""

    def task(self, name: str | None) -> Mapping[str, Any] | None:
        """``task(name)``: a task execution by name; the current task when ``name`` is None."""
        ...

    def tasks(
        self,
        workflow_execution_id: str | None,
        recursive: bool,
        state: str | None,
        flat: bool,
    ) -> list[Mapping[str, Any]]:
        """``tasks(...)``: task executions, filtered as Mistral does."""
        ...

    def execution(self) -> Mapping[str, Any]:
        """``execution()``: the current workflow execution."""
        ...

    def executions(
        self,
        id: str | None,
        root_execution_id: str | None,
        state: str | None,
        from_time: str | None,
        to_time: str | None,
    ) -> list[Mapping[str, Any]]:
        """``executions(...)``: workflow executions, filtered as Mistral does."""
        ...

    def global_variable(self, name: str) -> Any:
        """``global(name)``: a variable of the workflow's global context, None if absent."""
        ...


class FunctionUnavailable(Exception):
    """An engine function was called where no engine supplied :class:`Functions`."""

    def __init__(self, name: str) -> None:
        super().__init__(f"{name}() is not available here")


def require(functions: Functions | None, name: str) -> Functions:
    """Return ``functions``, or raise :class:`FunctionUnavailable` naming the function called."""
    if functions is None:
        raise FunctionUnavailable(name)
    return functions


def call_task(functions: Functions | None, task_name: Any) -> Any:
    """``task(task_name=null)`` as a plain value."""
    return conversion.plain(require(functions, "task").task(task_name))


def call_tasks(
    functions: Functions | None,
    workflow_execution_id: Any,
    recursive: Any,
    state: Any,
    flat: Any,
) -> Any:
    """``tasks(workflow_execution_id=null, recursive=false, state=null, flat=false)``."""
    found = require(functions, "tasks").tasks(
        workflow_execution_id, bool(recursive), state, bool(flat)
    )
    return conversion.plain(found)


def call_execution(functions: Functions | None) -> Any:
    """``execution()`` as a plain value."""
    return conversion.plain(require(functions, "execution").execution())


def call_executions(
    functions: Functions | None,
    id: Any,
    root_execution_id: Any,
    state: Any,
    from_time: Any,
    to_time: Any,
) -> Any:
    """``executions(id=null, root_execution_id=null, state=null, from_time=null, to_time=null)``."""
    found = require(functions, "executions").executions(
        id, root_execution_id, state, from_time, to_time
    )
    return conversion.plain(found)


def call_global(functions: Functions | None, var_name: Any) -> Any:
    """``global(var_name)`` as a plain value."""
    return conversion.plain(require(functions, "global").global_variable(var_name))


def env_of(data: Any) -> Any:
    """``env()``: the ``__env`` entry of the data context, ``{}`` when there is none."""
    found = data.get("__env") if isinstance(data, Mapping) else None
    return {} if found is None else found


_TEXT_TYPES = (uuid.UUID, decimal.Decimal, ipaddress.IPv4Address, ipaddress.IPv6Address)


def json_default(value: Any) -> Any:
    """Turn what :mod:`json` cannot write into something it can, as oslo's ``to_primitive`` does."""
    if isinstance(value, Mapping):
        return dict(value.items())
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, datetime.datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S.%f")
    if isinstance(value, datetime.date):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, _TEXT_TYPES):
        return str(value)
    if isinstance(value, Exception):
        return repr(value)
    if hasattr(value, "__iter__"):
        return list(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def json_dump(data: Any) -> str:
    """``json_dump(data)``: JSON text indented by 4, non-ASCII escaped, keys in their order."""
    return json.dumps(data, indent=4, default=json_default)


def json_pp(data: Any, context: Any) -> str:
    """``json_pp(data=null)``: Mistral 22's pretty JSON.

    A false ``data`` (none, empty, zero) prints the whole context, as Mistral
    did; escaped newlines inside strings become real ones and a space before
    a newline is dropped.
    """
    text = json.dumps(data or context, indent=4, default=json_default)
    return text.replace("\\n", "\n").replace(" \n", "\n")


def json_parse(data: Any) -> Any:
    """``json_parse(text)``: the value the JSON text describes."""
    if isinstance(data, bytes):
        data = data.decode("utf-8")
    return json.loads(data)


class _Dumper(yaml.SafeDumper):
    """YAML writer that repeats shared values instead of writing anchors."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


class _Loader(yaml.SafeLoader):
    """YAML reader that reads anchors and aliases (``&a``, ``*a``) and a leading ``@`` as text.

    Expanding aliases lets a short text grow without bound ("billion laughs");
    like Mistral, anchors are not references here but the start of a string.
    """

    def fetch_alias(self) -> None:
        self.fetch_plain()

    def fetch_anchor(self) -> None:
        self.fetch_plain()

    def check_plain(self) -> bool:
        return self.peek() == "@" or bool(super().check_plain())


def yaml_dump(data: Any) -> str:
    """``yaml_dump(data)``: YAML text in block style with sorted keys."""
    return yaml.dump(data, Dumper=_Dumper, default_flow_style=False)


def yaml_parse(data: Any) -> Any:
    """``yaml_parse(text)``: the value the YAML text describes (safe types, no aliases)."""
    return yaml.load(data, Loader=_Loader)  # _Loader is a SafeLoader


def new_uuid() -> str:
    """``uuid()``: a random UUID, as text."""
    return str(uuid.uuid4())
