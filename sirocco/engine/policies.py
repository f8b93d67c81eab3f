"""Task policies in Mistral's order: pause-before, wait-before, wait-after, fail-on, retry,
timeout, concurrency.

Like Mistral, every policy that is set evaluates its values (which may be
expressions) at both hooks, before the task starts and after it completes,
and checks their types: a wrong type is a structural error ("Invalid data
type in WaitBeforePolicy: ..."). Delays are durable timers
(``ScheduleTimer``); each timer carries a token kept in the task's runtime,
so a timer that no longer applies (after a rerun, say) is ignored.
"""

from __future__ import annotations

import pprint
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sirocco import errors
from sirocco.engine import (
    commands,
    dataflow,
    evaluation,
    events,
    records,
    states,
    workflow_state,
)
from sirocco.engine.draft import Draft
from sirocco.engine.states import State
from sirocco.lang import specs

_INTEGER = "integer"
_BOOLEAN = "boolean"


class _Values:
    """The evaluated values of the policies that are set."""

    def __init__(self) -> None:
        self.pause_before: Any = None
        self.wait_before: int | None = None
        self.wait_after: int | None = None
        self.timeout: int | None = None
        self.concurrency: int | None = None
        self.retry_count: int | None = None
        self.retry_delay: int = 0


def _is_set(value: Any) -> bool:
    """Mistral builds a delay policy for an expression or a positive number."""
    if value is None:
        return False
    if isinstance(value, str):
        return True
    try:
        return bool(value > 0)
    except TypeError:
        return True


def _evaluate(draft: Draft, task: records.TaskExecution, policy_spec: specs.PolicySpec) -> _Values:
    values = _Values()
    data: Any = None  # the task's data, made only when a policy has a value to evaluate

    def field(value: Any, policy: str, name: str, kind: str) -> Any:
        nonlocal data
        if data is None:
            data = evaluation.task_data(draft, task)
        result = evaluation.evaluate(draft, value, data, task)
        _check_type(result, policy, name, kind)
        return result

    if policy_spec.pause_before:
        values.pause_before = field(policy_spec.pause_before, "PauseBeforePolicy", "expr", _BOOLEAN)
    if _is_set(policy_spec.wait_before):
        values.wait_before = field(policy_spec.wait_before, "WaitBeforePolicy", "delay", _INTEGER)
    if _is_set(policy_spec.wait_after):
        values.wait_after = field(policy_spec.wait_after, "WaitAfterPolicy", "delay", _INTEGER)
    retry = policy_spec.retry
    if retry is not None:
        values.retry_count = field(retry.count, "RetryPolicy", "count", _INTEGER)
        values.retry_delay = field(retry.delay, "RetryPolicy", "delay", _INTEGER)
    if _is_set(policy_spec.timeout):
        values.timeout = field(policy_spec.timeout, "TimeoutPolicy", "delay", _INTEGER)
    if policy_spec.concurrency:
        values.concurrency = field(
            policy_spec.concurrency, "ConcurrencyPolicy", "concurrency", _INTEGER
        )
    return values


def _check_type(value: Any, policy: str, name: str, kind: str) -> None:
    schema: dict[str, Any] = {"type": kind}
    validator = "type"
    if kind == _BOOLEAN:
        valid = isinstance(value, bool)
        problem = f"{value!r} is not of type 'boolean'"
    else:
        schema["minimum"] = 0
        integral = (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer()
        )
        valid = integral and value >= 0
        problem = f"{value!r} is not of type 'integer'"
        if integral:
            validator = "minimum"
            problem = f"{value!r} is less than the minimum of 0"
    if not valid:
        # Mistral validates with jsonschema and quotes its whole error text.
        detail = (
            f"{problem}\n\nFailed validating {validator!r} in schema['properties'][{name!r}]:\n"
            f"{_indented(schema)}\n\nOn instance[{name!r}]:\n{_indented(value)}"
        )
        raise errors.InputError(
            f"Invalid data type in {policy}: {detail}. Value(s) can be shown after "
            "YAQL evaluating. If you use YAQL here, please correct it."
        )


def _indented(value: Any) -> str:
    text = pprint.pformat(value, width=72, sort_dicts=False)
    return "\n".join("    " + line for line in text.splitlines())


def schedule_timer(
    draft: Draft,
    task: records.TaskExecution,
    purpose: events.TimerPurpose,
    delay: float,
    **runtime_changes: Any,
) -> records.TaskExecution:
    """Ask for a durable timer for ``task`` and remember its token."""
    task = draft.current(task)
    token = int(task.runtime.token or 0) + 1
    timers = dict(task.runtime.timers or {})
    timers[purpose] = token
    runtime = task.runtime.but(token=token, timers=timers, **runtime_changes)
    task = draft.change_task(task, runtime=runtime)
    draft.emit(
        commands.ScheduleTimer(
            due=draft.now + timedelta(seconds=delay),
            event=events.TimerFired(
                workflow_execution_id=draft.workflow.id,
                task_execution_id=task.id,
                purpose=purpose,
                token=token,
            ),
        )
    )
    return task


def evaluates_nothing(policy_spec: specs.PolicySpec) -> bool:
    """Whether ``_evaluate`` finds no policy to evaluate: ``before_start`` then changes
    nothing and cannot fail."""
    return not (
        policy_spec.pause_before
        or _is_set(policy_spec.wait_before)
        or _is_set(policy_spec.wait_after)
        or policy_spec.retry is not None
        or _is_set(policy_spec.timeout)
        or policy_spec.concurrency
    )


def before_start(draft: Draft, task: records.TaskExecution) -> None:
    """Run the before-start policies (the task is RUNNING). Raises on wrong values."""
    policy_spec = draft.spec.tasks[task.name].policies
    values = _evaluate(draft, task, policy_spec)
    if values.pause_before:
        task = draft.change_task(task, state=State.IDLE, state_info="Set by 'pause-before' policy")
        workflow_state.pause_workflow(draft, None)
    if values.wait_before:
        task = draft.current(task)
        policy = task.runtime.wait_before_policy or {}
        if policy.get("skip"):
            task = draft.change_task(task, state=State.RUNNING, state_info=None)
        elif task.state != State.IDLE:
            task = draft.change_task(
                task,
                state=State.DELAYED,
                state_info=f"Delayed by 'wait-before' policy [delay={values.wait_before}]",
            )
            schedule_timer(
                draft, task, "wait_before", values.wait_before, wait_before_policy={"skip": True}
            )
    if values.timeout:
        due = draft.now + timedelta(seconds=values.timeout)
        schedule_timer(
            draft,
            task,
            "timeout",
            values.timeout,
            timeout=values.timeout,
            timeout_due=due.isoformat(),
        )
    if values.concurrency:
        task = draft.current(task)
        draft.change_task(task, runtime=task.runtime.but(concurrency=values.concurrency))


def after_complete(draft: Draft, task: records.TaskExecution) -> None:
    """Run the after-completion policies. Raises on wrong values."""
    task_spec = draft.spec.tasks[task.name]
    policy_spec = task_spec.policies
    values = _evaluate(draft, task, policy_spec)
    if values.wait_after:
        policy = task.runtime.wait_after_policy or {}
        if not policy.get("skip"):
            original = {"skip": True, "state": str(task.state), "state_info": task.state_info}
            task = draft.change_task(
                task,
                state=State.DELAYED,
                state_info=f"Delayed by 'wait-after' policy [delay={values.wait_after}]",
            )
            task = schedule_timer(
                draft, task, "wait_after", values.wait_after, wait_after_policy=original
            )
    if policy_spec.fail_on and task.state == State.SUCCESS:
        failing = evaluation.evaluate(
            draft, policy_spec.fail_on, evaluation.task_data(draft, task), task
        )
        if failing:
            task = draft.change_task(
                task, state=State.ERROR, state_info="Failed by 'fail-on' policy"
            )
    if policy_spec.retry is not None and values.retry_count:
        _retry(draft, draft.current(task), task_spec, values)


def _retry(
    draft: Draft, task: records.TaskExecution, task_spec: specs.TaskSpec, values: _Values
) -> None:
    retry = task_spec.policies.retry
    assert retry is not None and values.retry_count is not None
    data = dataflow.chain(
        evaluation.task_layer(task),
        evaluation.env_layer(draft),
        dataflow.visible(draft.outbound(task)),
        draft.workflow.context,
        draft.workflow.input,
    )
    continue_on = (
        evaluation.evaluate(draft, retry.continue_on, data, task)
        if retry.continue_on is not None
        else None
    )
    break_on = (
        evaluation.evaluate(draft, retry.break_on, data, task)
        if retry.break_on is not None
        else None
    )
    state = task.state
    if not states.is_completed(state) or state == State.CANCELLED:
        return
    policy = dict(task.runtime.retry_task_policy or {})
    retry_no = int(policy.pop("retry_no", 0))
    retries_remain = retry_no < values.retry_count
    stop = (state == State.SUCCESS and not retry.continue_on) or bool(
        retry.continue_on and not continue_on
    )
    broken = state == State.ERROR and bool(break_on)
    if not retries_remain or broken or stop:
        # Mistral keeps the count of retries made on the task once it stops retrying.
        if retry_no:
            policy["retry_no"] = retry_no
        draft.change_task(task, runtime=task.runtime.but(retry_task_policy=policy))
        return
    _invalidate_results(draft, task)
    policy["retry_no"] = retry_no + 1
    runtime = draft.current(task).runtime.but(retry_task_policy=policy)
    info = f"Delayed by 'retry' policy [delay={values.retry_delay}]"
    if task_spec.is_join:
        task = draft.change_task(task, state=State.WAITING, state_info=info, runtime=runtime)
        schedule_timer(draft, task, "retry", values.retry_delay)
        return
    task = draft.change_task(task, state=State.DELAYED, state_info=info, runtime=runtime)
    schedule_timer(draft, task, "retry", values.retry_delay)


def _invalidate_results(draft: Draft, task: records.TaskExecution) -> None:
    task_spec = draft.spec.tasks[task.name]
    if task_spec.is_with_items:
        for action in draft.task_actions(task.id):
            if action.accepted:
                draft.change_action(action, accepted=False)
    else:
        action_id = task.runtime.action_id
        current = draft.action(str(action_id)) if action_id else None
        if current is not None and current.accepted:
            draft.change_action(current, accepted=False)
    draft.change_task(task, result=[], has_result=False)


def schedule_join_check(draft: Draft, task: records.TaskExecution) -> None:
    """Check a waiting join in a later step (one pending check at a time)."""
    task = draft.current(task)
    if task.state != State.WAITING or task.runtime.join_check:
        return
    schedule_timer(draft, task, "join", 0, join_check=True)


def is_timed_out(draft: Draft, task: records.TaskExecution) -> bool:
    """Whether the task's timeout is due (its timer may not have been delivered yet).

    An executor gives up on a slow action at the same moment; Mistral's
    executor reports only once the action ends, so its timeout policy always
    fires first. Checking the due time keeps that order here.
    """
    due = task.runtime.timeout_due
    if not isinstance(due, str) or states.is_completed(task.state):
        return False
    timers: Mapping[str, Any] = task.runtime.timers or {}
    if "timeout" not in timers:
        return False
    try:
        return draft.now >= datetime.fromisoformat(due)
    except ValueError:
        return False
