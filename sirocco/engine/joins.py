"""Join tasks: one WAITING execution per join, run when enough inbound tasks triggered it.

An inbound task "induces" a state on the join: RUNNING if its latest
execution completed and triggered the join, ERROR if it completed without
triggering it (or can no longer be reached: "impossible route"), WAITING
otherwise. ``join: all`` runs when every inbound task induces RUNNING and
fails as soon as one induces ERROR; ``join: N`` runs when N do and fails
when more than (inbound - N) cannot. As in Mistral 23 (checked on the
oracle), a join has one execution per workflow execution: a later trigger
puts a completed join back to WAITING and it runs again in the same
execution (a discriminator whose inbound tasks finish one after another
runs its action once per inbound task; a join in a cycle accumulates).
"""

from __future__ import annotations

from sirocco import references
from sirocco.engine import records, states, tasks
from sirocco.engine.draft import Draft
from sirocco.engine.states import State
from sirocco.lang import specs

WAITING_INFO = "Task is waiting."


def trigger(draft: Draft, task_spec: specs.TaskSpec, sources: tuple[str, ...]) -> None:
    """An inbound task chose the join: create its WAITING execution or check it again.

    Like Mistral (one execution per join and workflow, unique key
    ``join-task-<workflow>-<name>``), a join that already completed is put
    back to WAITING and may run again in the same execution; its earlier
    successful results stay accepted, so its result becomes their list.
    """
    latest = draft.tasks.latest_of(task_spec.name)
    if latest is None:
        task = tasks.create_task(draft, task_spec, state=State.WAITING, state_info=WAITING_INFO)
        draft.enqueue("join", task.id)
        return
    if latest.state == State.WAITING:
        draft.enqueue("join", latest.id)
        return
    if not states.is_completed(latest.state):
        return  # running now: Mistral would start its action a second time
    runtime = latest.runtime
    earlier = list(runtime.join_results or ())
    if latest.state == State.SUCCESS and latest.has_result:
        # The result already lists the earlier runs: add only the last one.
        result = references.resolve(latest.result)
        own = result[-1] if earlier and isinstance(result, list) else latest.result
        earlier.append(own)
    if earlier:
        runtime = runtime.but(join_results=earlier)
    task = draft.change_task(
        latest,
        state=State.WAITING,
        state_info=WAITING_INFO,
        processed=False,
        finished_at=None,
        runtime=runtime,
    )
    draft.enqueue("join", task.id)


def logical_state(
    draft: Draft, task_spec: specs.TaskSpec
) -> tuple[State, str | None, list[tuple[records.TaskExecution, str | None]]]:
    """The state the join should have now, its state_info and its triggering executions.

    The counts of the task index (``TaskIndex.join_inbound``) answer most checks without
    looking at the inbound tasks one by one: a join whose inbound tasks complete one step
    at a time costs what they are, not their square. The inbound tasks are walked only
    when the join runs or fails now, or when some have not started yet and enough of those
    might never run to fail it (whether each still may is found walking back).
    """
    inbound_names = draft.spec.inbound.get(task_spec.name, ())
    if not inbound_names:
        return State.RUNNING, None, []
    total = len(inbound_names)
    join = task_spec.join
    needed = total if join == "all" else 1 if str(join) == "one" else int(join or 1)
    counted = draft.tasks.join_inbound(task_spec.name)
    unstarted = total - counted.started
    if counted.triggered < needed and counted.refused + unstarted <= total - needed:
        return State.WAITING, None, []  # it can neither run nor fail yet
    induced = _induced(draft, task_spec.name, inbound_names)
    running = [
        (name, inbound, event) for name, inbound, state, event in induced if state == State.RUNNING
    ]
    failed = [(name, inbound) for name, inbound, state, _ in induced if state == State.ERROR]
    if len(running) >= needed:
        return (
            State.RUNNING,
            None,
            [(inbound, event) for _, inbound, event in running if inbound is not None],
        )
    if len(failed) > total - needed:
        failed_by = f"Failed by tasks: {[name for name, _ in failed]!r}"
        if join == "all":
            return (
                State.ERROR,
                failed_by,
                [(inbound, None) for _, inbound in failed if inbound is not None],
            )
        return State.ERROR, failed_by, []
    return State.WAITING, None, []


def _induced(
    draft: Draft, join_name: str, inbound_names: tuple[str, ...]
) -> list[tuple[str, records.TaskExecution | None, State, str | None]]:
    """For each inbound task: the state it induces on the join, and its triggering event."""
    induced: list[tuple[str, records.TaskExecution | None, State, str | None]] = []
    for name in inbound_names:
        inbound = draft.tasks.latest_of(name)
        if inbound is None:
            possible = _possible_route(draft, name)
            induced.append((name, None, State.WAITING if possible else State.ERROR, None))
        elif not states.is_completed(inbound.state):
            induced.append((name, inbound, State.WAITING, None))
        else:
            chosen = dict(inbound.next_tasks)
            if join_name in chosen:
                induced.append((name, inbound, State.RUNNING, chosen[join_name] or None))
            else:
                induced.append((name, inbound, State.ERROR, None))
    return induced


def _possible_route(draft: Draft, name: str) -> bool:
    """Whether a task that has not run yet may still run (walking back its inbound tasks)."""
    pending = [name]
    visited = {name}
    while pending:
        current = pending.pop()
        inbound_names = draft.spec.inbound.get(current, ())
        if not inbound_names:
            return True
        for inbound_name in inbound_names:
            inbound = draft.tasks.latest_of(inbound_name)
            if inbound is None:
                if inbound_name not in visited:
                    visited.add(inbound_name)
                    pending.append(inbound_name)
                continue
            if not states.is_completed(inbound.state):
                return True
            if current in dict(inbound.next_tasks):
                return True
    return False
