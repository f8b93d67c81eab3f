"""YAQL evaluation with Mistral's engine options and functions, each expression parsed once.

The engine is built as Mistral builds it (keyword operator ``=>``, no
delegates, output converted to plain data with tuples as lists and sets kept)
over YAQL's standard library. Its iterator and memory limits (Mistral's
``limit_iterators`` and ``memory_quota``) come from the evaluation's
:class:`~sirocco.expressions.budget.Budget`, read each time YAQL asks for
them, that is at every function call and for every collection a function
takes; the budget's clock is looked at there too. The data root
``$`` is a lazy :class:`~sirocco.expressions.conversion.FrozenView`, so the
context is never copied or converted as a whole; ``$__env``,
``$__execution`` and ``$__task_execution`` are set as in Mistral. A plain key
path (``$``, ``$.a.b``) is read directly, and the common parts of other
expressions are evaluated without YAQL's function dispatch
(:mod:`sirocco.expressions.yaql_speedups`), with the same results and errors.
"""

from __future__ import annotations

import collections.abc  # noqa: F401  (yaql 3.2.0 uses it without importing it)
import functools
import inspect
import itertools
import threading
from collections.abc import Callable, Iterator, Mapping, Set
from dataclasses import dataclass
from typing import Any

import yaql
from yaql.language import exceptions as yaql_exceptions
from yaql.language import expressions as yaql_expressions
from yaql.language import factory
from yaql.language import utils as yaql_utils

from sirocco import references
from sirocco.expressions import budget, conversion, yaql_speedups, yaql_tables
from sirocco.expressions import functions as expression_functions

_ENGINE_OPTIONS = {
    "yaql.limitIterators": -1,
    "yaql.memoryQuota": -1,
    "yaql.convertTuplesToLists": True,
    "yaql.convertSetsToLists": False,
    "yaql.iterableDicts": False,
    "yaql.convertOutputData": True,
}


class _BudgetedOptions(Mapping[str, Any]):
    """The engine's options, with the limits of the evaluation in progress.

    YAQL reads ``yaql.memoryQuota`` after every function call and
    ``yaql.limitIterators`` for every collection a function takes: the
    places where an expression does work, so the clock is checked there too.
    """

    def __init__(self, fixed: Mapping[str, Any]) -> None:
        self._fixed = dict(fixed)

    def get(self, key: str, default: Any = None) -> Any:
        if key == "yaql.memoryQuota":
            current = budget.current()
            current.tick()
            return current.limits.expression_max_bytes
        if key == "yaql.limitIterators":
            current = budget.current()
            current.check_time()
            return current.limits.expression_max_items
        return self._fixed.get(key, default)

    def __getitem__(self, key: str) -> Any:
        found = self.get(key, _MISSING)
        if found is _MISSING:
            raise KeyError(key)
        return found

    def __iter__(self) -> Any:
        return iter(self._fixed)

    def __len__(self) -> int:
        return len(self._fixed)


_MISSING = object()


class _Engine(factory.YaqlEngine):  # type: ignore[misc]
    """YAQL's engine whose limits are those of the evaluation in progress."""

    _budgeted = _BudgetedOptions(_ENGINE_OPTIONS)

    @property
    def options(self) -> Mapping[str, Any]:
        return self._budgeted


def _create_engine() -> Any:
    with yaql_tables.cached_tables():
        plain = factory.YaqlFactory(keyword_operator="=>", allow_delegates=False).create(
            options=_ENGINE_OPTIONS
        )
    return _Engine(plain.lexer, plain.parser, _ENGINE_OPTIONS, plain.factory)


_ENGINE = _create_engine()

# The PLY lexer and parser behind the engine keep state while parsing.
_PARSE_LOCK = threading.Lock()

# Context names a YAQL expression cannot spell ('#' is not a YAQL name character).
_DATA_NAME = "#sirocco_data"
_FUNCTIONS_NAME = "#sirocco_functions"

_SYNTAX_ERRORS = (yaql_exceptions.YaqlException, KeyError, ValueError, TypeError)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Compiled:
    """A parsed expression (made faster) and, when it only reads keys from ``$``, those keys;
    when it is ``task(...)`` followed by key steps, the call's arguments and the keys."""

    expression: Any
    key_path: tuple[str, ...] | None
    task_path: tuple[tuple[Any, ...], tuple[str, ...]] | None = None


class _Scope(expression_functions.Scope):
    """What a function sees of a YAQL evaluation, read from the YAQL context when asked;
    ``env()`` is the frozen ``__env``."""

    __slots__ = ("_context",)

    def __init__(self, context: Any) -> None:  # the base's values are read from the context
        self._context = context

    @property
    def data(self) -> Any:
        return self._context[_DATA_NAME]

    @property
    def functions(self) -> expression_functions.Functions | None:
        found: expression_functions.Functions | None = self._context[_FUNCTIONS_NAME]
        return found

    def env(self) -> Any:
        return self._context["__env"]


def _adapt(function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` as YAQL calls it: the YAQL context first, then Mistral's parameters.

    YAQL reads the signature to inject ``context`` and to offer the parameters
    in camelCase for ``=>`` (``tasks(workflowExecutionId => ...)``), as for Mistral's.
    """

    def call(context: Any, *arguments: Any, **named: Any) -> Any:
        return function(_Scope(context), *arguments, **named)

    signature = inspect.signature(function)
    parameters = list(signature.parameters.values())[1:]
    context = inspect.Parameter("context", inspect.Parameter.POSITIONAL_OR_KEYWORD)
    call.__signature__ = signature.replace(parameters=[context, *parameters])  # type: ignore[attr-defined]
    call.__name__ = function.__name__
    call.__doc__ = function.__doc__
    return call


_REGISTERED: dict[str, Callable[..., Any]] = {
    name: _adapt(function) for name, function in expression_functions.TABLE.items()
}


def _create_root_context() -> Any:
    root = yaql.create_context()
    for name, function in _REGISTERED.items():
        root.register_function(function, name=name)
    return root


_ROOT_CONTEXT = _create_root_context()


def _root_key_path(expression: Any) -> tuple[str, ...] | None:
    """The keys when ``expression`` is ``$`` followed by ``.key`` steps only, else None."""
    node, keys = _key_steps(expression)
    if isinstance(node, yaql_expressions.GetContextValue) and node.path.value == "$":
        return keys
    return None


def _key_steps(expression: Any) -> tuple[Any, tuple[str, ...]]:
    """What ``expression``'s trailing ``.key`` steps apply to, and those keys in order
    (none when it ends in no such step)."""
    keys: list[str] = []
    node = expression
    while (
        isinstance(node, yaql_expressions.BinaryOperator)
        and node.name == "#operator_."
        and isinstance(node.args[1], yaql_expressions.KeywordConstant)
    ):
        keys.append(node.args[1].value)
        node = node.args[0]
    return node, tuple(reversed(keys))


def _task_key_path(expression: Any) -> tuple[tuple[Any, ...], tuple[str, ...]] | None:
    """``(arguments, keys)`` when ``expression`` is ``task()`` or ``task(constant)`` followed
    by ``.key`` steps only (``task().result``), else None."""
    node, keys = _key_steps(expression)
    if (
        not keys
        or type(node) is not yaql_expressions.Function
        or node.name != "task"
        or len(node.args) > 1
        or not all(isinstance(argument, yaql_expressions.Constant) for argument in node.args)
    ):
        return None
    return tuple(argument.value for argument in node.args), keys


def _read_task_path(
    functions: expression_functions.Functions,
    arguments: tuple[Any, ...],
    keys: tuple[str, ...],
) -> Any:
    """``task(...).a.b`` read from the one field it names, or ``_NOT_A_MAPPING`` when
    anything is off the plain path (no such task, no such key, a step into a value that
    is not a mapping): then the whole expression is evaluated, which words the error.

    ``task()`` is a read of the engine's records, so reading it twice changes nothing.
    """
    try:
        found = functions.task(arguments[0] if arguments else None)
        if found is None:
            return _NOT_A_MAPPING
        value = conversion.plain(found[keys[0]])
        for key in keys[1:]:
            if not isinstance(value, Mapping) or key not in value:
                return _NOT_A_MAPPING
            value = value[key]
    except Exception:
        return _NOT_A_MAPPING
    return _finalize(value)


def _finalize(result: Any) -> Any:
    """YAQL's output conversion (Mistral's options: tuples to lists, sets kept)."""
    if isinstance(result, _SCALAR_RESULTS):
        return result
    if isinstance(result, _SEQUENCES) or (
        isinstance(result, Iterator) and not isinstance(result, (Mapping, Set))
    ):
        # What YAQL does to a sequence, without a call per element when the
        # elements are plain values (a ``range`` of a million items).
        items = _listed(result)
        # A range yields ints alone: its million elements need no look (~16 ms).
        if type(result) in _OF_INTS or _PLAIN_TYPES.issuperset(map(type, items)):
            return items
        return [yaql_utils.convert_output_data(item, _limited, _ENGINE) for item in items]
    return yaql_utils.convert_output_data(result, _limited, _ENGINE)


def _limited(iterable: Any) -> Any:
    return yaql_utils.limit_iterable(iterable, _ENGINE)


def _listed(result: Any) -> list[Any]:
    """The elements of a sequence or an iterator, within YAQL's collection limit.

    An iterator (``range($.n)`` gives one) is read by ``islice`` instead of
    YAQL's limiting generator, which costs a Python step per element; past the
    limit it raises what that generator raises.
    """
    if not isinstance(result, Iterator):
        return list(_limited(result))
    limit = yaql_utils.get_max_collection_size(_ENGINE)
    if limit < 0:
        return list(result)
    items = list(itertools.islice(result, limit + 1))
    if len(items) > limit:
        raise yaql_exceptions.CollectionTooLargeException(limit)
    return items


_SCALAR_RESULTS = (str, int, float, type(None))
#: What YAQL turns into a list (``yaql.convertTuplesToLists``), element by element.
_SEQUENCES = (list, tuple, range)
#: Sequences and iterators whose elements are all ints (``range`` and its iterators).
_OF_INTS = frozenset((range, type(iter(range(0))), type(iter(range(2**64)))))
#: Elements YAQL's output conversion returns as they are (exact types).
_PLAIN_TYPES = frozenset((str, int, float, bool, type(None)))


@functools.lru_cache(maxsize=8192)
def _compile(expression: str) -> _Compiled:
    with _PARSE_LOCK:
        statement = _ENGINE(expression)
    key_path = _root_key_path(statement.expression)
    task_path = _task_key_path(statement.expression)
    expression = yaql_speedups.speed_up(statement.expression, _REGISTERED)
    return _Compiled(expression=expression, key_path=key_path, task_path=task_path)


def syntax_problem(expression: str) -> str | None:
    """Why ``expression`` (the text between ``<%`` and ``%>``) does not parse, or None."""
    try:
        _compile(expression)
    except _SYNTAX_ERRORS as error:
        return str(getattr(error, "message", error))
    return None


_NOT_A_MAPPING = object()


def _read_key_path(data: Any, keys: tuple[str, ...]) -> Any:
    value = data
    for key in keys:
        value = references.resolve(value)
        if not isinstance(value, Mapping):
            return _NOT_A_MAPPING
        value = value[key]
    return conversion.plain(value)


def new_context(data: Any, functions: expression_functions.Functions | None) -> Any:
    """The YAQL context of one evaluation: ``$``, Mistral's variables, and what functions need."""
    context = _ROOT_CONTEXT.create_child_context()
    context["$"] = conversion.freeze(data)
    is_mapping = isinstance(data, Mapping)
    for name in ("__env", "__execution", "__task_execution"):
        context[name] = conversion.freeze(data.get(name)) if is_mapping else None
    context[_DATA_NAME] = data
    context[_FUNCTIONS_NAME] = functions
    return context


def evaluate(expression: str, data: Any, functions: expression_functions.Functions | None) -> Any:
    """Evaluate one YAQL expression (without ``<% %>``) against ``data``; plain Python out.

    Raises whatever YAQL or a function raised; the caller words the error.
    """
    compiled = _compile(expression)
    if compiled.key_path is not None:
        value = _read_key_path(data, compiled.key_path)
        if value is not _NOT_A_MAPPING:
            return value
    if compiled.task_path is not None and functions is not None:
        value = _read_task_path(functions, *compiled.task_path)
        if value is not _NOT_A_MAPPING:
            return value
    context = new_context(data, functions)
    try:
        return _finalize(compiled.expression(yaql_utils.NO_VALUE, context, _ENGINE))
    except yaql_exceptions.WrappedException as error:
        raise error.wrapped from None
    except yaql_exceptions.CollectionTooLargeException as error:
        limit = budget.items_problem(budget.current().limits.expression_max_items)
        raise budget.LimitExceeded(limit) from error
    except yaql_exceptions.MemoryQuotaExceededException as error:
        limit = budget.bytes_problem(budget.current().limits.expression_max_bytes)
        raise budget.LimitExceeded(limit) from error
