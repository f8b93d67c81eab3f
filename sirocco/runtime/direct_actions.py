"""Ad-hoc actions run alone (Mistral's run-action): the chain expanded down to its base action.

A stored ad-hoc action is looked up in the given namespace, then in the
default one. Each level fills its input defaults and evaluates its
``base-input`` with that input as ``$``, until a registered action is
reached. The levels' ``output`` expressions are returned innermost first;
Mistral 23 applies them only to a saved action execution that ran
asynchronously (a synchronous run answers the base action's result).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sirocco import errors, expressions
from sirocco.actions.registry import ActionDescriptor, ActionRegistry
from sirocco.engine import action_resolution
from sirocco.lang import specs
from sirocco.runtime.specs import SpecCache
from sirocco.store import lookups
from sirocco.store.database import Database


@dataclass(frozen=True, slots=True, kw_only=True)
class Expanded:
    """What runs for an ad-hoc action: the registered base action, its input, the transforms.

    ``input`` is the ad-hoc action's own input with its defaults filled in (what
    Mistral records as the action execution's input).
    """

    base: ActionDescriptor
    base_input: dict[str, Any]
    transforms: tuple[Any, ...]
    input: dict[str, Any]


def _find(
    database: Database, cache: SpecCache, name: str, namespace: str, project_id: str | None
) -> specs.ActionSpec | None:
    with database.read() as connection:
        for candidate in dict.fromkeys((namespace, "")):
            row = lookups.adhoc_action(connection, name, candidate, project_id)
            if row is not None:
                return cache.action(name, row.definition, row.workbook_name)
    return None


def expand(
    database: Database,
    registry: ActionRegistry,
    cache: SpecCache,
    name: str,
    namespace: str,
    given: Mapping[str, Any],
    project_id: str | None = None,
) -> Expanded | None:
    """The expansion of ad-hoc action ``name``, or None when there is no such action
    (names resolve in ``project_id``'s actions and public ones, when given).

    Raises:
        errors.ActionInputError: the input does not fit the ad-hoc action.
        errors.ActionError: the chain is broken (a cycle, a missing base, a bad expression).
    """
    outer = _find(database, cache, name, namespace, project_id)
    if outer is None:
        return None
    problem = action_resolution.check_input(
        outer.name,
        action_resolution.ADHOC_CLASS,
        [parameter.name for parameter in outer.input if not parameter.has_default],
        [parameter.name for parameter in outer.input if parameter.has_default],
        False,
        given,
    )
    if problem:
        raise errors.ActionInputError(problem)
    chain = [outer]
    level_input = dict(given)
    outer_input: dict[str, Any] | None = None
    while True:
        level = chain[-1]
        for parameter in level.input:
            if parameter.has_default and parameter.name not in level_input:
                level_input[parameter.name] = parameter.default
        if outer_input is None:
            outer_input = dict(level_input)
        expanded = expressions.evaluate(level.base_input, level_input)
        if not isinstance(expanded, dict):
            raise errors.ActionError(f"The base-input of ad-hoc action {level.name} is not a dict.")
        level_input = expanded
        base = registry.get(level.base)
        if base is not None:
            transforms = [item.output for item in reversed(chain) if item.output is not None]
            return Expanded(
                base=base, base_input=level_input, transforms=tuple(transforms), input=outer_input
            )
        if level.base in {item.name for item in chain}:
            raise errors.ActionError(
                "Found a cycle in an ad-hoc action chain "
                f"[action_name={name}, duplicate_action_name={level.base}]"
            )
        found = _find(database, cache, level.base, namespace, project_id)
        if found is None:
            raise errors.ActionNotFoundError(
                f"Failed to find base action [action_name={level.base} namespace={namespace}]"
            )
        chain.append(found)


def transform(transforms: Sequence[Any], result: Any) -> Any:
    """Apply the chain's output expressions to a result (``$`` is the result)."""
    for expression in transforms:
        result = expressions.evaluate(expression, result)
    return result
