"""What runs after a task: transitions (direct), satisfied requirements (reverse), dispatch.

``next_commands`` turns a completed task into workflow commands in Mistral's
order (``on-error``/``on-skip``/``on-success``, then ``on-complete``; guards
evaluated on the task's outbound context). ``dispatch`` runs them as
Mistral's dispatcher does: ``noop`` dropped, a leading ``fail``/``succeed``
alone, task commands before a state command kept, everything after a
``pause`` parked in the workflow's backlog and replayed on resume.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sirocco import errors
from sirocco.engine import completion, evaluation, joins, lifecycle, records, tasks
from sirocco.engine.states import State
from sirocco.engine.step import Step
from sirocco.lang import specs

BACKLOG_KEY = "backlog_commands"
_STATE_COMMANDS = frozenset({"fail", "succeed", "pause"})


@dataclass(frozen=True, slots=True, kw_only=True)
class Command:
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
    def from_dict(cls, data: Mapping[str, Any]) -> Command:
        return cls(
            name=str(data["name"]),
            event=data.get("event"),
            sources=tuple(data.get("sources") or ()),
            message=data.get("msg"),
            existing=data.get("existing"),
        )


def next_commands(step: Step, task: records.TaskExecution) -> list[Command]:
    """Commands that follow the completion of ``task``."""
    if step.spec.workflow_type == "reverse":
        return _reverse_next(step, task)
    return _direct_next(step, task)


def _direct_next(step: Step, task: records.TaskExecution) -> list[Command]:
    task_spec = step.spec.tasks[task.name]
    found: list[Command] = []
    data = evaluation.outbound_data(step, task)

    def take(clause: specs.OnClause | None, event: str) -> None:
        if clause is None:
            return
        for transition in clause.transitions:
            condition = transition.condition
            if condition and not evaluation.evaluate(step, condition, data, task):
                continue
            params = evaluation.evaluate(step, dict(transition.params), data, task)
            name = transition.name
            if name not in specs.ENGINE_COMMANDS and name not in step.spec.tasks:
                raise errors.DefinitionError(f"Task '{name}' not found.")
            found.append(
                Command(
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


def _reverse_next(step: Step, task: records.TaskExecution) -> list[Command]:
    if task.state not in (State.SUCCESS, State.ERROR, State.SKIPPED):
        return []
    wanted = step.snapshot.graph.requirements_of(str(step.workflow.params.get("task_name")))
    found: list[Command] = []
    for name in step.snapshot.graph.dependents().get(task.name, ()):
        if name in wanted:
            command = reverse_command_if_ready(step, name)
            if command is not None:
                found.append(command)
    return found


def _reverse_plan(step: Step) -> tuple[str, ...]:
    target = str(step.workflow.params.get("task_name"))
    return step.snapshot.graph.requirements_order(target)


def reverse_start_commands(step: Step) -> list[Command]:
    """Tasks of a reverse workflow whose requirements are met and that never ran."""
    found: list[Command] = []
    for name in _reverse_plan(step):
        command = reverse_command_if_ready(step, name)
        if command is not None:
            found.append(command)
    return found


def reverse_command_if_ready(step: Step, name: str) -> Command | None:
    if step.tasks.latest_of(name) is not None:
        return None
    sources: list[str] = []
    for requirement in step.spec.tasks[name].requires:
        done = step.tasks.latest_of(requirement)
        if done is None or done.state != State.SUCCESS:
            return None
        sources.append(done.id)
    return Command(name=name, sources=tuple(sources))


def dispatch(step: Step, commands: Sequence[Command]) -> None:
    """Run commands (the backlog first), as Mistral's dispatcher does."""
    backlog = step.workflow.runtime.get(BACKLOG_KEY)
    if backlog:
        runtime = dict(step.workflow.runtime)
        del runtime[BACKLOG_KEY]
        step.change_workflow(runtime=runtime)
        _process(step, [Command.from_dict(item) for item in backlog])
    _process(step, commands)


def _process(step: Step, commands: Sequence[Command]) -> None:
    for command in _rearrange(step, commands):
        if step.is_terminal():
            break
        if step.is_paused():
            _save_to_backlog(step, command)
            continue
        if command.name == "fail":
            completion.stop_workflow(step, State.ERROR, _text(command.message))
        elif command.name == "succeed":
            completion.stop_workflow(step, State.SUCCESS, _text(command.message))
        elif command.name == "pause":
            lifecycle.pause_workflow(step, _text(command.message))
        else:
            run_task_command(step, command)


def _rearrange(step: Step, commands: Iterable[Command]) -> list[Command]:
    kept = [command for command in commands if command.name != "noop"]
    position = next(
        (number for number, command in enumerate(kept) if command.name in _STATE_COMMANDS), -1
    )
    if position < 0:
        return _tasks_first(step, kept)
    state_command = kept[position]
    if position == 0 and state_command.name != "pause":
        return [state_command]
    arranged = _tasks_first(step, kept[:position])
    arranged.append(state_command)
    if state_command.name == "pause":
        arranged.extend(kept[position + 1 :])
    return arranged


def _tasks_first(step: Step, commands: list[Command]) -> list[Command]:
    # Mistral sorts commands for join tasks after the others (by unique key).
    def key(command: Command) -> tuple[int, str]:
        task_spec = step.spec.tasks.get(command.name)
        if task_spec is not None and task_spec.is_join:
            return (1, command.name)
        return (0, "")

    return sorted(commands, key=key)


def _save_to_backlog(step: Step, command: Command) -> None:
    runtime = dict(step.workflow.runtime)
    backlog = list(runtime.get(BACKLOG_KEY) or [])
    backlog.append(command.to_dict())
    runtime[BACKLOG_KEY] = backlog
    step.change_workflow(runtime=runtime)


def run_task_command(step: Step, command: Command) -> None:
    """Create (or, for a join, find) the task execution a command asks for."""
    if command.existing is not None:
        step.enqueue("run_existing", command.existing)
        return
    task_spec = step.spec.tasks[command.name]
    if task_spec.is_join:
        joins.trigger(step, task_spec, command.sources)
        return
    task = tasks.create_task(
        step,
        task_spec,
        triggered_by=command.sources,
        events=(command.event,) * len(command.sources),
    )
    step.enqueue("start", task.id)


def refresh_joins(step: Step, task: records.TaskExecution) -> None:
    """Re-check the waiting joins that the completion of ``task`` may affect."""
    for name in step.snapshot.graph.affected_joins(task.name):
        waiting = step.tasks.waiting_joins.get(name)
        if waiting is not None:
            step.enqueue("join", waiting)


def _text(message: Any) -> str | None:
    # Mistral stores a dict state_info as JSON text.
    if message is None:
        return None
    if isinstance(message, dict):
        return json.dumps(message)
    return str(message)
