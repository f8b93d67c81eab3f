"""The in-memory runtime: every record a test run made, and a ``Lookup`` over them.

``Run`` keeps the workflow, task and action executions that the engine's
decisions created or changed, the commands it gave and the problems it
reported; a test reads its results from it. ``FakeLookup`` answers the
engine's questions (action signatures, ad-hoc actions, item results, task and
workflow executions) from a ``Run`` instead of a database.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sirocco.engine import Decision, Snapshot, commands, ports, records
from sirocco.engine.states import State
from sirocco.lang import specs
from sirocco.testing.results import STANDARD_ACTIONS

if TYPE_CHECKING:
    from sirocco.testing.driver import Driver

__all__ = ["FakeLookup", "Run"]


class FakeLookup:
    """An in-memory ``Lookup`` over a ``Run``'s records."""

    def __init__(
        self,
        run: Run,
        *,
        actions: Mapping[str, ports.ActionSignature] | None = None,
        adhoc_actions: Iterable[specs.ActionSpec] = (),
    ) -> None:
        self._run = run
        self.signatures: dict[str, ports.ActionSignature] = dict(STANDARD_ACTIONS)
        self.signatures.update(actions or {})
        self.adhoc: dict[str, specs.ActionSpec] = {spec.name: spec for spec in adhoc_actions}

    def action_signature(self, name: str, *, namespace: str = "") -> ports.ActionSignature | None:
        return self.signatures.get(name)

    def adhoc_action(
        self, name: str, *, namespace: str, workbook: str | None
    ) -> specs.ActionSpec | None:
        if workbook and f"{workbook}.{name}" in self.adhoc:
            return self.adhoc[f"{workbook}.{name}"]
        return self.adhoc.get(name)

    def item_results(self, task_execution_id: str) -> Sequence[Any]:
        run = self._run
        task = run.tasks.get(task_execution_id)
        if task is None:
            return []
        if task.type == "WORKFLOW":
            children = [run.workflows[child] for child in run.children.get(task.id, ())]
            latest: dict[int, records.WorkflowExecution] = {}
            for child in children:
                latest[int(child.params.get("index") or 0)] = child
            return [latest[index].output for index in sorted(latest)]
        found = [
            run.actions[action_id]
            for action_id in run.actions_by_task.get(task_execution_id, ())
            if run.actions[action_id].accepted
        ]
        found.sort(key=lambda action: action.index)
        return [action.output for action in found]

    def item_results_between(self, task_execution_id: str, start: int, stop: int) -> Sequence[Any]:
        run = self._run
        latest: dict[int, Any] = {}
        for action_id in run.actions_by_task.get(task_execution_id, ()):
            action = run.actions[action_id]
            if action.accepted and start <= action.index < stop:
                latest[action.index] = action.output
        return [latest[index] for index in sorted(latest)]

    def joined_results(self, whole: list[Any], parts: Sequence[Sequence[Any]]) -> None:
        return None  # nothing is encoded in memory

    def task_action_executions(self, task_execution_id: str) -> Sequence[records.ActionExecution]:
        run = self._run
        return [
            run.actions[action_id] for action_id in run.actions_by_task.get(task_execution_id, ())
        ]

    def task_executions(self, workflow_execution_id: str) -> Sequence[Mapping[str, Any]]:
        return [
            {
                "id": task.id,
                "name": task.name,
                "state": str(task.state),
                "state_info": task.state_info,
                "result": task.result,
                "published": dict(task.published),
                "type": task.type,
                "workflow_execution_id": task.workflow_execution_id,
            }
            for task in self._run.tasks_of(workflow_execution_id)
        ]

    def executions(
        self,
        *,
        id: str | None,
        root_execution_id: str | None,
        state: str | None,
        from_time: str | None,
        to_time: str | None,
    ) -> Sequence[Mapping[str, Any]]:
        found = []
        for workflow in self._run.workflows.values():
            if id is not None and workflow.id != id:
                continue
            if root_execution_id is not None and workflow.root_execution_id != root_execution_id:
                continue
            if state is not None and workflow.state != state:
                continue
            found.append(
                {
                    "id": workflow.id,
                    "name": workflow.workflow_name,
                    "state": str(workflow.state),
                    "input": dict(workflow.input),
                    "output": workflow.output,
                    "params": dict(workflow.params),
                    "root_execution_id": workflow.root_execution_id,
                    "task_execution_id": workflow.task_execution_id,
                }
            )
        return found


@dataclass
class Run:
    """The in-memory world ``run_until_idle`` drives: every record and command."""

    workflows: dict[str, records.WorkflowExecution] = field(default_factory=dict)
    tasks: dict[str, records.TaskExecution] = field(default_factory=dict)
    actions: dict[str, records.ActionExecution] = field(default_factory=dict)
    tasks_by_workflow: dict[str, list[str]] = field(default_factory=dict)
    actions_by_task: dict[str, list[str]] = field(default_factory=dict)
    children: dict[str, list[str]] = field(default_factory=dict)
    snapshots: dict[str, Snapshot] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    commands: list[commands.Command] = field(default_factory=list)
    root_id: str = ""
    decisions: int = 0
    driver: Driver | None = None

    # Reading results.

    @property
    def workflow(self) -> records.WorkflowExecution:
        """The workflow execution the run started."""
        return self.workflows[self.root_id]

    def tasks_of(self, workflow_execution_id: str | None = None) -> list[records.TaskExecution]:
        found = [
            self.tasks[task_id]
            for task_id in self.tasks_by_workflow.get(workflow_execution_id or self.root_id, ())
        ]
        return sorted(found, key=lambda task: task.seq)

    def task_names(self, workflow_execution_id: str | None = None) -> list[str]:
        return [task.name for task in self.tasks_of(workflow_execution_id)]

    def task(self, name: str, workflow_execution_id: str | None = None) -> records.TaskExecution:
        """The latest execution of the named task."""
        found = [task for task in self.tasks_of(workflow_execution_id) if task.name == name]
        if not found:
            raise KeyError(name)
        return found[-1]

    def actions_of(self, task: records.TaskExecution) -> list[records.ActionExecution]:
        return [self.actions[action_id] for action_id in self.actions_by_task.get(task.id, ())]

    def children_of(self, task: records.TaskExecution) -> list[records.WorkflowExecution]:
        return [self.workflows[child] for child in self.children.get(task.id, ())]

    def running_actions(self) -> list[records.ActionExecution]:
        return [action for action in self.actions.values() if action.state == State.RUNNING]

    # Writing.

    def store(self, decision: Decision) -> None:
        self.decisions += 1
        self.problems.extend(decision.problems)
        for workflow in decision.workflows:
            self.workflows[workflow.id] = workflow
            self.tasks_by_workflow.setdefault(workflow.id, [])
            if workflow.task_execution_id:
                siblings = self.children.setdefault(workflow.task_execution_id, [])
                if workflow.id not in siblings:
                    siblings.append(workflow.id)
        for task in decision.tasks:
            if task.id not in self.tasks:
                self.tasks_by_workflow.setdefault(task.workflow_execution_id, []).append(task.id)
            self.tasks[task.id] = task
        for action in decision.actions:
            if action.id not in self.actions and action.task_execution_id:
                self.actions_by_task.setdefault(action.task_execution_id, []).append(action.id)
            self.actions[action.id] = action
