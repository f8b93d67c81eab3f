"""The one-line forms: inline parameters, transition parameters, one-line retry, with-items.

These follow Mistral's own regular-expression grammar, quirks included:

* A text without a space is a bare name (no parameters).
* The command is a name (``[\\w.]+`` then anything but ``=``, ``(``, spaces and
  quotes) or an expression.
* A parameter is ``name=value`` found anywhere in the text, where the value is
  the first of: a double-quoted or single-quoted string (quotes removed), an
  expression, a bracketed list (greedy up to the last ``]``), ``true``,
  ``false``, ``null``, or digits. Other values (``x=abc``, ``x=-1``) are
  skipped; ``1.5`` reads as ``1``. Unquoted values are decoded as JSON when
  they can be (``[1, 2]`` -> list, ``true`` -> True, ``7`` -> 7), and kept as
  text otherwise. Dict literals are not recognised (Mistral does not either).
* ``with-items`` entries are ``var in <list>`` where the list is an
  expression or a JSON list; anything after it is ignored.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["parse_command", "parse_params", "parse_transition_name", "parse_with_items"]

_COMMAND = re.compile(r"^(?:[\w.]+[^=(\s\"]*|<%.*?%>|\{\{.*\}\}|\{%.*%\})")
_VALUE = r"\"[^\"]*\"\s*|'[^']*'\s*|\{\{.*?\}\}|<%.*?%>|\[.*\]\s*|true|false|null|\d+"
_PARAM = re.compile(rf"([-\w]+)=({_VALUE})")
_CALL_WITHOUT_SPACE = re.compile(r"(\w+)\(\w+=.*\)")
_WITH_ITEMS = re.compile(r"\s*([\w-]+)\s*in\s*(\[.+\]|\{\{.*?\}\}|<%.*?%>)")


def parse_params(text: str) -> dict[str, Any]:
    """Every ``name=value`` of ``text``, values decoded as Mistral decodes them."""
    params: dict[str, Any] = {}
    for match in _PARAM.finditer(text):
        value: Any = match.group(2).strip()
        if value[0] in "\"'":
            value = value[1:-1]
        else:
            try:
                value = json.loads(value)
            except (ValueError, RecursionError):
                pass
        params[match.group(1)] = value
    return params


def parse_command(text: str) -> tuple[str, dict[str, Any]] | None:
    """Split ``std.echo output="x"`` into ``("std.echo", {"output": "x"})``.

    Returns ``None`` when the text has a space but does not start with a name
    or an expression (Mistral: "Invalid action/workflow task property").
    """
    if " " not in text:
        return text, {}
    match = _COMMAND.search(text)
    if match is None:
        return None
    return match.group(), parse_params(text)


def parse_transition_name(text: str) -> tuple[str, dict[str, Any]] | None:
    """The target of an ``on-*`` item and its parameters: ``fail msg="x"``, ``fail(msg="x")``.

    Mistral's schema rejects the call form when it has no space inside
    (``fail(msg="x")`` matches two of its patterns at once); Sirocco reads it
    as the call it obviously is.
    """
    if " " not in text:
        call = _CALL_WITHOUT_SPACE.fullmatch(text)
        if call is not None:
            return call.group(1), parse_params(text)
    return parse_command(text)


def parse_with_items(text: str) -> tuple[str, Any] | None:
    """``x in <% $.l %>`` -> ``("x", "<% $.l %>")``; ``x in [1, 2]`` -> ``("x", "[1, 2]")``.

    The list text is returned as written; the caller decodes JSON lists.
    Returns ``None`` when the text does not have the form.
    """
    match = _WITH_ITEMS.match(text)
    if match is None:
        return None
    return match.group(1), match.group(2)
