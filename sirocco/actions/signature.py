"""An action's parameters as Mistral shows them: the ``input`` text and how to read it back.

Mistral describes a Python action's input by the positional parameters of its
constructor, rendered as one line such as ``output, delay=0`` (defaults as
JSON, ``**kwargs`` when the constructor takes any keyword). Parameters whose
default cannot be written as JSON are left out, and keyword-only parameters
are not shown, as in Mistral; its API prints this text and its input check
reads it back, so both are done here from the same text.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: The name of the attribute on ``__init__`` that replaces the computed text
#: (mistral-lib honours it for generated actions).
ARGUMENTS_ATTRIBUTE = "__arguments__"


@dataclass(frozen=True, slots=True, kw_only=True)
class InputSpec:
    """The parameters named by an input text.

    Attributes:
        required: names without a default, in order.
        optional: names with a default, mapped to the default (JSON-decoded when
            it is JSON, else the raw text), in order.
        accepts_any: True when the text holds ``**name`` (any keyword is accepted).
    """

    required: tuple[str, ...] = ()
    optional: Mapping[str, Any] = field(default_factory=dict)
    accepts_any: bool = False

    @property
    def names(self) -> tuple[str, ...]:
        """Every parameter name, required first then optional."""
        return self.required + tuple(self.optional)


def input_text(action_class: type) -> str:
    """The input text Mistral's API shows for an action class.

    Args:
        action_class: the action's Python class.

    Returns:
        Text such as ``"url, method=\\"GET\\", params=null"``; ``""`` when the
        constructor takes nothing.
    """
    initializer: Callable[..., Any] = action_class.__init__  # type: ignore[misc]
    override = getattr(initializer, ARGUMENTS_ATTRIBUTE, None)
    if override:
        return str(override)
    try:
        spec = inspect.getfullargspec(initializer)
    except TypeError:
        # A constructor Python cannot introspect (an extension type): take anything.
        return "**kwargs"
    names = list(spec.args)
    if "self" in names:
        names.remove("self")
    defaults = list(spec.defaults or ())
    first_default = len(names) - len(defaults)
    parts: list[str] = []
    for index, name in enumerate(names):
        if index < first_default:
            parts.append(name)
            continue
        try:
            parts.append(f"{name}={json.dumps(defaults[index - first_default])}")
        except (TypeError, ValueError):
            continue  # a default that is not JSON is not shown (nor accepted)
    if spec.varkw:
        parts.append(f"**{spec.varkw}")
    return ", ".join(parts)


def parse_input_text(text: str) -> InputSpec:
    """Read an input text back into parameter names and defaults.

    Commas inside JSON defaults (strings, lists, objects) do not split.

    Args:
        text: an input text as produced by :func:`input_text` or written for an
            ad-hoc action.

    Returns:
        The required names, the optional names with their defaults, and whether
        any keyword is accepted.
    """
    required: list[str] = []
    optional: dict[str, Any] = {}
    accepts_any = False
    for part in _split_top_level(text):
        item = part.strip()
        if not item:
            continue
        if item.startswith("**"):
            accepts_any = True
            continue
        name, equals, default_text = item.partition("=")
        name = name.strip()
        if not equals:
            required.append(name)
            continue
        try:
            optional[name] = json.loads(default_text)
        except ValueError:
            optional[name] = default_text.strip()
    return InputSpec(required=tuple(required), optional=optional, accepts_any=accepts_any)


def _split_top_level(text: str) -> list[str]:
    """Split ``text`` on commas that are outside JSON strings and brackets."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    in_string = False
    escaped = False
    for character in text:
        if in_string:
            current.append(character)
            if escaped:
                escaped = False
            elif character == "\\":
                escaped = True
            elif character == '"':
                in_string = False
            continue
        if character == "," and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        if character == '"':
            in_string = True
        elif character in "[{":
            depth += 1
        elif character in "]}":
            depth = max(depth - 1, 0)
        current.append(character)
    parts.append("".join(current))
    return parts
