"""Direct evaluation of the common parts of a parsed YAQL expression, with YAQL's exact results.

YAQL evaluates every operator and key access by looking up and matching
overloads, which costs tens of microseconds each. :func:`speed_up` rewrites a
parsed expression once, replacing:

- ``X.key`` chains by a lookup that reads ``mapping[key]`` while the value is
  a mapping (what YAQL's dict overload does, ``KeyError`` included);
- ``+ - * < <= > >=`` by the Python operator when both operands are numbers
  (not booleans) or, where YAQL defines it, both strings;
- ``=``, ``!=``, ``and``, ``or`` (one overload each in YAQL, Python's meaning)
  by Python's operators;
- calls of Mistral's functions with positional arguments by direct calls.

Whenever a value falls outside these cases, the operation is handed to
YAQL's dispatch with the operands already evaluated, so YAQL chooses the
overload (or fails) exactly as it would have; nothing is evaluated twice.
"""

from __future__ import annotations

import inspect
import operator
from collections.abc import Callable, Mapping
from typing import Any

from yaql.language import expressions as yaql_expressions
from yaql.language import utils as yaql_utils

from sirocco.expressions import budget

NO_VALUE = yaql_utils.NO_VALUE

_NUMBER_TYPES = (int, float)

# name -> (Python operator, whether YAQL also defines it for two strings)
_TYPED_OPERATORS: dict[str, tuple[Callable[[Any, Any], Any], bool]] = {
    "#operator_+": (operator.add, True),
    "#operator_-": (operator.sub, False),
    "#operator_*": (operator.mul, False),
    "#operator_<": (operator.lt, True),
    "#operator_<=": (operator.le, True),
    "#operator_>": (operator.gt, True),
    "#operator_>=": (operator.ge, True),
}

_EQUALITY_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "*equal": operator.eq,
    "*not_equal": operator.ne,
}

_ATTRIBUTE = "#operator_."

#: Operators whose result may be much larger than their operands.
_GROWING_OPERATORS = frozenset({"#operator_+", "#operator_*"})
_SMALL = 1 << 12


def _is_large(value: Any) -> bool:
    if type(value) is str:
        return len(value) > _SMALL
    return type(value) is int and not -(1 << 64) < value < 1 << 64


def _check_size(value: Any, engine: Any) -> None:
    if type(value) is int:
        budget.current().check_number(value)
    else:
        # What YAQL checks after each of its functions: the memory quota.
        yaql_utils.limit_memory_usage(engine, (1, value))


class _Evaluated(yaql_expressions.Expression):  # type: ignore[misc]
    """An operand already evaluated, handed back to YAQL's dispatch."""

    def __init__(self, value: Any) -> None:
        self.value = value
        self.uses_receiver = False

    def __call__(self, receiver: Any, context: Any, engine: Any) -> Any:
        return self.value


def _evaluate(node: Any, context: Any, engine: Any) -> Any:
    """An argument's value, as YAQL computes it before calling a function."""
    if isinstance(node, yaql_expressions.Constant):
        return node.value
    return node(NO_VALUE, context, engine)


def _dispatch(name: str, receiver: Any, context: Any, engine: Any, *arguments: Any) -> Any:
    """Call the YAQL function ``name`` through YAQL's own overload matching."""
    return context(name, engine, receiver, context)(*arguments)


class _Replacement(yaql_expressions.Expression):  # type: ignore[misc]
    """A faster stand-in for a parsed node; shows as the node in messages."""

    original: Any

    def __str__(self) -> str:
        return str(self.original)


class _KeyAccess(_Replacement):
    """``X.a.b``: ``X`` (a variable such as ``$`` or any expression) then key steps."""

    def __init__(self, node: Any, base: Any, steps: list[Any]) -> None:
        self.original = node
        self.uses_receiver = False
        self.variable = (
            base.path.value if isinstance(base, yaql_expressions.GetContextValue) else None
        )
        self.base = base
        self.steps = tuple(steps)  # the KeywordConstant nodes
        self.keys = tuple(step.value for step in steps)

    def __call__(self, receiver: Any, context: Any, engine: Any) -> Any:
        if self.variable is not None:
            value = context[self.variable]
        else:
            value = _evaluate(self.base, context, engine)
        last = len(self.keys) - 1
        for index, key in enumerate(self.keys):
            if isinstance(value, Mapping):
                value = value[key]
            else:
                step_receiver = receiver if index == last else NO_VALUE
                value = _dispatch(
                    _ATTRIBUTE, step_receiver, context, engine, _Evaluated(value), self.steps[index]
                )
        return value


class _TypedOperator(_Replacement):
    """``a + b``, ``a < b``, ...: Python's operator for two numbers (or two strings)."""

    def __init__(self, node: Any) -> None:
        self.original = node
        self.uses_receiver = False
        self.name = node.name
        self.function, self.strings_too = _TYPED_OPERATORS[node.name]
        self.grows = node.name in _GROWING_OPERATORS
        self.left, self.right = node.args

    def __call__(self, receiver: Any, context: Any, engine: Any) -> Any:
        left = _evaluate(self.left, context, engine)
        right = _evaluate(self.right, context, engine)
        left_type, right_type = type(left), type(right)
        if (left_type in _NUMBER_TYPES and right_type in _NUMBER_TYPES) or (
            self.strings_too and left_type is str and right_type is str
        ):
            result = self.function(left, right)
            if self.grows and _is_large(result):
                # A string doubled in a loop, a product squared again and again.
                _check_size(result, engine)
            return result
        return _dispatch(self.name, receiver, context, engine, _Evaluated(left), _Evaluated(right))


class _EqualityOperator(_Replacement):
    """``a = b``, ``a != b``: YAQL's single overload compares any two values with Python."""

    def __init__(self, node: Any) -> None:
        self.original = node
        self.uses_receiver = False
        self.function = _EQUALITY_OPERATORS[node.name]
        self.left, self.right = node.args

    def __call__(self, receiver: Any, context: Any, engine: Any) -> Any:
        left = _evaluate(self.left, context, engine)
        return self.function(left, _evaluate(self.right, context, engine))


class _BooleanOperator(_Replacement):
    """``a and b``, ``a or b``: Python's meaning, each side evaluated lazily in a child context."""

    def __init__(self, node: Any) -> None:
        self.original = node
        self.uses_receiver = False
        self.is_and = node.name == "#operator_and"
        self.left, self.right = node.args

    @staticmethod
    def _side(node: Any, context: Any, engine: Any) -> Any:
        if isinstance(node, yaql_expressions.Constant):
            return node.value
        return node(NO_VALUE, context.create_child_context(), engine)

    def __call__(self, receiver: Any, context: Any, engine: Any) -> Any:
        left = self._side(self.left, context, engine)
        if bool(left) != self.is_and:
            return left
        return self._side(self.right, context, engine)


class _DirectCall(_Replacement):
    """``f(a, b)`` for one of Mistral's functions, called without YAQL's matching.

    YAQL types a parameter by its default (``recursive=false`` takes booleans
    or null); an argument of another type goes to YAQL, which reports it.
    """

    def __init__(self, node: Any, function: Callable[..., Any], types: tuple[type, ...]) -> None:
        self.original = node
        self.uses_receiver = node.uses_receiver
        self.name = node.name
        self.function = function
        self.arguments = node.args
        self.types = types

    def __call__(self, receiver: Any, context: Any, engine: Any) -> Any:
        if receiver is not NO_VALUE:  # called as a method: YAQL reports it
            return self.original(receiver, context, engine)
        values = [_evaluate(argument, context, engine) for argument in self.arguments]
        for value, expected in zip(values, self.types, strict=False):
            if value is not None and not isinstance(value, expected):
                evaluated = (_Evaluated(value) for value in values)
                return _dispatch(self.name, receiver, context, engine, *evaluated)
        return self.function(context, *values)


class _Power(_Replacement):
    """``pow(a, b)``: refused before Python computes it when the result would be too large."""

    def __init__(self, node: Any) -> None:
        self.original = node
        self.uses_receiver = node.uses_receiver
        self.arguments = node.args

    def __call__(self, receiver: Any, context: Any, engine: Any) -> Any:
        if receiver is not NO_VALUE:
            return self.original(receiver, context, engine)
        values = [_evaluate(argument, context, engine) for argument in self.arguments]
        base, exponent = values[0], values[1]
        if type(base) is int and type(exponent) is int and exponent > 0:
            estimate = base.bit_length() * exponent
            if estimate > 8 * budget.MAX_NUMBER_BYTES:
                raise budget.LimitExceeded(budget.number_problem())
        evaluated = (_Evaluated(value) for value in values)
        return _dispatch("pow", receiver, context, engine, *evaluated)


def _parameter_types(function: Callable[..., Any]) -> tuple[range, tuple[type, ...]]:
    """How many positional arguments a user may pass, and the type YAQL expects of each."""
    parameters = [
        parameter
        for parameter in inspect.signature(function).parameters.values()
        if parameter.name != "context"
    ]
    required = sum(1 for parameter in parameters if parameter.default is inspect.Parameter.empty)
    types = tuple(
        object if parameter.default in (None, inspect.Parameter.empty) else type(parameter.default)
        for parameter in parameters
    )
    return range(required, len(parameters) + 1), types


def _key_steps(node: Any) -> tuple[Any, list[Any]] | None:
    """``(base, key nodes)`` when ``node`` is ``base.key1.key2...``, else None."""
    steps: list[Any] = []
    while (
        isinstance(node, yaql_expressions.BinaryOperator)
        and node.name == _ATTRIBUTE
        and isinstance(node.args[1], yaql_expressions.KeywordConstant)
    ):
        steps.append(node.args[1])
        node = node.args[0]
    if not steps:
        return None
    steps.reverse()
    return node, steps


def _direct_call(node: Any, functions: Mapping[str, Callable[..., Any]]) -> _DirectCall | None:
    function = functions.get(node.name)
    if function is None or not isinstance(node, yaql_expressions.Function):
        return None
    if type(node) is not yaql_expressions.Function:  # operators, lists, maps, indexers
        return None
    if any(isinstance(argument, yaql_expressions.MappingRuleExpression) for argument in node.args):
        return None  # keyword arguments (name => value): left to YAQL
    counts, types = _parameter_types(function)
    if len(node.args) not in counts:
        return None
    return _DirectCall(node, function, types)


def speed_up(node: Any, functions: Mapping[str, Callable[..., Any]]) -> Any:
    """Return ``node`` with the common parts replaced (children first, in place).

    Args:
        node: a parsed YAQL expression.
        functions: Mistral's functions by name, each taking the YAQL context first.
    """
    found = _key_steps(node)
    if found is not None:
        base, steps = found
        if not isinstance(base, yaql_expressions.GetContextValue):
            base = speed_up(base, functions)
        return _KeyAccess(node, base, steps)
    if isinstance(node, yaql_expressions.Function):
        node.args = tuple(speed_up(argument, functions) for argument in node.args)
        name = node.name
        if len(node.args) == 2 and name in _TYPED_OPERATORS:
            return _TypedOperator(node)
        if len(node.args) == 2 and name in _EQUALITY_OPERATORS:
            return _EqualityOperator(node)
        if len(node.args) == 2 and name in ("#operator_and", "#operator_or"):
            return _BooleanOperator(node)
        if (
            name == "pow"
            and type(node) is yaql_expressions.Function
            and len(node.args) in (2, 3)
            and not any(
                isinstance(argument, yaql_expressions.MappingRuleExpression)
                for argument in node.args
            )
        ):
            return _Power(node)
        return _direct_call(node, functions) or node
    if isinstance(node, yaql_expressions.MappingRuleExpression):
        node.destination = speed_up(node.destination, functions)
    elif isinstance(node, yaql_expressions.Wrap):
        node.expr = speed_up(node.expr, functions)
    return node
