"""One task of a workflow, and ``task-defaults``, as written (before the defaults are merged).

The keywords, their types and which of them may be expressions follow
Mistral's task schema (``mistral/lang/v2/tasks.py``, ``policies.py``,
``retry_policy.py``, ``task_defaults.py``). The inline form
``action: std.echo output="x"`` is split here, and its parameters are merged
over ``input:`` (inline ones win, as in Mistral's code).
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass, field
from typing import Any

from sirocco.lang import checks, inline
from sirocco.lang.frozen import freeze
from sirocco.lang.loading import Path
from sirocco.lang.problems import Report, kind_of
from sirocco.lang.specs import (
    OnClause,
    PolicySpec,
    RetrySpec,
    TaskSpec,
    WithItemsSpec,
    WorkflowType,
)
from sirocco.lang.transitions import CLAUSE_KEYWORDS, parse_clause

__all__ = [
    "MAX_JOIN_TASK_NAME",
    "MAX_TASK_NAME",
    "ParsedTask",
    "TaskDefaults",
    "parse_policies",
    "parse_task",
    "parse_task_defaults",
]

MAX_TASK_NAME = 255
#: "join-task-<execution id>-<name>" must fit in 255 characters.
MAX_JOIN_TASK_NAME = MAX_TASK_NAME - 47

_META_KEYS = ("name", "version", "description", "tags")
_POLICY_KEYS = ("wait-before", "wait-after", "timeout", "pause-before", "concurrency", "fail-on")
_COMMON_KEYS = (
    *_META_KEYS,
    "type",
    "action",
    "workflow",
    "input",
    "with-items",
    "publish",
    "publish-on-error",
    "publish-on-skip",
    "retry",
    *_POLICY_KEYS,
    "target",
    "keep-result",
    "safe-rerun",
)
_TASK_KEYS: dict[str, tuple[str, ...]] = {
    "direct": (*_COMMON_KEYS, "join", *CLAUSE_KEYWORDS),
    "reverse": (*_COMMON_KEYS, "requires"),
}
_DEFAULTS_KEYS = (*_META_KEYS, "retry", *_POLICY_KEYS, *CLAUSE_KEYWORDS, "safe-rerun", "requires")
_RETRY_KEYS = ("count", "delay", "break-on", "continue-on")
_WORD = re.compile(r"^\w+$")


@dataclass(slots=True, kw_only=True)
class ParsedTask:
    """A task as written, plus what the workflow needs to merge defaults and check the graph.

    ``spec.safe_rerun`` is ``None`` here when the task does not set it.
    """

    spec: TaskSpec
    written_join: Any = None
    clause_paths: dict[str, tuple[Path, ...]] = field(default_factory=dict)
    requires_paths: tuple[Path, ...] = ()


@dataclass(slots=True, kw_only=True)
class TaskDefaults:
    """What ``task-defaults`` gives every task."""

    policies: PolicySpec = field(default_factory=PolicySpec)
    safe_rerun: Any = None
    clauses: dict[str, OnClause] = field(default_factory=dict)
    clause_paths: dict[str, tuple[Path, ...]] = field(default_factory=dict)
    requires: tuple[str, ...] = ()
    requires_paths: tuple[Path, ...] = ()


def parse_task(
    report: Report, path: Path, name: Any, body: Any, workflow_type: WorkflowType
) -> ParsedTask | None:
    """Read one task, as well as it can be read; ``None`` when it is not a mapping.

    Problems are reported; the task returned then holds only the parts that were valid.
    """
    if not isinstance(name, str) or not name:
        report.add(path, f"a task name must be a non-empty string, not {checks.shown(name)}")
        return None
    if not isinstance(body, dict) or (not body and _WORD.match(name)):
        report.add(path, f"must be a non-empty mapping of task keywords, not {kind_of(body)}")
        return None
    if len(name) > MAX_TASK_NAME:
        report.add(path, f"a task name must not be longer than {MAX_TASK_NAME} characters")
    checks.known_keys(report, path, body, _TASK_KEYS[workflow_type])
    values: dict[str, Any] = {
        "name": name,
        "workflow_type": workflow_type,
        "line": report.line(path),
    }
    values.update(_meta(report, path, body))
    values.update(_action_and_input(report, path, body))
    values["with_items"] = _with_items(report, path, body)
    for keyword in ("publish", "publish-on-error", "publish-on-skip"):
        if keyword in body and checks.nonempty_mapping(report, (*path, keyword), body[keyword]):
            checks.expressions_in(report, (*path, keyword), body[keyword])
            values[keyword.replace("-", "_")] = freeze(body[keyword])
    values["policies"] = parse_policies(report, path, body)
    if "target" in body and checks.nonempty_string(report, (*path, "target"), body["target"]):
        checks.expressions_in(report, (*path, "target"), body["target"])
        values["target"] = body["target"]
    for keyword in ("keep-result", "safe-rerun"):
        if keyword in body and checks.boolean_or_expression(
            report, (*path, keyword), body[keyword]
        ):
            checks.expressions_in(report, (*path, keyword), body[keyword])
            values[keyword.replace("-", "_")] = body[keyword]
    values.setdefault("safe_rerun", None)
    values["written"] = freeze(body)
    parsed = ParsedTask(spec=TaskSpec(**values))
    if workflow_type == "direct":
        _direct_parts(report, path, name, body, parsed)
    else:
        parsed.spec, parsed.requires_paths = _with_requires(report, path, body, parsed.spec)
    return parsed


def parse_task_defaults(report: Report, path: Path, body: Any) -> TaskDefaults:
    """Read ``task-defaults`` (every keyword is accepted for both workflow types, as in Mistral)."""
    defaults = TaskDefaults()
    if not checks.nonempty_mapping(report, path, body):
        return defaults
    checks.known_keys(report, path, body, _DEFAULTS_KEYS)
    _meta(report, path, body)
    if "version" in body:
        _version_type(report, (*path, "version"), body["version"])
    defaults.policies = parse_policies(report, path, body)
    if "safe-rerun" in body and checks.boolean_or_expression(
        report, (*path, "safe-rerun"), body["safe-rerun"]
    ):
        checks.expressions_in(report, (*path, "safe-rerun"), body["safe-rerun"])
        defaults.safe_rerun = body["safe-rerun"]
    for keyword in CLAUSE_KEYWORDS:
        if keyword in body:
            parsed = parse_clause(report, (*path, keyword), body[keyword])
            if parsed.clause is not None:
                defaults.clauses[keyword] = parsed.clause
                defaults.clause_paths[keyword] = parsed.paths
    if "requires" in body:
        defaults.requires, defaults.requires_paths = _requires(
            report, (*path, "requires"), body["requires"]
        )
    return defaults


def _version_type(report: Report, path: Path, value: Any) -> None:
    if isinstance(value, bool) or not (
        (isinstance(value, str) and value) or (isinstance(value, (int, float)) and value >= 0)
    ):
        report.add(path, f"must be a version such as '2.0', not {kind_of(value)}")


def _meta(report: Report, path: Path, body: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if "description" in body and checks.nonempty_string(
        report, (*path, "description"), body["description"]
    ):
        values["description"] = body["description"]
    if "tags" in body and checks.unique_string_list(report, (*path, "tags"), body["tags"]):
        values["tags"] = tuple(body["tags"])
    return values


def _action_and_input(report: Report, path: Path, body: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if "action" in body and "workflow" in body:
        report.add(path, "a task cannot have both 'action' and 'workflow'")
    params: dict[str, Any] = {}
    for keyword in ("action", "workflow"):
        if keyword not in body or not checks.nonempty_string(
            report, (*path, keyword), body[keyword]
        ):
            continue
        parsed = inline.parse_command(body[keyword])
        if parsed is None:
            report.add(
                (*path, keyword),
                f"{checks.shown(body[keyword])} must start with a name or an expression, "
                "followed by name=value parameters",
            )
            continue
        command, params = parsed
        checks.expressions_in(report, (*path, keyword), command)
        checks.expressions_in(report, (*path, keyword), params)
        values[keyword] = command
    if "action" not in body and "workflow" not in body:
        values["action"] = "std.noop"
    given = body.get("input")
    if "input" in body:
        if isinstance(given, str) and given:
            checks.expressions_in(report, (*path, "input"), given)
            if params:
                report.add(
                    (*path, "input"),
                    "inline parameters cannot be combined with an input given as one expression",
                )
            values["input"] = given
            return values
        if not checks.nonempty_mapping(report, (*path, "input"), given):
            return values
        checks.expressions_in(report, (*path, "input"), given)
    merged = dict(given) if isinstance(given, dict) else {}
    merged.update(params)  # Mistral merges the inline parameters over 'input': inline wins
    values["input"] = freeze(merged)
    return values


def _with_items(report: Report, path: Path, body: dict[str, Any]) -> tuple[WithItemsSpec, ...]:
    if "with-items" not in body:
        return ()
    raw = body["with-items"]
    item_path = (*path, "with-items")
    if isinstance(raw, str) and raw:
        entries: list[tuple[Path, Any]] = [(item_path, raw)]
    elif isinstance(raw, list) and checks.unique_string_list(report, item_path, raw):
        entries = [((*item_path, index), entry) for index, entry in enumerate(raw)]
    else:
        if not isinstance(raw, list):
            report.add(
                item_path, f"must be 'var in <% $.list %>' or a list of those, not {kind_of(raw)}"
            )
        return ()
    found: dict[str, Any] = {}
    for entry_path, entry in entries:
        parsed = inline.parse_with_items(entry)
        if parsed is None:
            report.add(
                entry_path,
                # Mistral's sentence first, so that what matches Mistral's text still matches
                f"Wrong format of 'with-items' property: {checks.shown(entry)} must read "
                "'var in <% $.list %>' or 'var in [1, 2]'",
            )
            continue
        variable, items = parsed
        if items.startswith("["):
            try:
                items = json.loads(items)
            except (ValueError, RecursionError) as error:
                report.add(
                    entry_path, f"Invalid array in 'with-items' clause: {items}, error: {error}"
                )
                continue
        checks.expressions_in(report, entry_path, items)
        found[variable] = freeze(items)
    return tuple(WithItemsSpec(variable=variable, items=items) for variable, items in found.items())


def parse_policies(report: Report, path: Path, body: dict[str, Any]) -> PolicySpec:
    """The policies set in ``body`` (a task or task-defaults), as written."""
    values: dict[str, Any] = {}
    for keyword in _POLICY_KEYS:
        if keyword not in body:
            continue
        value = body[keyword]
        if keyword in ("pause-before", "fail-on"):
            fits = checks.boolean_or_expression(report, (*path, keyword), value)
        else:
            fits = checks.integer_or_expression(report, (*path, keyword), value)
            value = _integer(value)
        if fits:
            checks.expressions_in(report, (*path, keyword), value)
            values[keyword.replace("-", "_")] = value
    if "retry" in body:
        values["retry"] = _retry(report, (*path, "retry"), body["retry"])
    return PolicySpec(**values)


def _retry(report: Report, path: Path, value: Any) -> RetrySpec | None:
    if isinstance(value, str) and value:
        parsed = inline.parse_command(value)
        value = parsed[1] if parsed is not None else {}
        if not value:
            report.add(
                path,
                "the one-line retry form is 'count=N delay=N [break-on=...] [continue-on=...]'",
            )
            return None
    elif not isinstance(value, dict):
        report.add(
            path,
            "must be a mapping with 'count' and 'delay' or a line 'count=N delay=N', "
            f"not {kind_of(value)}",
        )
        return None
    before = len(report.problems)
    checks.known_keys(report, path, value, _RETRY_KEYS)
    for keyword in ("count", "delay"):
        if keyword not in value:
            report.add(path, f"'{keyword}' is required")
        else:
            checks.integer_or_expression(report, (*path, keyword), value[keyword])
    for keyword in ("break-on", "continue-on"):
        if keyword in value:
            checks.expression(report, (*path, keyword), value[keyword])
    checks.expressions_in(report, path, value)
    if len(report.problems) > before:
        return None
    return RetrySpec(
        count=_integer(value["count"]),
        delay=_integer(value["delay"]),
        break_on=value.get("break-on"),
        continue_on=value.get("continue-on"),
    )


def _integer(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _direct_parts(
    report: Report, path: Path, name: str, body: dict[str, Any], parsed: ParsedTask
) -> None:
    values: dict[str, Any] = {}
    if "join" in body:
        join = body["join"]
        if join in ("all", "one") or (checks.is_integer(join) and join >= 0):
            value = 1 if join == "one" else ("all" if join == "all" else int(join))
            values["join"] = value or None  # 'join: 0' is no join at all, as in Mistral
            parsed.written_join = join
            if value and len(name) > MAX_JOIN_TASK_NAME:
                report.add(
                    path,
                    "the name of a task with 'join' must not be longer than "
                    f"{MAX_JOIN_TASK_NAME} characters",
                )
        else:
            report.add(
                (*path, "join"),
                f"must be 'all', 'one' or a non-negative integer, not {checks.shown(join)}",
            )
    for keyword in CLAUSE_KEYWORDS:
        if keyword in body:
            clause = parse_clause(report, (*path, keyword), body[keyword])
            values[keyword.replace("-", "_")] = clause.clause
            parsed.clause_paths[keyword] = clause.paths
    if values:
        parsed.spec = _replace(parsed.spec, values)


def _with_requires(
    report: Report, path: Path, body: dict[str, Any], spec: TaskSpec
) -> tuple[TaskSpec, tuple[Path, ...]]:
    if "requires" not in body:
        return spec, ()
    requires, paths = _requires(report, (*path, "requires"), body["requires"])
    return _replace(spec, {"requires": requires}), paths


def _requires(report: Report, path: Path, value: Any) -> tuple[tuple[str, ...], tuple[Path, ...]]:
    if isinstance(value, str) and value:
        return (value,), (path,)
    if isinstance(value, list):
        if checks.unique_string_list(report, path, value):
            return tuple(value), tuple((*path, index) for index in range(len(value)))
        return (), ()
    report.add(path, f"must be a task name or a list of task names, not {kind_of(value)}")
    return (), ()


def _replace(spec: TaskSpec, values: dict[str, Any]) -> TaskSpec:
    return dataclasses.replace(spec, **values)
