"""Mistral's expression functions, written once for both languages.

``TABLE`` maps each name (``task``, ``tasks``, ``execution``, ``executions``,
``global``, ``env``, ``json_dump``, ``json_pp``, ``json_parse``, ``yaml_dump``,
``yaml_parse``, ``uuid``) to one function that takes a :class:`Scope` (what the
call can see: the engine's :class:`Functions`, the data context, the
environment) and then Mistral's parameters, under Mistral's parameter names.
The YAQL and Jinja evaluators each adapt the table to their calling
convention (a YAQL context; a Jinja global or filter) and build the scope.
The functions keep Mistral's names (``json_dump_``...), so a call with a
missing argument fails with Mistral's words.
"""

from __future__ import annotations

import datetime
import decimal
import ipaddress
import json
import uuid
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import yaml

from sirocco import references
from sirocco.expressions import conversion


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


class Scope:
    """What an expression function can see of the evaluation that calls it.

    A language's adapter may read these lazily from its own context (YAQL's
    lookups walk a chain of contexts, so only what a function uses is read).
    """

    __slots__ = ("_data", "_functions")

    def __init__(self, data: Any, functions: Functions | None) -> None:
        self._data = data
        self._functions = functions

    @property
    def data(self) -> Any:
        """The data context (``$`` in YAQL, ``_`` in Jinja)."""
        return self._data

    @property
    def functions(self) -> Functions | None:
        """The engine's view of executions; None where no engine supplied one."""
        return self._functions

    def env(self) -> Any:
        """The ``__env`` entry of the data context (None when there is none)."""
        data = self.data
        return data.get("__env") if isinstance(data, Mapping) else None


_TEXT_TYPES = (uuid.UUID, decimal.Decimal, ipaddress.IPv4Address, ipaddress.IPv6Address)


def json_default(value: Any) -> Any:
    """Turn what :mod:`json` cannot write into something it can, as oslo's ``to_primitive`` does."""
    if isinstance(value, references.Blob):
        return value.load()
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


def _json_text(data: Any) -> str:
    return json.dumps(data, indent=4, default=json_default)


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


# ---------------------------------------------------------------- the table
# Each function takes the scope, then Mistral's parameters with Mistral's defaults
# (YAQL types a parameter by its default: ``recursive=false`` takes booleans).


def env_(scope: Scope) -> Any:
    """``env()``: the workflow's environment, ``{}`` when there is none."""
    found = scope.env()
    return {} if found is None else found


def execution_(scope: Scope) -> Any:
    """``execution()``: the current workflow execution."""
    return conversion.plain(require(scope.functions, "execution").execution())


def executions_(
    scope: Scope,
    id: Any = None,
    root_execution_id: Any = None,
    state: Any = None,
    from_time: Any = None,
    to_time: Any = None,
) -> Any:
    """``executions(...)``: workflow executions, filtered as Mistral does."""
    found = require(scope.functions, "executions").executions(
        id, root_execution_id, state, from_time, to_time
    )
    return conversion.plain(found)


def global_(scope: Scope, var_name: Any) -> Any:
    """``global(var_name)``: a variable of the workflow's global context."""
    return conversion.plain(require(scope.functions, "global").global_variable(var_name))


def json_dump_(scope: Scope, data: Any) -> str:
    """``json_dump(data)``: JSON text indented by 4, non-ASCII escaped, keys in their order."""
    return _json_text(conversion.plain(data))


def json_parse_(scope: Scope, data: Any) -> Any:
    """``json_parse(text)``: the value the JSON text describes."""
    if isinstance(data, bytes):
        data = data.decode("utf-8")
    return json.loads(data)


def json_pp_(scope: Scope, data: Any = None) -> str:
    """``json_pp(data=null)``: Mistral 22's pretty JSON.

    A false ``data`` (none, empty, zero) prints the whole data context, as
    Mistral did; escaped newlines inside strings become real ones and a space
    before a newline is dropped.
    """
    text = _json_text(conversion.plain(data) or scope.data)
    return text.replace("\\n", "\n").replace(" \n", "\n")


def task_(scope: Scope, task_name: Any = None) -> Any:
    """``task(task_name=null)``: a task execution by name; the current task without one."""
    return conversion.plain(require(scope.functions, "task").task(task_name))


def tasks_(
    scope: Scope,
    workflow_execution_id: Any = None,
    recursive: Any = False,
    state: Any = None,
    flat: Any = False,
) -> Any:
    """``tasks(...)``: task executions, filtered as Mistral does."""
    found = require(scope.functions, "tasks").tasks(
        workflow_execution_id, bool(recursive), state, bool(flat)
    )
    return conversion.plain(found)


def uuid_(scope: Scope) -> str:
    """``uuid()``: a random UUID (version 4, as Mistral's), as text."""
    return str(uuid.uuid4())


def yaml_dump_(scope: Scope, data: Any) -> str:
    """``yaml_dump(data)``: YAML text in block style with sorted keys."""
    return yaml.dump(conversion.plain(data), Dumper=_Dumper, default_flow_style=False)


def yaml_parse_(scope: Scope, data: Any) -> Any:
    """``yaml_parse(text)``: the value the YAML text describes (safe types, no aliases)."""
    return yaml.load(data, Loader=_Loader)  # _Loader is a SafeLoader


#: The names Mistral 23 registers in its ``mistral.expression.functions`` entry
#: point group, plus ``json_pp`` (removed from Mistral 23, kept for old workflows).
TABLE: Mapping[str, Callable[..., Any]] = {
    function.__name__.removesuffix("_"): function
    for function in (
        env_,
        execution_,
        executions_,
        global_,
        json_dump_,
        json_parse_,
        json_pp_,
        task_,
        tasks_,
        uuid_,
        yaml_dump_,
        yaml_parse_,
    )
}
FUNCTION_NAMES = tuple(TABLE)
