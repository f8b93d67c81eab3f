"""The engine's two entry points: ``start_workflow`` and ``decide``.

``decide`` applies a batch of events to one workflow execution, in order,
and returns a Decision. User errors become ERROR states with a
``state_info``; an exception here is a Sirocco bug, caught and reported in
``Decision.problems`` so that one bad event cannot block an execution.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sirocco import errors, expressions
from sirocco.engine import (
    completion,
    dispatch,
    evaluation,
    events,
    lifecycle,
    policies,
    ports,
    records,
    running,
    sizes,
    states,
    subworkflows,
    tasks,
    with_items,
)
from sirocco.engine.decision import Decision
from sirocco.engine.snapshot import Snapshot
from sirocco.engine.states import State
from sirocco.engine.step import Step, message_of
from sirocco.lang import specs
from sirocco.limits import DEFAULT as DEFAULT_LIMITS

#: Events still handled when the workflow has ended: results are recorded,
#: and a failed or cancelled workflow can be rerun (also from a sub-workflow) or
#: have a task skipped.
_AFTER_END = (
    events.ActionCompleted,
    events.SubworkflowCompleted,
    events.SubworkflowRerun,
    events.RerunTask,
    events.SkipTask,
)


def decide(
    snapshot: Snapshot,
    batch: Sequence[events.Event],
    *,
    now: datetime,
    new_id: Callable[[], str],
    budget: expressions.Budget | None = None,
) -> Decision:
    """Apply ``batch`` to the snapshot's workflow execution and say what changed.

    Args:
        snapshot: the workflow execution, its tasks and the actions the events name.
        batch: events for this workflow execution, applied in order.
        now: the current time (naive UTC).
        new_id: makes ids for new records.
        budget: what the step's expressions may spend, and the limits of the
            with-items cap and the sub-workflow depth (default: the default
            limits, expressions without time limits).

    Returns:
        The changed records and the commands to dispatch after the commit.
    """
    step = Step(snapshot, now=now, new_id=new_id, budget=budget)
    for event in batch:
        if event.workflow_execution_id != step.workflow.id:
            step.problem(
                f"Event for workflow execution {event.workflow_execution_id} "
                f"given to {step.workflow.id}."
            )
            continue
        if step.is_terminal() and not isinstance(event, _AFTER_END):
            continue
        try:
            _handle(step, event)
            drain(step)
            completion.check_completion(step)
        except Exception as error:  # a bug: report it, keep the other events
            step.bug(error)
            step.queue.clear()
    return step.decision()


def _handle(step: Step, event: events.Event) -> None:
    if isinstance(event, events.ActionCompleted):
        on_action_completed(step, event)
    elif isinstance(event, events.SubworkflowCompleted):
        subworkflows.on_subworkflow_completed(step, event)
    elif isinstance(event, events.SubworkflowPaused):
        subworkflows.on_subworkflow_paused(step, event)
    elif isinstance(event, events.SubworkflowRerun):
        subworkflows.on_subworkflow_rerun(step, event)
    elif isinstance(event, events.TimerFired):
        policies.on_timer(step, event)
    elif isinstance(event, events.PauseWorkflow):
        lifecycle.pause_workflow(step, event.message)
    elif isinstance(event, events.ResumeWorkflow):
        lifecycle.resume_workflow(step, event.env)
    elif isinstance(event, events.StopWorkflow):
        try:
            completion.stop_workflow(step, event.state, event.message)
        except errors.SiroccoError as error:
            # Mistral refuses the request (HTTP 400) and the execution goes on.
            step.problem(
                f"Can't stop the workflow execution {step.workflow.id} with state "
                f"{event.state}: {message_of(error)}"
            )
    elif isinstance(event, events.RerunTask):
        lifecycle.rerun_task(step, event)
    elif isinstance(event, events.SkipTask):
        lifecycle.skip_task(step, event)
    else:  # pragma: no cover - the union is closed
        step.problem(f"Unknown event {event!r}.")


def drain(step: Step) -> None:
    """Run queued task starts and join checks until none is left."""
    while step.queue:
        kind, task_id = step.queue.popleft()
        task = step.task(task_id)
        if task is None:
            continue
        if kind == "start":
            tasks.start_new(step, task)
        elif kind == "join":
            # Mistral checks a join in a scheduler job, after the step that
            # triggered it: inbound tasks that finish meanwhile count too.
            policies.schedule_join_check(step, task)
        elif kind == "run_existing" and task.state == State.IDLE:
            tasks.run_existing(step, task)


def on_action_completed(step: Step, event: events.ActionCompleted) -> None:
    """An action execution finished: record it, then let its task go on."""
    action = step.action(event.action_execution_id)
    if action is None:
        step.problem(f"Unknown action execution {event.action_execution_id}.")
        return
    if states.is_completed(action.state):
        return  # a duplicate result
    if event.state == State.SUCCESS:
        output = event.result
    else:
        output = event.result if event.result is not None else event.message
    task = step.task(action.task_execution_id) if action.task_execution_id else None
    if task is not None and event.state != State.SUCCESS and policies.is_timed_out(step, task):
        policies.time_out(step, task)
        task = step.current(task)
    stale = (
        task is None
        or states.is_completed(task.state)
        or int(task.runtime.get("attempt", 0)) != action.attempt
    )
    transforms = None if task is None else task.runtime.get("output_transforms")
    failure: str | None = None
    if transforms and not stale:
        try:
            output = _transform(step, transforms, output, event.state)
        except errors.SiroccoError as error:
            failure = (
                f"Failed to complete action [error={message_of(error)}, action={action.name}, "
                f"task={task.name if task else None}]"
            )
    if failure is None and not stale:
        try:
            sizes.check(step.limits, "ActionExecution", "output", output)
        except errors.SizeLimitError as error:
            failure = error.message
    state = event.state if failure is None else State.ERROR
    action = step.change_action(
        action,
        state=state,
        output=output if failure is None else failure,
        accepted=not stale,
        state_info=event.message if state != State.SUCCESS else None,
    )
    if stale or task is None:
        return
    if failure is not None:
        tasks.force_fail_task(step, task, failure)
        return
    if step.spec.tasks[task.name].is_with_items:
        with_items.on_item_completed(step, task, state)
        return
    tasks.on_result(step, task, state, output, action.name)


def _transform(step: Step, transforms: Sequence[Any], output: Any, state: State) -> Any:
    from sirocco.engine import actions

    if state == State.SUCCESS:
        return actions.transform_output(step, transforms, output)
    try:
        return actions.transform_output(step, transforms, output)
    except errors.SiroccoError:
        return output  # an error result keeps its data when the transform cannot apply


def start_workflow(
    *,
    spec: specs.WorkflowSpec,
    execution_id: str,
    input: Mapping[str, Any],
    params: Mapping[str, Any],
    now: datetime,
    new_id: Callable[[], str],
    lookup: ports.Lookup,
    description: str = "",
    namespace: str = "",
    workflow_id: str | None = None,
    task_execution_id: str | None = None,
    root_execution_id: str | None = None,
    parent_execution_id: str | None = None,
    budget: expressions.Budget | None = None,
) -> Decision:
    """Create a workflow execution, RUNNING, with its start tasks started.

    For a sub-workflow (``task_execution_id`` given) the input keys the
    workflow does not declare move into ``params`` and ``params["env"]`` is
    used as given (it is the root execution's evaluated env).

    Raises:
        errors.InputError: the input does not match the declared input, the
            reverse workflow's ``task_name`` is missing or unknown, or the env
            or vars cannot be evaluated. Nothing is created then.
    """
    given = dict(input)
    parameters = dict(params)
    carried_parent = parameters.pop(running.PARENT_PARAM, None)
    root_env = parameters.pop(running.ROOT_ENV_PARAM, None)
    depth = parameters.pop(running.DEPTH_PARAM, None)
    parent_execution_id = parent_execution_id or (
        str(carried_parent) if carried_parent and task_execution_id else None
    )
    declared = {parameter.name for parameter in spec.input}
    if task_execution_id:
        for key in list(given):
            if key not in declared:
                parameters[key] = given.pop(key)
    _validate_input(spec, given)
    field_limits = budget.limits if budget is not None else DEFAULT_LIMITS
    sizes.check(field_limits, "WorkflowExecution", "input", given)
    sizes.check(field_limits, "WorkflowExecution", "params", params)
    for parameter in spec.input:
        if parameter.name not in given and parameter.has_default:
            given[parameter.name] = parameter.default
    if spec.workflow_type == "reverse":
        task_name = parameters.get("task_name")
        if not isinstance(task_name, str) or task_name not in spec.tasks:
            raise errors.InputError(
                f"Invalid task name [wf_spec={spec.name}, task_name={task_name}]"
            )
    parameters.setdefault("namespace", namespace)
    parameters["env"] = _environment(parameters, evaluate=task_execution_id is None, budget=budget)
    runtime: dict[str, Any] = {"index": int(parameters.get("index") or 0)}
    if parent_execution_id:
        runtime[completion.PARENT_KEY] = parent_execution_id
    if task_execution_id and isinstance(root_env, Mapping):
        runtime[records.ROOT_ENV] = dict(root_env)
    if task_execution_id and isinstance(depth, int):
        runtime[records.DEPTH] = depth
    workflow = records.WorkflowExecution(
        id=execution_id,
        workflow_name=spec.name,
        workflow_id=workflow_id,
        namespace=namespace,
        description=description,
        definition=spec.definition,
        spec=spec,
        state=State.RUNNING,
        input=given,
        params=parameters,
        task_execution_id=task_execution_id,
        root_execution_id=root_execution_id,
        tags=spec.tags,
        runtime=runtime,
        created_at=now,
    )
    snapshot = Snapshot(workflow, (), (), lookup)
    step = Step(snapshot, now=now, new_id=new_id, budget=budget)
    step.put_workflow(workflow, new=True)
    try:
        context = _variables(step)
    except errors.SiroccoError as error:
        raise errors.InputError(message_of(error)) from error
    step.put_workflow(_with_context(workflow, context), new=True)
    try:
        if spec.workflow_type == "reverse":
            commands = dispatch.reverse_start_commands(step)
        else:
            commands = [dispatch.Command(name=name) for name in spec.start_tasks]
        dispatch.dispatch(step, commands)
        drain(step)
        completion.check_completion(step)
    except Exception as error:  # a bug: report it with what was decided so far
        step.bug(error)
    return step.decision()


def _validate_input(spec: specs.WorkflowSpec, given: Mapping[str, Any]) -> None:
    required = [parameter.name for parameter in spec.input if not parameter.has_default]
    declared = {parameter.name for parameter in spec.input}
    missing = [name for name in required if name not in given]
    unexpected = [key for key in given if key not in declared]
    if missing or unexpected:
        kind = "ReverseWorkflowSpec" if spec.workflow_type == "reverse" else "DirectWorkflowSpec"
        text = f"Invalid input [name={spec.name}, class={kind}"
        if missing:
            text += f", missing={missing!r}"
        if unexpected:
            text += f", unexpected={unexpected!r}"
        raise errors.InputError(text + "]")


def _environment(
    parameters: Mapping[str, Any], *, evaluate: bool, budget: expressions.Budget | None
) -> dict[str, Any]:
    env = parameters.get("env") or {}
    if not isinstance(env, Mapping):
        raise errors.InputError(
            f"Unexpected value type for environment [env={env}, type={type(env)}]"
        )
    plain = dict(env)
    evaluate_env = parameters.get("evaluate_env", True)
    # ``sirocco run --param evaluate_env=false`` gives text.
    if not evaluate or evaluate_env is False or str(evaluate_env).lower() == "false":
        return plain
    try:
        evaluated = expressions.evaluate(plain, {"__env": plain}, None, budget)
    except errors.SiroccoError as error:
        raise errors.InputError(message_of(error)) from error
    return dict(evaluated) if isinstance(evaluated, Mapping) else plain


def _variables(step: Step) -> dict[str, Any]:
    spec = step.spec
    if not spec.vars:
        return {}
    data = evaluation.workflow_data(step, {})
    evaluated = evaluation.evaluate(step, dict(spec.vars), data, None)
    return dict(evaluated) if isinstance(evaluated, Mapping) else {}


def _with_context(
    workflow: records.WorkflowExecution, context: Mapping[str, Any]
) -> records.WorkflowExecution:
    return records.evolve(workflow, {"context": dict(context)})
