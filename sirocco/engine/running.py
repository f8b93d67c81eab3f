"""Running a task's work: its action(s) or sub-workflow(s), with input, target and timeout.

``schedule`` is called once the task is RUNNING and its before-start
policies let it go on. It evaluates the input (with ``env.__actions``
defaults under it), resolves the action, checks the input and emits
``RunAction``; for ``workflow:`` tasks it emits ``StartSubworkflow``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sirocco import errors
from sirocco.engine import (
    action_resolution,
    commands,
    dataflow,
    evaluation,
    records,
    sizes,
    task_completion,
)
from sirocco.engine.draft import Draft
from sirocco.engine.states import State

#: The start parameter naming the parent workflow execution of a sub-workflow;
#: ``start_workflow`` removes it from the params.
PARENT_PARAM = "__parent_execution_id"
#: The start parameter carrying the root execution's env to a sub-workflow;
#: ``start_workflow`` moves it into the child's runtime (``records.ROOT_ENV``).
ROOT_ENV_PARAM = "__root_env"
#: The start parameter carrying a sub-workflow's depth below its root execution;
#: ``start_workflow`` moves it into the child's runtime (``records.DEPTH``).
DEPTH_PARAM = "__depth"


class ActionPlan:
    """The resolved action of a task, reused for every item of a with-items task."""

    __slots__ = ("resolved", "safe_rerun")

    def __init__(self, resolved: action_resolution.ResolvedAction, safe_rerun: bool) -> None:
        self.resolved = resolved
        self.safe_rerun = safe_rerun


def plan_action(draft: Draft, task: records.TaskExecution, data: Mapping[str, Any]) -> ActionPlan:
    """Resolve the task's action name (it may be an expression)."""
    task_spec = draft.spec.tasks[task.name]
    name = task_spec.action or "std.noop"
    evaluated = evaluation.evaluate(draft, name, data, task)
    if not evaluated:
        evaluated = "std.noop"
    resolved = action_resolution.resolve(draft, str(evaluated))
    transforms = action_resolution.output_transforms(resolved)
    if transforms or task.runtime.output_transforms is not None:
        runtime = draft.current(task).runtime.but(output_transforms=transforms)
        draft.change_task(task, runtime=runtime)
    safe_rerun = task_spec.safe_rerun
    if isinstance(safe_rerun, str):
        safe_rerun = evaluation.evaluate(draft, safe_rerun, data, task)
    return ActionPlan(resolved, bool(safe_rerun))


def action_input(
    draft: Draft, task: records.TaskExecution, data: Mapping[str, Any]
) -> dict[str, Any]:
    """The task's evaluated input with ``env.__actions`` defaults under it."""
    task_spec = draft.spec.tasks[task.name]
    raw = task_spec.input
    evaluated = evaluation.evaluate(draft, raw, data, task) if raw else {}
    if not isinstance(evaluated, dict):
        raise errors.InputError(
            f"Wrong dynamic input for task: {task.name}. Dict type is expected. "
            f"Actual type: {type(evaluated)}. Actual value: {evaluated}"
        )
    if task_spec.action:
        defaults = draft.env.get("__actions")
        if isinstance(defaults, Mapping):
            action_defaults = defaults.get(task_spec.action)
            if isinstance(action_defaults, Mapping):
                for key, value in action_defaults.items():
                    evaluated.setdefault(key, value)
    return evaluated


def run_action(
    draft: Draft,
    task: records.TaskExecution,
    plan: ActionPlan,
    given: dict[str, Any],
    *,
    index: int,
    attempt: int,
) -> None:
    """Create one action execution (RUNNING) with the evaluated input ``given`` (see
    :func:`action_input`) and the command that runs it.

    For a with-items task an ad-hoc expansion error is raised (the caller fails
    the task); for a regular task it fails the task here.
    """
    target = _target(draft, task, given)
    branch = draft.inbound(task).values
    try:
        prepared = action_resolution.prepare(draft, plan.resolved, given, task, branch)
        # Mistral measures an action execution's input too (a value by reference counts
        # whole) and fails the task with the bare message.
        sizes.check(draft.limits, "ActionExecution", "input", prepared.recorded_input)
    except (action_resolution.ExpansionError, errors.SizeLimitError) as error:
        if draft.spec.tasks[task.name].is_with_items:
            raise
        task_completion.complete(draft, task, State.ERROR, error.message)
        return
    action = records.ActionExecution(
        id=draft.new_id(),
        name=plan.resolved.name,
        task_execution_id=task.id,
        workflow_execution_id=draft.workflow.id,
        state=State.RUNNING,
        input=prepared.recorded_input,
        index=index,
        is_sync=prepared.is_sync,
        attempt=attempt,
        created_at=draft.now,
    )
    draft.put_action(action)
    task = draft.current(task)
    if index == 0 and not draft.spec.tasks[task.name].is_with_items:
        task = draft.change_task(task, runtime=task.runtime.but(action_id=action.id))
    timeout = task.runtime.timeout
    draft.emit(
        commands.RunAction(
            action_execution_id=action.id,
            workflow_execution_id=draft.workflow.id,
            task_execution_id=task.id,
            action_name=prepared.base_name,
            input=prepared.base_input,
            target=None if target is None else str(target),
            safe_rerun=plan.safe_rerun,
            timeout=float(timeout) if timeout else None,
            execution={
                "workflow_execution_id": draft.workflow.id,
                "task_execution_id": task.id,
                "action_execution_id": action.id,
                "workflow_name": draft.workflow.workflow_name,
                "task_name": task.name,
                "with_items_index": index,
                "callback_url": None,
            },
        )
    )


def _target(draft: Draft, task: records.TaskExecution, given: Mapping[str, Any]) -> Any:
    target = draft.spec.tasks[task.name].target
    if not target:
        return None
    data = dataflow.chain(
        given,
        dataflow.visible(draft.inbound(task)),
        evaluation.env_layer(draft),
        draft.workflow.context,
        draft.workflow.input,
    )
    return evaluation.evaluate(draft, target, data, task)


def start_subworkflow(
    draft: Draft, task: records.TaskExecution, data: Mapping[str, Any], *, index: int
) -> None:
    """Ask the runtime to start the task's sub-workflow (one per item for with-items)."""
    task_spec = draft.spec.tasks[task.name]
    name = evaluation.evaluate(draft, task_spec.workflow, data, task)
    workflow = draft.workflow
    depth = int(workflow.runtime.get(records.DEPTH) or 0) + 1
    maximum = draft.limits.subworkflow_max_depth
    if 0 <= maximum < depth:
        raise errors.InputError(
            f"Sub-workflow {name} would be nested {depth} levels below the root execution, "
            f"more than the limit of {maximum} (SIROCCO_SUBWORKFLOW_MAX_DEPTH)"
        )
    given = action_input(draft, task, data)
    child_id = draft.new_id()
    # Mistral looks a sub-workflow up in the execution's namespace (its params), which
    # may differ from the namespace its own workflow was found in.
    namespace = workflow.params.get("namespace")
    if not isinstance(namespace, str):
        namespace = workflow.namespace
    params: dict[str, Any] = {
        "root_execution_id": workflow.root_execution_id or workflow.id,
        "task_execution_id": task.id,
        "index": index,
        "namespace": namespace,
        # Mistral gives a sub-workflow an empty env of its own; env() reads the
        # root execution's, which travels in ROOT_ENV_PARAM.
        "env": {},
        ROOT_ENV_PARAM: dict(draft.env),
        # Carried to ``start_workflow``, which moves it into the child's runtime
        # (so that the child can report back even if its starter forgets it).
        PARENT_PARAM: workflow.id,
        DEPTH_PARAM: depth,
    }
    if "notify" in workflow.params:
        params["notify"] = workflow.params["notify"]
    task = draft.current(task)
    children = dict(task.runtime.subworkflows or {})
    children[child_id] = [index, int(task.runtime.attempt or 0)]
    draft.change_task(task, runtime=task.runtime.but(subworkflows=children))
    draft.emit(
        commands.StartSubworkflow(
            workflow_execution_id=workflow.id,
            task_execution_id=task.id,
            subworkflow_execution_id=child_id,
            workflow_name=str(name),
            namespace=namespace,
            workbook=draft.spec.workbook,
            input=given,
            params=params,
            root_execution_id=workflow.root_execution_id or workflow.id,
            index=index,
        )
    )
