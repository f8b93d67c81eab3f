"""Finding, evaluating and checking the expressions inside workflow values, by Mistral's rules.

A string holds an expression when it contains ``<% ... %>`` (YAQL) or
``{{ ... }}`` / ``{% ... %}`` (Jinja) on one line; when both kinds are present
the string is Jinja (Mistral tries Jinja first) and validation reports the
mix. A string that is exactly one expression yields the expression's value
with its type; otherwise the text is kept and each result is spliced in with
Python's ``str()`` (YAQL) or the template is rendered (Jinja). Dict values and
list items are evaluated recursively; keys never are.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sirocco import errors
from sirocco.expressions import budget as expression_budget
from sirocco.expressions import functions as expression_functions
from sirocco.expressions import yaql_evaluator

if TYPE_CHECKING:
    from types import ModuleType


def _jinja() -> ModuleType:
    """The Jinja evaluator, imported with the first Jinja expression: jinja2 is a part of
    the start-up a run without Jinja would pay for nothing."""
    from sirocco.expressions import jinja_evaluator

    return jinja_evaluator


# Mistral's patterns: no DOTALL, so a delimiter pair split over lines is text.
_YAQL_PATTERN = re.compile(r"<%.*?%>")
_JINJA_VARIABLE_PATTERN = re.compile(r"{{(.*?)}}")
_JINJA_BLOCK_PATTERN = re.compile(r"{%.*?%}")

_DELIMITERS = ("<%", "{{", "{%")

_MIXING_PROBLEM = (
    "The line already contains an expression of type 'jinja'. "
    "Mixing expression types in a single line is not allowed."
)

# Longest part of an expression quoted in an error message.
_QUOTE_LIMIT = 1000


@dataclass(frozen=True, slots=True, kw_only=True)
class _Plan:
    """How to evaluate one string: its language and, for YAQL, its expressions."""

    language: str  # "jinja", "yaql" or "" (no expression)
    whole: str | None = None  # the Jinja or YAQL expression that is the whole string
    blocks_only: bool = False  # Jinja with {% %} statements and no {{ }} expression
    yaql_parts: tuple[tuple[str, str], ...] = ()  # (delimited text, expression)


_NO_EXPRESSION = _Plan(language="")


def _is_jinja(text: str) -> bool:
    return bool(_JINJA_VARIABLE_PATTERN.search(text) or _JINJA_BLOCK_PATTERN.search(text))


def _yaql_expression(delimited: str) -> str:
    # As Mistral: drop the delimiter characters at both ends, then spaces.
    return delimited.strip("<%>").strip()


@functools.lru_cache(maxsize=16384)
def _plan(text: str) -> _Plan:
    if _is_jinja(text):
        first = _JINJA_VARIABLE_PATTERN.search(text)
        whole = first.group(1) if first is not None and first.group(0) == text else None
        return _Plan(language="jinja", whole=whole, blocks_only=first is None)
    found = _YAQL_PATTERN.findall(text)
    if not found:
        return _NO_EXPRESSION
    if len(found) == 1 and len(found[0]) == len(text):
        return _Plan(language="yaql", whole=_yaql_expression(found[0]))
    parts = tuple(dict.fromkeys((part, _yaql_expression(part)) for part in found))
    return _Plan(language="yaql", yaql_parts=parts)


def _quote(text: str) -> str:
    return text if len(text) <= _QUOTE_LIMIT else text[:_QUOTE_LIMIT] + "..."


def _failure(
    language: str, expression: str, error: BaseException
) -> errors.ExpressionEvaluationError:
    if isinstance(error, MemoryError):
        return errors.ExpressionEvaluationError(
            f"Expression evaluation exceeded the available memory [expression={_quote(expression)}]"
        )
    return errors.ExpressionEvaluationError(
        f"Can not evaluate {language} expression "
        f"[expression={_quote(expression)}, error={_quote(str(error))}]"
    )


def _limit_failure(
    expression: str, error: expression_budget.LimitExceeded
) -> expression_budget.LimitExceeded:
    return expression_budget.LimitExceeded(
        f"Expression evaluation exceeded {error.message} [expression={_quote(expression)}]"
    )


def _passes_through(error: Exception) -> bool:
    # A Sirocco error raised by the engine's functions keeps its words: an
    # evaluation error is already worded, and the others are not about the
    # expression (Mistral re-raises database errors the same way).
    return isinstance(error, errors.SiroccoError)


def _evaluate_yaql(
    expression: str, data: Any, functions: expression_functions.Functions | None
) -> Any:
    current = expression_budget.current()
    try:
        current.begin()
        return yaql_evaluator.evaluate(expression, data, functions)
    except expression_budget.LimitExceeded as error:
        raise _limit_failure(expression, error) from error
    except RecursionError as error:
        raise _failure("YAQL", expression, RecursionError("nested too deeply")) from error
    except Exception as error:
        if _passes_through(error):
            raise
        raise _failure("YAQL", expression, error) from error
    finally:
        current.end()


def _evaluate_jinja(
    plan: _Plan, text: str, data: Any, functions: expression_functions.Functions | None
) -> Any:
    if plan.blocks_only:
        # Mistral 23 looks for the first {{ }} of a Jinja string and fails when there
        # is none ("list index out of range"): a text of statements alone never
        # evaluates there, so it does not here either (checked on the oracle).
        raise _failure("Jinja", text, IndexError("list index out of range"))
    current = expression_budget.current()
    try:
        current.begin()
        if plan.whole is not None:
            return _jinja().evaluate_expression(plan.whole, data, functions)
        return _jinja().render(text, data, functions)
    except expression_budget.LimitExceeded as error:
        raise _limit_failure(text, error) from error
    except RecursionError as error:
        raise _failure("Jinja", text, RecursionError("nested too deeply")) from error
    except Exception as error:
        if _passes_through(error):
            raise
        raise _failure("Jinja", text, error) from error
    finally:
        current.end()


def _evaluate_string(text: str, data: Any, functions: expression_functions.Functions | None) -> Any:
    if "<%" not in text and "{{" not in text and "{%" not in text:  # _DELIMITERS
        return text
    plan = _plan(text)
    if plan.language == "jinja":
        return _evaluate_jinja(plan, text, data, functions)
    if plan.language == "":
        return text
    if plan.whole is not None:
        return _evaluate_yaql(plan.whole, data, functions)
    result = text
    for delimited, expression in plan.yaql_parts:
        result = result.replace(delimited, str(_evaluate_yaql(expression, data, functions)))
    return result


def evaluate(
    value: Any,
    data: Any,
    functions: expression_functions.Functions | None = None,
    budget: expression_budget.Budget | None = None,
) -> Any:
    """Evaluate the expressions inside ``value`` against the data context ``data``.

    ``data`` is ``$`` in YAQL and ``_`` in Jinja; it may be any mapping (the
    engine passes a ``collections.ChainMap``) and is read, never copied whole
    or changed. A string that is exactly one expression returns the native
    value; text mixed with expressions interpolates each result with
    ``str()`` (``True``, ``None``, ``{'a': 1}``, as Mistral does). Dict values
    and list items are evaluated recursively into new dicts and lists (keys
    never); other values are returned unchanged. Results are plain Python:
    dicts and lists, never views of ``data``.

    Args:
        value: a string, dict, list or any other value from a workflow definition.
        data: the data context.
        functions: what ``task()``, ``tasks()``, ``execution()``, ``executions()``
            and ``global()`` read; without it they fail, the other functions work.
        budget: the sizes and times the expressions may use (default: the
            default limits, without time limits).

    Returns:
        ``value`` with every expression replaced by its result.

    Raises:
        sirocco.errors.ExpressionEvaluationError: an expression failed; the
            message quotes the expression and the error, never the data. When it
            exceeded a limit of the budget, the message names the limit.
    """
    if budget is None:
        return _evaluate_value(value, data, functions)
    previous = expression_budget.enter(budget)
    try:
        return _evaluate_value(value, data, functions)
    finally:
        expression_budget.leave(previous)


def _evaluate_value(value: Any, data: Any, functions: expression_functions.Functions | None) -> Any:
    if isinstance(value, str):
        return _evaluate_string(value, data, functions)
    if isinstance(value, dict):
        return {key: _evaluate_value(item, data, functions) for key, item in value.items()}
    if isinstance(value, list):
        return [_evaluate_value(item, data, functions) for item in value]
    return value


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}[{index}]")


def has_expressions(value: Any) -> bool:
    """Whether any string in ``value`` (dict values and list items included) holds an expression."""
    return any(_plan(text).language for _, text in _strings(value, "") if _might_hold(text))


def _might_hold(text: str) -> bool:
    return any(delimiter in text for delimiter in _DELIMITERS)


def validate(text: str) -> list[str]:
    """Return the syntax problems of the expressions in one string, ``[]`` when there are none.

    Reports Jinja template syntax errors, YAQL grammar errors (each ``<% %>``),
    and Mistral's "Mixing expression types in a single line is not allowed"
    when a string holds both kinds (its YAQL parts are then plain text and are
    not checked). Anything but a string has no problems.
    """
    if not isinstance(text, str) or not _might_hold(text):
        return []
    problems: list[str] = []
    is_jinja = _is_jinja(text)
    if is_jinja:
        problem = _jinja().syntax_problem(text)
        if problem is not None:
            problems.append(problem)
    found = _YAQL_PATTERN.findall(text)
    if found and is_jinja:
        problems.append(_MIXING_PROBLEM)
    elif found:
        for delimited in found:
            # Mistral parses the text between the delimiters with its spaces.
            problem = yaql_evaluator.syntax_problem(delimited.strip("<%>"))
            if problem is not None:
                problems.append(problem)
    return problems


def validate_value(value: Any) -> list[tuple[str, str]]:
    """Return ``(path, problem)`` for every string in ``value`` whose expressions do not parse.

    Walks dict values and list items as :func:`evaluate` does; a path reads
    like ``input.x[2]`` (``""`` for ``value`` itself).
    """
    return [(path, problem) for path, text in _strings(value, "") for problem in validate(text)]
