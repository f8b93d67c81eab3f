"""The ``on-success`` / ``on-error`` / ``on-complete`` / ``on-skip`` clauses of direct workflows.

A clause is one of (``mistral/lang/v2/on_clause.py``):

1. a task name: ``on-success: t2`` (``fail msg="x"`` and ``fail(msg="x y")``
   carry parameters);
2. a list of task names and one-key mappings ``name: <% condition %>``, each
   item unique;
3. the advanced mapping ``{publish: {branch|global|atomic: {...}}, next: ...}``.

Two quirks of Mistral are kept on purpose, because they decide what runs:

* a clause written as a bare one-key mapping (``on-success: {t2: <% c %>}``) is
  accepted but produces no transition at all;
* ``next`` written as a one-key mapping (``next: {t2: <% c %>}``) goes to
  ``t2`` without its condition.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sirocco.lang import checks, inline
from sirocco.lang.frozen import FrozenDict, freeze
from sirocco.lang.loading import Path
from sirocco.lang.problems import Report, kind_of
from sirocco.lang.specs import OnClause, PublishSpec, Transition

__all__ = ["CLAUSE_KEYWORDS", "ParsedClause", "parse_clause"]

CLAUSE_KEYWORDS = ("on-success", "on-error", "on-complete", "on-skip")

# Mistral's NEXT_TASK: a name without spaces, ``name param=value`` or ``name(param=value)``.
_NEXT_TASK = (
    re.compile(r"^\S+$"),
    re.compile(r"^\w+ \w+=(.*)$"),
    re.compile(r"^\w+\(\w+=(.*)\)$"),
)
_ADVANCED_KEYS = frozenset({"publish", "next"})
_PUBLISH_SCOPES = ("branch", "global", "atomic")
_NEXT_FORMS = "must be a task name or a list of task names and 'task: <% condition %>' items"
_CLAUSE_FORMS = (
    "must be a task name, a list of task names and 'task: <% condition %>' items, "
    "or a mapping with 'publish' and/or 'next'"
)


@dataclass(frozen=True, slots=True)
class ParsedClause:
    """A clause and the document path of each of its transitions (for later graph checks)."""

    clause: OnClause | None
    paths: tuple[Path, ...]


_EMPTY = ParsedClause(None, ())


def _is_next_task(text: Any) -> bool:
    return isinstance(text, str) and any(pattern.search(text) for pattern in _NEXT_TASK)


def _is_conditional_item(value: Any) -> bool:
    """Mistral's TASK_WITH_EXPRESSION: one key; a key that looks like a task needs an expression."""
    if not isinstance(value, dict) or len(value) != 1:
        return False
    key, condition = next(iter(value.items()))
    if not isinstance(key, str):
        return False
    return not _is_next_task(key) or checks.is_expression(condition)


def parse_clause(report: Report, path: Path, value: Any) -> ParsedClause:
    """Read one ``on-*`` value, reporting every problem at its place."""
    if isinstance(value, (str, list)):
        return _transitions(report, path, value)
    if isinstance(value, dict):
        if value and set(value) <= _ADVANCED_KEYS:
            trial = Report(report.document, prefix=report.prefix)
            parsed = _advanced(trial, path, value)
            if not trial or not _is_conditional_item(value):
                report.extend(trial.problems)
                return parsed
            return _EMPTY
        if _is_conditional_item(value):
            return _EMPTY  # Mistral accepts this form and ignores it
    report.add(path, f"{_CLAUSE_FORMS}, not {kind_of(value)}")
    return _EMPTY


def _advanced(report: Report, path: Path, value: dict[str, Any]) -> ParsedClause:
    publish = None
    if "publish" in value:
        publish = _publish(report, (*path, "publish"), value["publish"])
    parsed = _EMPTY
    if "next" in value:
        next_value = value["next"]
        if isinstance(next_value, dict) and _is_conditional_item(next_value):
            # Mistral reads the key of this mapping as a plain name: the condition is lost.
            name = next(iter(next_value))
            transition = _target(report, (*path, "next"), name, None)
            if transition is not None:
                parsed = ParsedClause(OnClause(transitions=(transition,)), ((*path, "next"),))
        elif isinstance(next_value, (str, list)):
            parsed = _transitions(report, (*path, "next"), next_value)
        else:
            report.add((*path, "next"), f"{_NEXT_FORMS}, not {kind_of(next_value)}")
    transitions = parsed.clause.transitions if parsed.clause is not None else ()
    if publish is None and not transitions:
        return ParsedClause(None, ())
    return ParsedClause(OnClause(transitions=transitions, publish=publish), parsed.paths)


def _publish(report: Report, path: Path, value: Any) -> PublishSpec | None:
    if not isinstance(value, dict):
        report.add(
            path, f"must be a mapping with 'branch', 'global' or 'atomic', not {kind_of(value)}"
        )
        return None
    checks.known_keys(report, path, value, _PUBLISH_SCOPES)
    scopes: dict[str, Any] = {}
    for scope in _PUBLISH_SCOPES:
        if scope in value and checks.nonempty_mapping(report, (*path, scope), value[scope]):
            checks.expressions_in(report, (*path, scope), value[scope])
            scopes[scope] = freeze(value[scope])
    if not any(scope in value for scope in _PUBLISH_SCOPES):
        report.add(path, "must have at least one of 'branch', 'global' or 'atomic'")
        return None
    return PublishSpec(
        branch=scopes.get("branch", FrozenDict()),
        global_=scopes.get("global", FrozenDict()),
        atomic=scopes.get("atomic", FrozenDict()),
    )


def _transitions(report: Report, path: Path, value: str | list[Any]) -> ParsedClause:
    if isinstance(value, str):
        transition = _item(report, path, value)
        if transition is None:
            return _EMPTY
        return ParsedClause(OnClause(transitions=(transition,)), (path,))
    if not value:
        report.add(path, "must not be an empty list")
        return _EMPTY
    transitions: list[Transition] = []
    paths: list[Path] = []
    seen: list[Any] = []
    for index, item in enumerate(value):
        item_path = (*path, index)
        if item in seen:
            report.add(item_path, f"{checks.shown(item)} is listed twice")
            continue
        seen.append(item)
        transition = _item(report, item_path, item)
        if transition is not None:
            transitions.append(transition)
            paths.append(item_path)
    if not transitions:
        return _EMPTY
    return ParsedClause(OnClause(transitions=tuple(transitions)), tuple(paths))


def _item(report: Report, path: Path, item: Any) -> Transition | None:
    if isinstance(item, str):
        if not _is_next_task(item):
            report.add(
                path,
                f"{checks.shown(item)} is not a task name (a name has no spaces; parameters are "
                "written 'name param=value' or 'name(param=value)')",
            )
            return None
        return _target(report, path, item, None)
    if isinstance(item, dict) and len(item) == 1:
        key, condition = next(iter(item.items()))
        if not isinstance(key, str) or not key:
            report.add(path, f"the task name {checks.shown(key)} must be a non-empty string")
            return None
        if _is_next_task(key) and not checks.expression(report, (*path, key), condition):
            return None
        return _target(report, path, key, condition, condition_path=(*path, key))
    report.add(
        path,
        "each item must be a task name or a one-key mapping 'task: <% condition %>', "
        f"not {kind_of(item)}",
    )
    return None


def _target(
    report: Report, path: Path, text: str, condition: Any, *, condition_path: Path | None = None
) -> Transition | None:
    parsed = inline.parse_transition_name(text)
    if parsed is None:
        report.add(path, f"{checks.shown(text)} is not a task name followed by parameters")
        return None
    name, params = parsed
    checks.expressions_in(report, path, params)
    if condition_path is not None:
        checks.expressions_in(report, condition_path, condition)
    return Transition(name=name, condition=condition, params=freeze(params))
