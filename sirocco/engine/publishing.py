"""Publishing: which publish clauses apply to a finished task, and how they merge.

Mistral merges the task-level ``publish``/``publish-on-error``/``publish-on-skip``
with ``on-complete.publish`` (which wins), then over the ``publish`` of
``on-success``/``on-error``/``on-skip``. Branch values go to the task's
``published``; ``global`` values are deep-merged into the workflow context.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sirocco import references
from sirocco.engine import evaluation, records, sizes
from sirocco.engine.draft import Draft
from sirocco.engine.states import State
from sirocco.lang import specs


def publish(draft: Draft, task: records.TaskExecution) -> None:
    """Evaluate the publish clauses that apply to the task's state."""
    if task.state not in (State.SUCCESS, State.ERROR, State.SKIPPED):
        return
    task_spec = draft.spec.tasks[task.name]
    chosen = publish_spec(task_spec, task.state)
    if chosen is None:
        return
    data = evaluation.publish_data(draft, task)
    published = evaluation.evaluate(draft, dict(chosen.branch), data, task) if chosen.branch else {}
    if not isinstance(published, dict):
        published = {}
    if chosen.global_:
        values = evaluation.evaluate(draft, dict(chosen.global_), data, task)
        if isinstance(values, dict) and values:
            context = merge_dicts(dict(draft.workflow.context), values)
            draft.change_workflow(context=context)
    sizes.check(draft.limits, "TaskExecution", "published", published)
    draft.change_task(task, published=published)


def publish_spec(task_spec: specs.TaskSpec, state: State) -> specs.PublishSpec | None:
    """Mistral's choice and merge of publish clauses for a state.

    Task-level ``publish*`` and ``on-complete.publish`` (which wins) are merged
    over the publish of ``on-success``/``on-error``/``on-skip``.
    """
    chosen: specs.PublishSpec | None = None
    if state == State.SUCCESS and task_spec.publish:
        chosen = specs.PublishSpec(branch=task_spec.publish)
    elif state == State.ERROR and task_spec.publish_on_error:
        chosen = specs.PublishSpec(branch=task_spec.publish_on_error)
    elif state == State.SKIPPED and task_spec.publish_on_skip:
        chosen = specs.PublishSpec(branch=task_spec.publish_on_skip)
    on_complete = task_spec.on_complete.publish if task_spec.on_complete else None
    if on_complete is not None:
        chosen = _merge_publish(chosen, on_complete) if chosen else on_complete
    clause = {
        State.SUCCESS: task_spec.on_success,
        State.ERROR: task_spec.on_error,
        State.SKIPPED: task_spec.on_skip,
    }.get(state)
    if clause is not None and clause.publish is not None:
        return _merge_publish(clause.publish, chosen) if chosen else clause.publish
    return chosen


def _merge_publish(left: specs.PublishSpec, right: specs.PublishSpec) -> specs.PublishSpec:
    return specs.PublishSpec(
        branch=merge_dicts(_plain_dict(left.branch), _plain_dict(right.branch)),
        global_=merge_dicts(_plain_dict(left.global_), _plain_dict(right.global_)),
        atomic=merge_dicts(_plain_dict(left.atomic), _plain_dict(right.atomic)),
    )


def _plain_dict(values: Mapping[str, Any]) -> dict[str, Any]:
    return {
        key: _plain_dict(value) if isinstance(value, Mapping) else value
        for key, value in values.items()
    }


def merge_dicts(left: dict[str, Any], right: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge ``right`` into a copy-on-write ``left`` (right wins), as Mistral does."""
    for key, value in right.items():
        current = references.resolve(left.get(key))
        if key in left and isinstance(current, dict) and isinstance(value, Mapping):
            left[key] = merge_dicts(dict(current), value)
        else:
            left[key] = value
    return left
