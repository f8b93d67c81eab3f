"""The value checks of Mistral's language schemas, each reporting a readable problem at its path.

Mistral validates every spec with JSON schemas built from a few types
(``mistral/lang/types.py``): non-empty strings, non-empty mappings, lists of
unique strings, non-negative integers or booleans that may instead be an
expression, and so on. These functions check the same types on plain data
and add a problem to the :class:`~sirocco.lang.problems.Report` when a value
does not fit; they return whether it fits.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from typing import Any

from sirocco import expressions
from sirocco.lang.loading import Path
from sirocco.lang.problems import Report, kind_of

__all__ = [
    "EXPRESSION_HINT",
    "boolean_or_expression",
    "expression",
    "expressions_in",
    "has_delimiters",
    "integer_or_expression",
    "is_expression",
    "is_integer",
    "known_keys",
    "nonempty_mapping",
    "nonempty_string",
    "shown",
    "unique_string_list",
]

# Mistral's EXPRESSION type: the whole string is one YAQL or Jinja expression
# (a pattern searched with ``^`` and ``$``; ``.`` does not cross lines).
_WHOLE_YAQL = re.compile(r"^<%.*?%>\s*$")
_WHOLE_JINJA = re.compile(r"^\{\{.*?\}\}\s*$")
_DELIMITERS = ("<%", "{{", "{%")

EXPRESSION_HINT = "an expression such as '<% $.x %>'"


def shown(value: Any, limit: int = 48) -> str:
    """A value as it appears in a message, cut to ``limit`` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def has_delimiters(text: str) -> bool:
    """Whether a string may hold an expression (a YAQL or Jinja delimiter)."""
    return any(delimiter in text for delimiter in _DELIMITERS)


def is_expression(value: Any) -> bool:
    """Whether ``value`` is a string that is one expression, as Mistral's EXPRESSION type."""
    return isinstance(value, str) and bool(_WHOLE_YAQL.search(value) or _WHOLE_JINJA.search(value))


def is_integer(value: Any) -> bool:
    """A JSON-schema integer: an int (not a bool) or a float with no fraction."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


def _not_fitting(value: Any) -> str:
    if isinstance(value, str) and value:
        if has_delimiters(value):
            return f"not {shown(value)} (an expression here must be the whole value)"
        return f"not the text {shown(value)}"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"not {value!r}"
    return f"not {kind_of(value)}"


def nonempty_string(report: Report, path: Path, value: Any) -> bool:
    """A string of at least one character."""
    if isinstance(value, str) and value:
        return True
    report.add(path, f"must be a non-empty string, not {kind_of(value)}")
    return False


def nonempty_mapping(report: Report, path: Path, value: Any) -> bool:
    """A mapping with at least one key, every key a string."""
    if not isinstance(value, dict) or not value:
        report.add(path, f"must be a non-empty mapping, not {kind_of(value)}")
        return False
    fits = True
    for key in value:
        if not isinstance(key, str):
            report.add((*path, key), f"the key {shown(key)} must be a string (quote it)")
            fits = False
    return fits


def unique_string_list(report: Report, path: Path, value: Any) -> bool:
    """A non-empty list of distinct non-empty strings."""
    if not isinstance(value, list) or not value:
        report.add(path, f"must be a non-empty list of strings, not {kind_of(value)}")
        return False
    fits = True
    seen: set[str] = set()
    for index, item in enumerate(value):
        if not nonempty_string(report, (*path, index), item):
            fits = False
        elif item in seen:
            report.add((*path, index), f"{shown(item)} is listed twice")
            fits = False
        else:
            seen.add(item)
    return fits


def integer_or_expression(report: Report, path: Path, value: Any) -> bool:
    """Mistral's EXPRESSION_OR_POSITIVE_INTEGER: an integer >= 0 or one expression."""
    if (is_integer(value) and value >= 0) or is_expression(value):
        return True
    report.add(path, f"must be a non-negative integer or {EXPRESSION_HINT}, {_not_fitting(value)}")
    return False


def boolean_or_expression(report: Report, path: Path, value: Any) -> bool:
    """Mistral's EXPRESSION_OR_BOOLEAN: true, false or one expression."""
    if isinstance(value, bool) or is_expression(value):
        return True
    report.add(path, f"must be true, false or {EXPRESSION_HINT}, {_not_fitting(value)}")
    return False


def expression(report: Report, path: Path, value: Any) -> bool:
    """Mistral's EXPRESSION: one expression that is the whole string."""
    if is_expression(value):
        return True
    report.add(path, f"must be {EXPRESSION_HINT}, {_not_fitting(value)}")
    return False


def known_keys(report: Report, path: Path, body: dict[Any, Any], allowed: Iterable[str]) -> None:
    """Report every key of ``body`` that is not one of ``allowed``."""
    allowed = tuple(allowed)
    for key in body:
        if key in allowed:
            continue
        if not isinstance(key, str):
            report.add((*path, key), f"unknown keyword {shown(key)}")
            continue
        close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.75)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        report.add((*path, key), f"unknown keyword '{key}'{hint}")


def expressions_in(report: Report, path: Path, value: Any) -> None:
    """Check the syntax of every expression in ``value`` (dict values and list items, not keys)."""
    if isinstance(value, str):
        if has_delimiters(value):
            _check_text(report, path, value)
    elif isinstance(value, dict):
        for key, item in value.items():
            expressions_in(report, (*path, key), item)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            expressions_in(report, (*path, index), item)


def _check_text(report: Report, path: Path, text: str) -> None:
    try:
        faults = expressions.validate(text)
    except Exception as error:  # a checker that fails means the text is not a usable expression
        faults = [str(error) or type(error).__name__]
    for fault in faults:
        report.add(path, f"invalid expression {shown(text)}: {fault}")
