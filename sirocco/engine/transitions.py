"""What runs after a task: transitions (direct), satisfied requirements (reverse).

``next_commands`` turns a completed task into workflow commands in Mistral's
order (``on-error``/``on-skip``/``on-success``, then ``on-complete``; guards
evaluated on the task's outbound context). ``run_commands`` runs them as
Mistral's workflow-command dispatcher does: ``noop`` dropped, a leading
``fail``/``succeed`` alone, task commands before a state command kept,
everything after a ``pause`` parked in the workflow's backlog and replayed
on resume.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sirocco import errors
from sirocco.engine import evaluation, joins, records, tasks, workflow_state
from sirocco.engine.draft import Draft
from sirocco.engine.states import State
from sirocco.lang import specs

BACKLOG_KEY = "backlog_commands"
_STATE_COMMANDS = frozenset({"fail", "succeed", "pause"})


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkflowCommand:
    """A workflow command: run a task, or an engine command (fail/succeed/pause/noop).

    ``sources`` are the task executions whose completion produced it (the
    new task's ``triggered_by``); ``event`` is the clause (``on-success``...).
    """

    name: str
    event: str | None = None
    sources: tuple[str, ...] = ()
    message: Any = None
    handles_error: bool = False
    params: Mapping[str, Any] = field(default_factory=dict)
    #: Set to run an existing (IDLE) task execution instead of a new one.
    existing: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "event": self.event,
            "sources": list(self.sources),
            "msg": self.message,
            "existing": self.existing,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WorkflowCommand:
        return cls(
            name=str(data["name"]),
            event=data.get("event"),
            sources=tuple(data.get("sources") or ()),
            message=data.get("msg"),
            existing=data.get("existing"),
        )


def next_commands(draft: Draft, task: records.TaskExecution) -> list[WorkflowCommand]:
    """Commands that follow the completion of ``task``."""
    if draft.spec.workflow_type == "reverse":
        return _reverse_next(draft, task)
    return _direct_next(draft, task)


def _direct_next(draft: Draft, task: records.TaskExecution) -> list[WorkflowCommand]:
    task_spec = draft.spec.tasks[task.name]
    found: list[WorkflowCommand] = []
    data: Any = None

    def outbound() -> Any:
        # Made for the first condition or parameters (most transitions have neither).
        nonlocal data
        if data is None:
            data = evaluation.outbound_data(draft, task)
        return data

    def take(clause: specs.OnClause | None, event: str) -> None:
        if clause is None:
            return
        for transition in clause.transitions:
            condition = transition.condition
            if condition and not evaluation.evaluate(draft, condition, outbound(), task):
                continue
            given = transition.params
            params = evaluation.evaluate(draft, dict(given), outbound(), task) if given else {}
            name = transition.name
            if name not in specs.ENGINE_COMMANDS and name not in draft.spec.tasks:
                raise errors.DefinitionError(f"Task '{name}' not found.")
            found.append(
                WorkflowCommand(
                    name=name,
                    event=event,
                    sources=(task.id,),
                    message=params.get("msg") if isinstance(params, dict) else None,
                    handles_error=event == "on-error",
                    params=params if isinstance(params, dict) else {},
                )
            )

    state = task.state
    if state == State.ERROR:
        take(task_spec.on_error, "on-error")
    skip_is_empty = False
    if state == State.SKIPPED:
        take(task_spec.on_skip, "on-skip")
        skip_is_empty = not found
    if state == State.SUCCESS or skip_is_empty:
        take(task_spec.on_success, "on-success")
    if state in (State.SUCCESS, State.ERROR):
        take(task_spec.on_complete, "on-complete")
    return found


def _reverse_next(draft: Draft, task: records.TaskExecution) -> list[WorkflowCommand]:
    if task.state not in (State.SUCCESS, State.ERROR, State.SKIPPED):
        return []
    wanted = draft.snapshot.graph.requirements_of(str(draft.workflow.params.get("task_name")))
    found: list[WorkflowCommand] = []
    for name in draft.snapshot.graph.dependents().get(task.name, ()):
        if name in wanted:
            command = reverse_command_if_ready(draft, name)
            if command is not None:
                found.append(command)
    return found


def _reverse_plan(draft: Draft) -> tuple[str, ...]:
    target = str(draft.workflow.params.get("task_name"))
    return draft.snapshot.graph.requirements_order(target)


def reverse_start_commands(draft: Draft) -> list[WorkflowCommand]:
    """Tasks of a reverse workflow whose requirements are met and that never ran."""
    found: list[WorkflowCommand] = []
    for name in _reverse_plan(draft):
        command = reverse_command_if_ready(draft, name)
        if command is not None:
            found.append(command)
    return found


def reverse_command_if_ready(draft: Draft, name: str) -> WorkflowCommand | None:
    if draft.tasks.latest_of(name) is not None:
        return None
    sources: list[str] = []
    for requirement in draft.spec.tasks[name].requires:
        done = draft.tasks.latest_of(requirement)
        if done is None or done.state != State.SUCCESS:
            return None
        sources.append(done.id)
    return WorkflowCommand(name=name, sources=tuple(sources))


def run_commands(draft: Draft, commands: Sequence[WorkflowCommand]) -> None:
    """Run commands (the backlog first), as Mistral's dispatcher does."""
    backlog = draft.workflow.runtime.get(BACKLOG_KEY)
    if backlog:
        runtime = dict(draft.workflow.runtime)
        del runtime[BACKLOG_KEY]
        draft.change_workflow(runtime=runtime)
        _process(draft, [WorkflowCommand.from_dict(item) for item in backlog])
    _process(draft, commands)


def _process(draft: Draft, commands: Sequence[WorkflowCommand]) -> None:
    for command in _rearrange(draft, commands):
        if draft.is_terminal():
            break
        if draft.is_paused():
            _save_to_backlog(draft, command)
            continue
        if command.name == "fail":
            workflow_state.stop_workflow(draft, State.ERROR, _text(command.message))
        elif command.name == "succeed":
            workflow_state.stop_workflow(draft, State.SUCCESS, _text(command.message))
        elif command.name == "pause":
            workflow_state.pause_workflow(draft, _text(command.message))
        else:
            run_task_command(draft, command)


def _rearrange(draft: Draft, commands: Iterable[WorkflowCommand]) -> list[WorkflowCommand]:
    kept = [command for command in commands if command.name != "noop"]
    position = next(
        (number for number, command in enumerate(kept) if command.name in _STATE_COMMANDS), -1
    )
    if position < 0:
        return _tasks_first(draft, kept)
    state_command = kept[position]
    if position == 0 and state_command.name != "pause":
        return [state_command]
    arranged = _tasks_first(draft, kept[:position])
    arranged.append(state_command)
    if state_command.name == "pause":
        arranged.extend(kept[position + 1 :])
    return arranged


def _tasks_first(draft: Draft, commands: list[WorkflowCommand]) -> list[WorkflowCommand]:
    # Mistral sorts commands for join tasks after the others (by unique key).
    def key(command: WorkflowCommand) -> tuple[int, str]:
        task_spec = draft.spec.tasks.get(command.name)
        if task_spec is not None and task_spec.is_join:
            return (1, command.name)
        return (0, "")

    return sorted(commands, key=key)


def _save_to_backlog(draft: Draft, command: WorkflowCommand) -> None:
    runtime = dict(draft.workflow.runtime)
    backlog = list(runtime.get(BACKLOG_KEY) or [])
    backlog.append(command.to_dict())
    runtime[BACKLOG_KEY] = backlog
    draft.change_workflow(runtime=runtime)


def run_task_command(draft: Draft, command: WorkflowCommand) -> None:
    """Create (or, for a join, find) the task execution a command asks for."""
    if command.existing is not None:
        draft.enqueue("run_existing", command.existing)
        return
    task_spec = draft.spec.tasks[command.name]
    if task_spec.is_join:
        joins.trigger(draft, task_spec, command.sources)
        return
    task = tasks.create_task(
        draft,
        task_spec,
        triggered_by=command.sources,
        events=(command.event,) * len(command.sources),
    )
    draft.enqueue("start", task.id)


def refresh_joins(draft: Draft, task: records.TaskExecution) -> None:
    """Re-check the waiting joins that the completion of ``task`` may affect."""
    for name in draft.snapshot.graph.affected_joins(task.name):
        waiting = draft.tasks.waiting_joins.get(name)
        if waiting is not None:
            draft.enqueue("join", waiting)


def _text(message: Any) -> str | None:
    # Mistral stores a dict state_info as JSON text.
    if message is None:
        return None
    if isinstance(message, dict):
        return json.dumps(message)
    return str(message)
