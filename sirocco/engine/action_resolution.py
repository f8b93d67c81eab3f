"""Which action a task runs: name resolution, ad-hoc chains, input checks, output transforms.

The engine resolves a task's action name to a system (Python) action or an
ad-hoc action. An ad-hoc action is expanded down its ``base`` chain: each
level fills its input defaults and evaluates its ``base-input`` with that
input as ``$``; the executor then runs the system action at the bottom. On
completion the chain's ``output`` expressions are applied to the result,
innermost first.

Errors follow Mistral: an unknown action or input that does not match the
declaration are structural (``errors.ActionError``: the task and the
workflow fail); a failure while expanding the chain is an ordinary task
error (``ExpansionError``), which ``on-error`` can handle.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sirocco import errors
from sirocco.engine import dataflow, evaluation, ports, records
from sirocco.engine.draft import Draft
from sirocco.lang import specs

ADHOC_CLASS = "mistral.actions.adhoc.AdHocAction"


class ExpansionError(errors.ActionError):
    """The ad-hoc action could not be turned into a runnable action."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ResolvedAction:
    """A task's action after name resolution.

    ``name`` is what the action execution is called (the ad-hoc name for an
    ad-hoc action); ``chain`` lists the ad-hoc levels, outermost first;
    ``base`` is the system action that finally runs.
    """

    name: str
    chain: tuple[specs.ActionSpec, ...]
    base: ports.ActionSignature


@dataclass(frozen=True, slots=True, kw_only=True)
class PreparedRun:
    """What to record and what to run for one action execution."""

    recorded_input: dict[str, Any]
    base_name: str
    base_input: dict[str, Any]
    is_sync: bool


def resolve(draft: Draft, name: str) -> ResolvedAction:
    """Resolve an action name as Mistral does (workbook first, then the name).

    Raises:
        errors.ActionNotFoundError: no such action (structural).
        ExpansionError: the ad-hoc chain is broken (an ordinary task error).
    """
    lookup = draft.lookup
    namespace = draft.workflow.namespace
    workbook = draft.spec.workbook
    adhoc: specs.ActionSpec | None = None
    signature: ports.ActionSignature | None = None
    if workbook:
        adhoc = lookup.adhoc_action(name, namespace=namespace, workbook=workbook)
    if adhoc is None:
        signature = lookup.action_signature(name, namespace=namespace)
        if signature is None:
            adhoc = lookup.adhoc_action(name, namespace=namespace, workbook=workbook)
    if signature is not None:
        return ResolvedAction(name=name, chain=(), base=signature)
    if adhoc is None:
        raise errors.ActionNotFoundError(
            f"Failed to find action [action_name={name}, namespace={namespace}]"
        )
    chain = [adhoc]
    visited = {adhoc.name}
    while True:
        base_name = chain[-1].base
        if base_name in visited:
            raise ExpansionError(
                "Found a cycle in an ad-hoc action chain "
                f"[action_name={adhoc.name}, duplicate_action_name={base_name}]"
            )
        visited.add(base_name)
        signature = lookup.action_signature(base_name, namespace=namespace)
        if signature is not None:
            return ResolvedAction(name=adhoc.name, chain=tuple(chain), base=signature)
        found = lookup.adhoc_action(base_name, namespace=namespace, workbook=chain[-1].workbook)
        if found is None:
            raise ExpansionError(
                f"Failed to find base action [action_name={base_name} namespace={namespace}] "
            )
        chain.append(found)


def check_input(
    name: str,
    class_name: str,
    required: Sequence[str],
    optional: Sequence[str],
    accepts_any: bool,
    given: Mapping[str, Any],
) -> str | None:
    """Mistral's "Invalid input [...]" text when ``given`` does not fit, else None."""
    if accepts_any:
        return None
    declared = set(required) | set(optional)
    missing = [parameter for parameter in required if parameter not in given]
    unexpected = [key for key in given if key not in declared]
    if not missing and not unexpected:
        return None
    text = f"Invalid input [name={name}, class={class_name}"
    if missing:
        text += f", missing={missing!r}"
    if unexpected:
        text += f", unexpected={unexpected!r}"
    return text + "]"


def prepare(
    draft: Draft,
    resolved: ResolvedAction,
    action_input: Mapping[str, Any],
    task: records.TaskExecution,
    branch: Mapping[str, Any],
) -> PreparedRun:
    """Check the input and expand an ad-hoc chain.

    Raises:
        errors.ActionInputError: the input does not fit (structural).
        ExpansionError: expanding the chain failed (ordinary task error).
    """
    given = dict(action_input)
    if not resolved.chain:
        signature = resolved.base
        problem = check_input(
            signature.name,
            signature.class_name or signature.name,
            signature.required,
            tuple(signature.optional),
            signature.accepts_any,
            given,
        )
        if problem:
            raise errors.ActionInputError(problem)
        return PreparedRun(
            recorded_input=given,
            base_name=signature.run_name or signature.name,
            base_input=given,
            is_sync=signature.is_sync,
        )
    outer = resolved.chain[0]
    problem = check_input(
        outer.name,
        ADHOC_CLASS,
        [parameter.name for parameter in outer.input if not parameter.has_default],
        [parameter.name for parameter in outer.input if parameter.has_default],
        False,
        given,
    )
    if problem:
        raise errors.ActionInputError(problem)
    recorded = given
    level_input = given
    environment = evaluation.env_layer(draft)
    for level in resolved.chain:
        for parameter in level.input:
            if parameter.has_default and parameter.name not in level_input:
                level_input[parameter.name] = parameter.default
        data = dataflow.chain(level_input, branch, environment, draft.workflow.context)
        try:
            expanded = evaluation.evaluate(draft, level.base_input, data, task)
        except errors.SiroccoError as error:
            raise ExpansionError(_instantiate_text(resolved)) from error
        if not isinstance(expanded, dict):
            raise ExpansionError(_instantiate_text(resolved))
        level_input = expanded
    base = resolved.base
    problem = check_input(
        base.name,
        base.class_name or base.name,
        base.required,
        tuple(base.optional),
        base.accepts_any,
        level_input,
    )
    if problem:
        raise ExpansionError(_instantiate_text(resolved))
    return PreparedRun(
        recorded_input=recorded,
        base_name=base.run_name or base.name,
        base_input=level_input,
        is_sync=base.is_sync,
    )


def output_transforms(resolved: ResolvedAction) -> list[Any]:
    """The chain's ``output`` expressions, innermost first (None where unset)."""
    return [level.output for level in reversed(resolved.chain) if level.output is not None]


def transform_output(draft: Draft, transforms: Sequence[Any], result: Any) -> Any:
    """Apply ad-hoc output transforms to a result (``$`` is the result)."""
    for transform in transforms:
        # ``$`` is the result itself, whatever its type.
        result = evaluation.evaluate(draft, transform, result, None)
    return result


def _instantiate_text(resolved: ResolvedAction) -> str:
    """Mistral's text when an ad-hoc action cannot be built: it names the action and
    quotes its definition, but not the cause (which may hold secrets)."""
    outer = resolved.chain[0]
    return (
        "Failed to instantiate an action [action_desc=AdHoc action "
        f"[name={resolved.name}, definition={outer.definition}]]"
    )
