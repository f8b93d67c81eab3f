"""Jinja evaluation in Mistral's sandbox with Mistral's functions, each template compiled once.

As in Mistral, the data context is the variable ``_`` (its keys are not
template variables), ``__env``, ``__execution`` and ``__task_execution`` are
variables too, undefined values raise (``StrictUndefined``), and blocks trim
their line ends. Mistral's functions are globals (``task('t')``) and filters
whose piped value is the data context (``_ | task('t')``, ``_ | env``).

The engine passes the context as a ``collections.ChainMap``; here it answers
attribute and item lookups like the dict Mistral passes (``_.items`` is the
dict method, ``_.maps`` is the key ``maps``). The data is shared, not copied
per evaluation as in Mistral, so methods that would change a dict, list or
set of the data are refused (the template's own lists stay changeable).
"""

from __future__ import annotations

import contextvars
import functools
import json
from collections import ChainMap
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import jinja2
from jinja2 import nodes, sandbox
from jinja2 import parser as jinja_parser

from sirocco import references
from sirocco.expressions import budget, conversion
from sirocco.expressions import functions as expression_functions

# Variable names a template cannot spell (they contain a space).
_DATA_NAME = " sirocco data"
_FUNCTIONS_NAME = " sirocco functions"

# Attribute names a dict answers; on the ChainMap root any other name is a key.
_DICT_ATTRIBUTES = frozenset(name for name in dir(dict) if not name.startswith("_"))


class _ContextView(dict[str, Any]):
    """Stands for the data root in the text of an undefined value.

    Jinja's message names the type of the value's owner ("'dict object' has no
    attribute 'x'"); the root Mistral gives its templates is its
    ``mistral.workflow.data_flow.ContextView``, so its messages name that.
    """


_ContextView.__module__ = "mistral.workflow.data_flow"
_ContextView.__name__ = _ContextView.__qualname__ = "ContextView"
_ROOT_STAND_IN = _ContextView()


class _Evaluation:
    """The data of the evaluation in progress, and the mutable containers inside it."""

    __slots__ = ("data", "owned")

    def __init__(self, data: Any) -> None:
        self.data = data
        self.owned: set[int] | None = None

    def owns(self, obj: Any) -> bool:
        if self.owned is None:
            self.owned = _mutable_containers(self.data)
        return id(obj) in self.owned


def _mutable_containers(data: Any) -> set[int]:
    """The ids of every dict, list and set reachable from ``data`` (``data`` included)."""
    found: set[int] = set()
    pending = [data]
    while pending:
        value = pending.pop()
        if isinstance(value, str | int | float | type(None)) or id(value) in found:
            continue
        if isinstance(value, Mapping):
            found.add(id(value))
            pending.extend(value.values())
        elif isinstance(value, list | tuple | set | frozenset):
            found.add(id(value))
            pending.extend(value)
    return found


_CURRENT_EVALUATION: contextvars.ContextVar[_Evaluation | None] = contextvars.ContextVar(
    "sirocco_jinja_evaluation", default=None
)


_SIZED = (str, list, tuple, bytes)


def _check_size(value: Any) -> Any:
    """``value``, once its size is within the budget (strings and lists only)."""
    if isinstance(value, _SIZED):
        current = budget.current()
        size = len(value) if isinstance(value, str | bytes) else 8 * len(value)
        current.check_bytes(size)
    return value


def _check_text(value: Any) -> Any:
    """``value``; a string built by the template (``ns.s ~ ns.s`` in a loop) must fit."""
    if type(value) is str and len(value) > 4096:
        budget.current().check_bytes(len(value))
    return value


def _check_repeat(left: Any, right: Any) -> None:
    """Refuse ``sequence * count`` before Python builds it, when it would be too large."""
    for sequence, count in ((left, right), (right, left)):
        if isinstance(sequence, _SIZED) and isinstance(count, int) and count > 0:
            unit = 1 if isinstance(sequence, str | bytes) else 8
            budget.current().check_bytes(len(sequence) * count * unit)


def _check_power(base: Any, exponent: Any) -> None:
    if (
        isinstance(base, int)
        and isinstance(exponent, int)
        and exponent > 0
        and base.bit_length() * exponent > 8 * budget.MAX_NUMBER_BYTES
    ):
        raise budget.LimitExceeded(budget.number_problem())


class _Environment(sandbox.SandboxedEnvironment):
    """Mistral's sandbox that cannot change the data, with the ChainMap root read like a dict.

    Mistral evaluates each expression on its own copy of the context, so a
    template that changes a value it reads (``_.l.append(1)``) changes only
    that copy. Here the data is shared, not copied, so the methods that
    change a dict, list or set are refused on containers of the data;
    containers the template builds itself stay changeable.
    """

    intercepted_binops = frozenset({"*", "**", "+"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        budget.current().tick()
        if operator == "*":
            _check_repeat(left, right)
        elif operator == "**":
            _check_power(left, right)
        result = super().call_binop(context, operator, left, right)
        if type(result) is int and operator != "+":
            budget.current().check_number(result)
        return _check_size(result)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        budget.current().tick()
        return _check_size(super().call(__context, __obj, *args, **kwargs))

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if not super().is_safe_attribute(obj, attr, value):
            return False
        if sandbox.modifies_known_mutable(obj, attr):
            evaluation = _CURRENT_EVALUATION.get()
            return evaluation is not None and not evaluation.owns(obj)
        return True

    def getattr(self, obj: Any, attribute: str) -> Any:
        budget.current().tick()
        if isinstance(obj, ChainMap) and attribute not in _DICT_ATTRIBUTES:
            try:
                return references.resolve(obj[attribute])
            except KeyError:
                return self.undefined(obj=_ROOT_STAND_IN, name=attribute)
        return _check_text(references.resolve(super().getattr(obj, attribute)))

    def getitem(self, obj: Any, argument: Any) -> Any:
        budget.current().tick()
        if isinstance(obj, ChainMap):
            try:
                return references.resolve(obj[argument])
            except (KeyError, TypeError):
                if isinstance(argument, str) and argument in _DICT_ATTRIBUTES:
                    return super().getattr(obj, argument)
                return self.undefined(obj=_ROOT_STAND_IN, name=argument)
        return _check_text(references.resolve(super().getitem(obj, argument)))


class _FilterScope(expression_functions.Scope):
    """What a function used as a filter sees: the piped value is the data context."""

    __slots__ = ()

    def env(self) -> Any:
        if not isinstance(self.data, Mapping):
            raise TypeError("the env filter needs the data context: _ | env")
        return super().env()


def _global(function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` as a Jinja global: Mistral's parameters, the data context bound."""

    @jinja2.pass_context
    def call(context: Any, *arguments: Any, **named: Any) -> Any:
        scope = expression_functions.Scope(context.get(_DATA_NAME), context.get(_FUNCTIONS_NAME))
        return function(scope, *arguments, **named)

    return call


def _filter(function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` as a Jinja filter: the piped value is the data context, as in Mistral.

    So ``_ | json_dump(_.x)`` works and ``_.x | json_dump`` fails in Mistral 23's
    words (checked on the oracle): ``json_dump_() missing 1 required positional
    argument: 'data'``.
    """

    @jinja2.pass_context
    def call(context: Any, value: Any, *arguments: Any, **named: Any) -> Any:
        scope = _FilterScope(value, context.get(_FUNCTIONS_NAME))
        return function(scope, *arguments, **named)

    return call


_GLOBALS = {name: _global(function) for name, function in expression_functions.TABLE.items()}
_FILTERS = {name: _filter(function) for name, function in expression_functions.TABLE.items()}


def _create_environment() -> _Environment:
    environment = _Environment(
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True
    )
    environment.globals.update(_GLOBALS)
    environment.filters.update(_FILTERS)
    # ``tojson`` must write the ChainMap root and other mappings too.
    environment.policies["json.dumps_function"] = functools.partial(
        json.dumps, default=expression_functions.json_default
    )
    return environment


_ENVIRONMENT = _create_environment()


# Every global of the environment, given to each evaluation with the data so
# that Jinja does not copy the environment's globals into each new context.
_GLOBAL_VARIABLES = dict(_ENVIRONMENT.globals)


@functools.lru_cache(maxsize=8192)
def _compile_expression(expression: str) -> jinja2.Template:
    """A template that stores the value of ``expression`` in its variable ``result``.

    This is what ``Environment.compile_expression`` builds; calling the
    template directly lets an evaluation share one variables dict.
    """
    parser = jinja_parser.Parser(_ENVIRONMENT, expression, state="variable")
    parsed = parser.parse_expression()
    if not parser.stream.eos:
        raise jinja2.TemplateSyntaxError(
            "chunk after expression", parser.stream.current.lineno, None, None
        )
    parsed.set_environment(_ENVIRONMENT)
    body = [nodes.Assign(nodes.Name("result", "store"), parsed, lineno=1)]
    return _ENVIRONMENT.from_string(nodes.Template(body, lineno=1))


@functools.lru_cache(maxsize=8192)
def _compile_template(text: str) -> jinja2.Template:
    return _ENVIRONMENT.from_string(text)


def syntax_problem(text: str) -> str | None:
    """Why the template ``text`` does not parse, worded as Mistral does, or None."""
    try:
        _ENVIRONMENT.parse(text)
    except jinja2.TemplateError as error:
        return f"Syntax error '{error}'."
    return None


def _compiled(compile: Callable[[str], jinja2.Template], text: str) -> jinja2.Template:
    try:
        return compile(text)
    except jinja2.TemplateSyntaxError as error:
        error.translated = True  # its text without a "line 1" suffix, as Jinja reports it
        raise


def _context(
    template: jinja2.Template, data: Any, functions: expression_functions.Functions | None
) -> Any:
    variables = _GLOBAL_VARIABLES.copy()
    is_mapping = isinstance(data, Mapping)
    variables["_"] = data
    variables["__env"] = data.get("__env") if is_mapping else None
    variables["__execution"] = data.get("__execution") if is_mapping else None
    variables["__task_execution"] = data.get("__task_execution") if is_mapping else None
    variables[_DATA_NAME] = data
    variables[_FUNCTIONS_NAME] = functions
    return template.new_context(variables, shared=True)


def _drain(pieces: Iterator[str]) -> list[str]:
    """The rendered pieces of text, checking the budget at each (a loop renders many)."""
    current = budget.current()
    kept: list[str] = []
    size = 0
    for piece in pieces:
        current.tick()
        size += len(piece)
        current.check_bytes(size)
        kept.append(piece)
    return kept


def evaluate_expression(
    expression: str, data: Any, functions: expression_functions.Functions | None
) -> Any:
    """Evaluate one Jinja expression (the text inside ``{{ }}``) to a plain Python value.

    A plain read (``_.a.b``, ``_['a']``, ``task().result``, ``task('t').published.x``)
    is read directly (:func:`_read_path`); anything off its plain path is evaluated
    by Jinja, which words the error.

    Raises whatever Jinja or a function raised (an undefined value raises
    ``jinja2.UndefinedError``); the caller words the error.
    """
    path = _path(expression)
    if path is not None:
        value = _read_path(path, data, functions)
        if value is not _OFF_THE_PATH:
            return value
    return _evaluate_compiled(expression, data, functions)


def _evaluate_compiled(
    expression: str, data: Any, functions: expression_functions.Functions | None
) -> Any:
    """:func:`evaluate_expression` by Jinja's compiled template, whatever the expression."""
    template = _compiled(_compile_expression, expression)
    context = _context(template, data, functions)
    token = _CURRENT_EVALUATION.set(_Evaluation(data))
    try:
        _drain(template.root_render_func(context))
        result = context.vars["result"]
        if isinstance(result, jinja2.Undefined):
            str(result)  # a StrictUndefined raises here, naming what is missing
        # Inside the evaluation: a lazy result (a generator) runs here.
        return conversion.plain(result)
    finally:
        _CURRENT_EVALUATION.reset(token)


# ---------------------------------------------------------------- plain reads


@dataclass(frozen=True, slots=True)
class _Path:
    """A plain read: ``_`` or ``task(name)`` (``task`` true), then key steps, each
    ``(key, is_item)``: ``.key`` or ``['key']``."""

    task: bool
    name: str | None
    steps: tuple[tuple[str, bool], ...]


#: What Jinja's ``getattr`` finds on a dict before its keys (``_.x.items`` is the method).
_DICT_NAMES = frozenset(dir(dict))
_OFF_THE_PATH = object()


@functools.lru_cache(maxsize=8192)
def _path(expression: str) -> _Path | None:
    """The plain read ``expression`` is, or None (any other expression, or one that does
    not parse: Jinja then reports it)."""
    try:
        parser = jinja_parser.Parser(_ENVIRONMENT, expression, state="variable")
        node = parser.parse_expression()
        if not parser.stream.eos:
            return None
    except jinja2.TemplateError:
        return None
    steps: list[tuple[str, bool]] = []
    while True:
        if type(node) is nodes.Getattr:
            steps.append((node.attr, False))
        elif (
            type(node) is nodes.Getitem
            and type(node.arg) is nodes.Const
            and type(node.arg.value) is str
        ):
            steps.append((node.arg.value, True))
        else:
            break
        node = node.node
    if not steps:
        return None
    steps.reverse()
    if type(node) is nodes.Name and node.name == "_":
        return _Path(task=False, name=None, steps=tuple(steps))
    if (
        type(node) is nodes.Call
        and type(node.node) is nodes.Name
        and node.node.name == "task"
        and not node.kwargs
        and node.dyn_args is None
        and node.dyn_kwargs is None
        and len(node.args) <= 1
        and all(type(argument) is nodes.Const for argument in node.args)
    ):
        name = node.args[0].value if node.args else None  # type: ignore[attr-defined]
        if name is None or type(name) is str:
            return _Path(task=True, name=name, steps=tuple(steps))
    return None


def _read_path(path: _Path, data: Any, functions: expression_functions.Functions | None) -> Any:
    """The value of a plain read as Jinja gives it, or ``_OFF_THE_PATH`` when anything is
    off the plain path (no such task or key, a step into what is not a dict, a key that
    is also a dict's attribute): then the whole expression is evaluated by Jinja.

    Jinja's own steps, mirrored: on the data root (a ``ChainMap``) ``.key`` reads the
    key unless a dict has an attribute of that name, and the value is loaded when it is
    stored by reference; ``task()`` gives the task as a plain dict; a step into a dict
    reads its key (``.key`` only when a dict has no attribute of that name); each value
    read below the root is loaded and, when a long text, measured against the budget.
    ``task()`` is a read of the engine's records, so reading it twice changes nothing.
    """
    steps = path.steps
    if path.task:
        if functions is None:
            return _OFF_THE_PATH
        try:
            found = functions.task(path.name)
        except Exception:
            return _OFF_THE_PATH
        key, is_item = steps[0]
        if found is None or (not is_item and key in _DICT_NAMES) or key not in found:
            return _OFF_THE_PATH
        value = _check_text(references.resolve(conversion.plain(found[key])))
    else:
        key, is_item = steps[0]
        if isinstance(data, ChainMap):
            if not is_item and key in _DICT_ATTRIBUTES:
                return _OFF_THE_PATH
            try:  # one walk of the layers (``key in`` a ChainMap walks them too)
                value = references.resolve(data[key])
            except KeyError:
                return _OFF_THE_PATH
        elif type(data) is dict:
            if (not is_item and key in _DICT_NAMES) or key not in data:
                return _OFF_THE_PATH
            value = _check_text(references.resolve(data[key]))
        else:
            return _OFF_THE_PATH
    for key, is_item in steps[1:]:
        if type(value) is not dict or (not is_item and key in _DICT_NAMES) or key not in value:
            return _OFF_THE_PATH
        value = _check_text(references.resolve(value[key]))
    return conversion.plain(value)


def render(text: str, data: Any, functions: expression_functions.Functions | None) -> str:
    """Render ``text`` as a template to a string; raises what Jinja or a function raised."""
    template = _compiled(_compile_template, text)
    context = _context(template, data, functions)
    token = _CURRENT_EVALUATION.set(_Evaluation(data))
    try:
        return "".join(_drain(template.root_render_func(context)))
    finally:
        _CURRENT_EVALUATION.reset(token)
