"""with-items: one action (or sub-workflow) per item, counted in O(1) per item.

The task's runtime keeps counters (``records.WithItemsCounters``: ``count``,
``next``, ``running``, ``succeeded``, ``failed``, ``cancelled`` and, for a
partial rerun, the ``queue`` of indexes to run again); results are never collected item by
item. When the last item finishes (or one is cancelled) a timer due now
(``continue``) completes the task in later steps, after the step that wrote
the results committed, as Mistral completes with-items tasks in a separate
job. Those steps read the results in index order, ``GATHER_PER_STEP`` indexes
each (``Lookup.item_results_between``); the last one completes the task, so
a million results never hold the engine in one step.

Items are started ``ITEMS_PER_STEP`` at a time: when more could start, a
timer due now (``more``) starts the next ones in a later step, so a task of a
million items is a thousand short steps with other executions' events in
between, never one long transaction holding every item's record.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sized
from typing import Any

from sirocco import errors
from sirocco.engine import (
    evaluation,
    policies,
    records,
    running,
    states,
    task_completion,
    tasks,
)
from sirocco.engine.draft import Draft, message_of
from sirocco.engine.states import State

#: The most items one call starts; the ``more`` timer starts the next ones.
ITEMS_PER_STEP = 100
#: The most item results one step reads while the task completes (``continue`` timer):
#: a few µs of CPU each (the row and its share of one decode), ~10 ms a step.
GATHER_PER_STEP = 2_000
#: The timers whose step is a chunk of a with-items task (``ITEMS_PER_STEP`` items
#: started, ``GATHER_PER_STEP`` results read): ~10-30 ms of CPU each, where most steps
#: take well under one. The engine loop lets other executions' work go first.
CHUNK_TIMERS = frozenset({"more", "continue"})

_FINAL_INFO = {
    State.SUCCESS: None,
    State.ERROR: "One or more actions had failed.",
    State.CANCELLED: "One or more actions was cancelled.",
}


def values_of(draft: Draft, task: records.TaskExecution) -> dict[str, list[Any]]:
    """The evaluated item lists (cached per attempt). Raises on bad lists."""
    attempt = int(task.runtime.attempt or 0)
    cached = draft.snapshot.item_values.get(task.id)
    if cached is not None and cached[0] == attempt:
        return cached[1]
    task_spec = draft.spec.tasks[task.name]
    data = evaluation.task_data(draft, task)
    evaluated: dict[str, Any] = {}
    for item in task_spec.with_items:
        evaluated[item.variable] = evaluation.evaluate(draft, item.items, data, task)
    found: dict[str, list[Any]] = {}
    length = -1
    for variable, items in evaluated.items():
        if not isinstance(items, Iterable):
            raise errors.InputError(
                f"Wrong input format for: {found}. Iterable type is expected for each value."
            )
        _check_count(draft, len(items) if isinstance(items, Sized) else 0)
        # A list is the evaluation's own copy (``evaluation.evaluate`` returns fresh
        # values): a million items are not copied again.
        listed = items if type(items) is list else list(items)
        _check_count(draft, len(listed))
        found[variable] = listed
        if length < 0:
            length = len(listed)
        elif len(listed) != length:
            raise errors.InputError(
                f"Wrong input format for: {evaluated}. All arrays must have the same length."
            )
    draft.snapshot.item_values[task.id] = (attempt, found)
    return found


def _check_count(draft: Draft, count: int) -> None:
    maximum = draft.limits.with_items_max_items
    if 0 <= maximum < count:
        raise errors.InputError(
            f"with-items has {count} items, more than the limit of {maximum} items per task "
            "(SIROCCO_WITH_ITEMS_MAX_ITEMS)"
        )


def schedule(draft: Draft, task: records.TaskExecution) -> None:
    """Start a with-items task (first run, retry or rerun). Raises on structural errors."""
    queue = task.runtime.with_items_rerun
    task, _ = tasks.next_attempt(draft, task)
    if queue is not None:
        task = draft.change_task(task, runtime=task.runtime.but(with_items_rerun=None))
    found = values_of(draft, task)
    count = len(next(iter(found.values()), []))
    pending = None if queue is None else sorted(int(index) for index in queue)
    counters = records.WithItemsCounters.start(count, pending)
    task = _set_counters(draft, task, counters)
    if not counters.pending:
        if count == 0:
            task = draft.change_task(task, result=[], has_result=True)
            task_completion.complete(draft, task, State.SUCCESS)
        else:
            _finish_later(draft, task)
        return
    _start_more(draft, task)


def _start_more(draft: Draft, task: records.TaskExecution) -> None:
    task = draft.current(task)
    counters = task.runtime.with_items
    assert counters is not None, "with-items counters are set before items start"
    concurrency = int(task.runtime.concurrency or 0)
    found = values_of(draft, task)
    task_spec = draft.spec.tasks[task.name]
    started: list[int] = []
    queue = counters.queue
    next_index, running_items, count = counters.next, counters.running, counters.count
    changes: dict[str, Any] = {}
    while (queue or next_index < count) and (not concurrency or running_items < concurrency):
        if len(started) == ITEMS_PER_STEP:
            # More could start: a later step does it, after what is queued meanwhile.
            changes["waking"] = True
            break
        if queue:
            index = queue.pop(0)
            changes["queue"] = queue
        else:
            index = next_index
            next_index += 1
        running_items += 1
        started.append(index)
    counters = counters.but(next=next_index, running=running_items, **changes)
    task = _set_counters(draft, task, counters)
    if not queue and next_index >= count:
        # Every item has started: the list is not needed again (a retry or a rerun
        # evaluates it anew). Freed here, in a step of a chunk, its million elements
        # do not lengthen the step that completes the task.
        draft.snapshot.item_values.pop(task.id, None)
    if task_spec.workflow:
        for index in started:
            running.start_subworkflow(
                draft, task, _item_data(draft, task, found, index), index=index
            )
    elif not _run_actions(draft, task, found, started):
        return
    if counters.waking:
        policies.schedule_timer(draft, task, "more", 0)


def _run_actions(
    draft: Draft, task: records.TaskExecution, found: Mapping[str, list[Any]], started: list[int]
) -> bool:
    """Schedule the actions of the ``started`` items; False if that failed the task."""
    plan: running.ActionPlan | None = None
    attempt = int(task.runtime.attempt or 0)
    # As in Mistral, the inputs are evaluated first (an error there is
    # structural); then each action is resolved and scheduled, where an
    # error other than a parameter mismatch fails just the task. Only the
    # inputs are kept in between, so that the data of the items never all
    # exist at once.
    inputs = deque(
        (index, running.action_input(draft, task, _item_data(draft, task, found, index)))
        for index in started
    )
    try:
        while inputs:
            # Taken off once scheduled: the action execution keeps its own copy.
            index, given = inputs.popleft()
            if plan is None:
                plan = running.plan_action(draft, task, evaluation.task_data(draft, task))
            running.run_action(draft, task, plan, given, index=index, attempt=attempt)
    except errors.SiroccoError as error:
        if isinstance(error, errors.ActionInputError):
            raise
        fail_scheduling(draft, task, message_of(error))
        return False
    return True


def _item_data(
    draft: Draft, task: records.TaskExecution, found: Mapping[str, list[Any]], index: int
) -> evaluation.DataLayers:
    """The data of one item: the task's data with the item's variables."""
    item = {variable: values[index] for variable, values in found.items()}
    return evaluation.task_data(draft, task, items=item)


def fail_scheduling(draft: Draft, task: records.TaskExecution, message: str) -> None:
    """An item could not be scheduled (or its sub-workflow started): the task
    fails, and ``on-error`` may handle it."""
    task = draft.current(task)
    if task.state != State.RUNNING:
        return
    counters = task.runtime.with_items or records.EMPTY_COUNTERS
    task = _set_counters(draft, task, counters.but(finishing=True))
    task = draft.change_task(task, result=list(draft.lookup.item_results(task.id)), has_result=True)
    task_completion.complete(draft, task, State.ERROR, message)


def on_item_completed(draft: Draft, task: records.TaskExecution, state: State) -> None:
    """One item finished: count it, start the next ones, finish when all are done."""
    task = draft.current(task)
    counters = task.runtime.with_items
    if not counters:
        return
    key = {State.SUCCESS: "succeeded", State.ERROR: "failed"}.get(state, "cancelled")
    changes = {"running": max(counters.running - 1, 0), key: getattr(counters, key) + 1}
    counters = counters.but(**changes)
    task = _set_counters(draft, task, counters)
    if draft.is_terminal():
        if key == "cancelled" and not counters.running:
            # The workflow was cancelled and its items with it: Mistral still ends the
            # task CANCELLED ("One or more actions was cancelled.").
            finish(draft, task)
        return
    if counters.cancelled or (not counters.running and not counters.pending):
        _finish_later(draft, task)
        return
    if counters.pending and not counters.waking:
        name = str(draft.spec.tasks[task.name].action or draft.spec.tasks[task.name].workflow)
        tasks.guarded(draft, task, tasks.completion_failed(name), lambda: _start_more(draft, task))


def start_next(draft: Draft, task: records.TaskExecution) -> None:
    """The ``more`` timer: start the next items (the previous call stopped at the chunk)."""
    task = draft.current(task)
    counters = task.runtime.with_items
    if task.state != State.RUNNING or counters is None or not counters.waking:
        return
    counters = counters.but(waking=None)
    task = _set_counters(draft, task, counters)
    if counters.pending:
        name = str(draft.spec.tasks[task.name].action or draft.spec.tasks[task.name].workflow)
        tasks.guarded(draft, task, tasks.completion_failed(name), lambda: _start_more(draft, task))
    elif not counters.running:
        _finish_later(draft, task)


def _finish_later(draft: Draft, task: records.TaskExecution) -> None:
    counters = task.runtime.with_items or records.EMPTY_COUNTERS
    if counters.finishing:
        return
    task = _set_counters(draft, task, counters.but(finishing=True))
    policies.schedule_timer(draft, task, "continue", 0)


def finish(draft: Draft, task: records.TaskExecution) -> None:
    """Complete a with-items task whose items are all done (the ``continue`` timer).

    The results of action items are read ``GATHER_PER_STEP`` indexes at a
    time, one chunk per step, each step due at once (another ``continue``
    timer), so other executions' events are applied in between; the task
    completes in the step that reads the last chunk.
    """
    if task.state != State.RUNNING:
        draft.snapshot.gathered.pop(task.id, None)
        return
    results = _gather(draft, task)
    if results is None:
        return  # more to read, in the next step
    counters = task.runtime.with_items or records.EMPTY_COUNTERS
    if counters.cancelled:
        state = State.CANCELLED
    elif counters.failed:
        state = State.ERROR
    else:
        state = State.SUCCESS
    task = draft.change_task(draft.current(task), result=results, has_result=True)
    task_spec = draft.spec.tasks[task.name]
    name = str(task_spec.action or task_spec.workflow or "std.noop")
    tasks.guarded(
        draft,
        task,
        tasks.completion_failed(name),
        lambda: task_completion.complete(draft, task, state, _FINAL_INFO[state]),
    )


def _gather(draft: Draft, task: records.TaskExecution) -> list[Any] | None:
    """The next chunk of the item results; all of them in the step after the one that
    read the last chunk.

    The results read so far live in the snapshot (``Snapshot.gathered``),
    the index reached in the task's counters (``gathered``). A snapshot that
    lost them (a restart, another engine, a rolled-back batch) reads all the
    results in this step, so that the gather always ends. Sub-workflow items,
    and a task ended by a cancelled item while others still run, are read in
    one step.
    """
    counters = task.runtime.with_items or records.EMPTY_COUNTERS
    count = counters.count
    reached = counters.gathered
    attempt = int(task.runtime.attempt or 0)
    kept = draft.snapshot.gathered.pop(task.id, None)
    one_step = (
        bool(draft.spec.tasks[task.name].workflow)
        or counters.running > 0
        or count <= GATHER_PER_STEP
    )
    if reached and (kept is None or kept[0] != attempt or kept[1] != reached):
        one_step = True  # what was read before is not here
    if one_step:
        return list(draft.lookup.item_results(task.id))
    results, parts = (kept[2], kept[3]) if kept is not None and reached else ([], [])
    if reached >= count:
        return results  # read and joined by the step before
    stop = min(reached + GATHER_PER_STEP, count)
    part = draft.lookup.item_results_between(task.id, reached, stop)
    results.extend(part)
    parts.append(part)
    if stop >= count:
        # The store may write the result from the parts' texts: no encoding of it whole.
        # Joined here, written by the next step, which completes the task: of what grows
        # with the count, each of the two steps does a part (at 1M items, ~30 and ~55 ms
        # of CPU instead of ~85 in one step another execution could wait behind).
        draft.lookup.joined_results(results, parts)
        parts = []
    draft.snapshot.gathered[task.id] = (attempt, stop, results, parts)
    policies.schedule_timer(draft, task, "continue", 0, with_items=counters.but(gathered=stop))
    return None


def partial_rerun_queue(draft: Draft, task: records.TaskExecution) -> list[int]:
    """Rerun with ``reset: false``: the items to run again (failed, cancelled, never run)."""
    failed: set[int] = set()
    done: set[int] = set()
    for action in draft.task_actions(task.id):
        if not action.accepted:
            continue
        if action.state in (State.ERROR, State.CANCELLED):
            failed.add(action.index)
        elif states.is_completed(action.state):
            done.add(action.index)
    count = (task.runtime.with_items or records.EMPTY_COUNTERS).count
    never_started = {index for index in range(count) if index not in done and index not in failed}
    return sorted(failed | never_started)


def child_rerun(task: records.TaskExecution) -> records.TaskRuntime:
    """The task's runtime after a failed sub-workflow item of it was rerun."""
    counters = task.runtime.with_items
    if not counters:
        return task.runtime
    counters = counters.but(
        failed=max(counters.failed - 1, 0), running=counters.running + 1, finishing=False
    )
    return task.runtime.but(with_items=counters)


def _set_counters(
    draft: Draft, task: records.TaskExecution, counters: records.WithItemsCounters
) -> records.TaskExecution:
    task = draft.current(task)
    return draft.change_task(task, runtime=task.runtime.but(with_items=counters))
