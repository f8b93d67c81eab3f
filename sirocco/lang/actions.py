"""One ad-hoc action: a named base action with preset input, declared input and an output transform.

Keywords and types follow ``mistral/lang/v2/actions.py``: ``base`` (required,
with optional inline parameters merged over ``base-input``, inline ones win),
``base-input`` (a non-empty mapping), ``input`` (names and ``name: default``),
``output`` (anything), ``description``, ``tags``.
"""

from __future__ import annotations

from typing import Any

from sirocco.lang import checks, inline
from sirocco.lang.frozen import freeze
from sirocco.lang.loading import Path
from sirocco.lang.problems import Report, kind_of
from sirocco.lang.specs import ActionSpec
from sirocco.lang.workflows import parse_input_list

__all__ = ["parse_action"]

_ACTION_KEYS = ("name", "version", "description", "tags", "base", "base-input", "input", "output")


def parse_action(
    report: Report, path: Path, name: Any, body: Any, *, full_name: str, workbook: str | None
) -> ActionSpec | None:
    """Read one ad-hoc action; ``None`` when it cannot be built (problems are reported)."""
    before = len(report.problems)
    if not isinstance(name, str) or not name:
        report.add(path, f"an action name must be a non-empty string, not {checks.shown(name)}")
        return None
    if " " in name:
        report.add(path, f"the action name {name!r} must not contain spaces")
    if not isinstance(body, dict) or not body:
        report.add(path, f"must be a non-empty mapping with 'base', not {kind_of(body)}")
        return None
    checks.known_keys(report, path, body, _ACTION_KEYS)
    values: dict[str, Any] = {"name": full_name, "workbook": workbook, "line": report.line(path)}
    if "description" in body and checks.nonempty_string(
        report, (*path, "description"), body["description"]
    ):
        values["description"] = body["description"]
    if "tags" in body and checks.unique_string_list(report, (*path, "tags"), body["tags"]):
        values["tags"] = tuple(body["tags"])
    if "input" in body:
        values["input"] = parse_input_list(report, (*path, "input"), body["input"])
    base_input: dict[str, Any] = {}
    if "base-input" in body and checks.nonempty_mapping(
        report, (*path, "base-input"), body["base-input"]
    ):
        checks.expressions_in(report, (*path, "base-input"), body["base-input"])
        base_input = dict(body["base-input"])
    if "base" not in body:
        report.add(path, "'base' is required")
    elif checks.nonempty_string(report, (*path, "base"), body["base"]):
        parsed = inline.parse_command(body["base"])
        if parsed is None:
            report.add(
                (*path, "base"),
                f"{checks.shown(body['base'])} must start with an action name, "
                "followed by name=value parameters",
            )
        else:
            values["base"], params = parsed
            checks.expressions_in(report, (*path, "base"), params)
            base_input.update(params)  # inline parameters win over base-input, as in Mistral
    if "output" in body:
        checks.expressions_in(report, (*path, "output"), body["output"])
        values["output"] = freeze(body["output"])
    if len(report.problems) > before:
        return None
    values["base_input"] = freeze(base_input)
    return ActionSpec(**values)
