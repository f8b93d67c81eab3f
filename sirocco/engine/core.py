"""The engine's two entry points, ``start_workflow`` and ``decide``: the pipeline.

``decide`` applies a batch of events to one workflow execution, in order,
and returns a Decision. Each event goes through the same stages, each a
module that imports only the stages below it (import-linter checks it):

1. apply the event to the records (``results``, ``subworkflows``,
   ``timers``, ``lifecycle``); a task that completes publishes, runs its
   after-completion policies and evaluates its transitions
   (``task_completion``, ``transitions``), which create the next tasks;
2. start the tasks the transitions queued, under their before-start
   policies (``starting``, then ``with_items`` and ``running``);
3. complete the workflow once no task is left unfinished (``workflow_state``).

User errors become ERROR states with a ``state_info``; an exception here is
a Sirocco bug, caught and reported in ``Decision.problems`` so that one bad
event cannot block an execution.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sirocco import errors, expressions
from sirocco.engine import (
    evaluation,
    events,
    lifecycle,
    policies,
    ports,
    records,
    results,
    running,
    sizes,
    starting,
    subworkflows,
    timers,
    transitions,
    workflow_state,
)
from sirocco.engine.decision import Decision
from sirocco.engine.draft import Draft, message_of
from sirocco.engine.snapshot import Snapshot
from sirocco.engine.states import State
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
    in_place: bool = False,
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
        in_place: put the changed tasks in the snapshot's task index as they change,
            instead of an overlay over it: for a caller that applies the decision to
            the snapshot (``Snapshot.apply``) or drops the snapshot, whatever happens.

    Returns:
        The changed records and the commands to dispatch after the commit.
    """
    draft = Draft(snapshot, now=now, new_id=new_id, budget=budget, in_place=in_place)
    for event in batch:
        if event.workflow_execution_id != draft.workflow.id:
            draft.problem(
                f"Event for workflow execution {event.workflow_execution_id} "
                f"given to {draft.workflow.id}."
            )
            continue
        if draft.is_terminal() and not isinstance(event, _AFTER_END):
            continue
        try:
            apply_event(draft, event)
            start_queued(draft)
            workflow_state.check_completion(draft)
        except Exception as error:  # a bug: report it, keep the other events
            draft.bug(error)
            draft.queue.clear()
    return draft.decision()


def apply_event(draft: Draft, event: events.Event) -> None:
    """Stage 1: the event changes the records (and completed tasks run their transitions)."""
    if isinstance(event, events.ActionCompleted):
        results.on_action_completed(draft, event)
    elif isinstance(event, events.SubworkflowCompleted):
        subworkflows.on_subworkflow_completed(draft, event)
    elif isinstance(event, events.SubworkflowPaused):
        subworkflows.on_subworkflow_paused(draft, event)
    elif isinstance(event, events.SubworkflowRerun):
        subworkflows.on_subworkflow_rerun(draft, event)
    elif isinstance(event, events.TimerFired):
        timers.on_timer(draft, event)
    elif isinstance(event, events.PauseWorkflow):
        workflow_state.pause_workflow(draft, event.message)
    elif isinstance(event, events.ResumeWorkflow):
        lifecycle.resume_workflow(draft, event.env)
    elif isinstance(event, events.StopWorkflow):
        try:
            workflow_state.stop_workflow(draft, event.state, event.message)
        except errors.SiroccoError as error:
            # Mistral refuses the request (HTTP 400) and the execution goes on.
            draft.problem(
                f"Can't stop the workflow execution {draft.workflow.id} with state "
                f"{event.state}: {message_of(error)}"
            )
    elif isinstance(event, events.RerunTask):
        lifecycle.rerun_task(draft, event)
    elif isinstance(event, events.SkipTask):
        lifecycle.skip_task(draft, event)
    else:  # pragma: no cover - the union is closed
        draft.problem(f"Unknown event {event!r}.")


def start_queued(draft: Draft) -> None:
    """Stage 2: start the queued tasks under their policies and check the queued joins,
    until none is left (a task that completes at once may queue more)."""
    while draft.queue:
        kind, task_id = draft.queue.popleft()
        task = draft.task(task_id)
        if task is None:
            continue
        if kind == "start":
            starting.start_new(draft, task)
        elif kind == "join":
            # Mistral checks a join in a scheduler job, after the step that
            # triggered it: inbound tasks that finish meanwhile count too.
            policies.schedule_join_check(draft, task)
        elif kind == "run_existing" and task.state == State.IDLE:
            starting.run_existing(draft, task)


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
    item_values: dict[str, tuple[int, dict[str, list[Any]]]] | None = None,
) -> Decision:
    """Create a workflow execution, RUNNING, with its start tasks started.

    ``item_values``, when given, receives the with-items lists evaluated on
    the way (``Snapshot.item_values``), for the snapshot the caller keeps: a
    list of a million items is then evaluated once, not again at the next step.

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
        runtime[workflow_state.PARENT_KEY] = parent_execution_id
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
    if item_values is not None:
        snapshot.item_values = item_values
    draft = Draft(snapshot, now=now, new_id=new_id, budget=budget)
    draft.put_workflow(workflow, new=True)
    try:
        context = _variables(draft)
    except errors.SiroccoError as error:
        raise errors.InputError(message_of(error)) from error
    draft.put_workflow(_with_context(workflow, context), new=True)
    try:
        if spec.workflow_type == "reverse":
            commands = transitions.reverse_start_commands(draft)
        else:
            commands = [transitions.WorkflowCommand(name=name) for name in spec.start_tasks]
        transitions.run_commands(draft, commands)
        start_queued(draft)
        workflow_state.check_completion(draft)
    except Exception as error:  # a bug: report it with what was decided so far
        draft.bug(error)
    return draft.decision()


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


def _variables(draft: Draft) -> dict[str, Any]:
    spec = draft.spec
    if not spec.vars:
        return {}
    data = evaluation.workflow_data(draft, {})
    evaluated = evaluation.evaluate(draft, dict(spec.vars), data, None)
    return dict(evaluated) if isinstance(evaluated, Mapping) else {}


def _with_context(
    workflow: records.WorkflowExecution, context: Mapping[str, Any]
) -> records.WorkflowExecution:
    return records.evolve(workflow, {"context": dict(context)})
