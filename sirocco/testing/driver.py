"""The driver: runs a workflow through the engine core with no database, transport or sleep.

``run_until_idle`` starts a workflow and applies each decision to an
in-memory ``Run``: it runs actions (scripted, by a handler, or with the
standard actions' semantics), starts sub-workflows, and fires timers by
moving a ``FakeClock``. The ``Driver`` it leaves on ``run.driver`` sends more
events (pause, resume, a held action's result) and lets time pass.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sirocco import errors
from sirocco.engine import (
    Decision,
    Snapshot,
    commands,
    decide,
    events,
    ports,
    start_workflow,
)
from sirocco.engine.states import State
from sirocco.lang import specs
from sirocco.testing.clock import FakeClock
from sirocco.testing.results import Cancel, Fail, Hold, standard_result
from sirocco.testing.world import FakeLookup, Run

__all__ = ["ActionHandler", "Driver", "run_until_idle"]


ActionHandler = Callable[[str, Mapping[str, Any], str], Any]


class Driver:
    """Applies decisions, runs actions and timers until nothing is left to do."""

    def __init__(
        self,
        *,
        workflows: Mapping[str, specs.WorkflowSpec],
        lookup_factory: Callable[[Run], ports.Lookup],
        clock: FakeClock,
        script: Mapping[str, Sequence[Any]] | None,
        handler: ActionHandler | None,
        batch: bool,
    ) -> None:
        self.run = Run(driver=self)
        self.workflows = workflows
        self.lookup = lookup_factory(self.run)
        self.clock = clock
        self.script = {name: list(results) for name, results in (script or {}).items()}
        self.handler = handler
        self.batch = batch
        self.counter = itertools.count(1)
        self.pending: list[events.Event] = []
        self.timers: list[tuple[datetime, int, events.Event]] = []

    def new_id(self) -> str:
        """Ids shaped like Mistral's UUIDs, in creation order (``...-000000000001``)."""
        return f"00000000-0000-4000-8000-{next(self.counter):012x}"

    def apply(self, decision: Decision) -> None:
        """Commit a decision to the world, update the snapshots, dispatch its commands."""
        run = self.run
        run.store(decision)
        touched = {workflow.id for workflow in decision.workflows}
        touched.update(task.workflow_execution_id for task in decision.tasks)
        for workflow_id in touched:
            snapshot = run.snapshots.get(workflow_id)
            if snapshot is None:
                run.snapshots[workflow_id] = Snapshot(
                    run.workflows[workflow_id],
                    run.tasks_of(workflow_id),
                    [action for action in decision.actions if action.state == State.RUNNING],
                    self.lookup,
                )
            else:
                snapshot.apply(decision)
        self._dispatch(decision.commands)

    def _dispatch(self, found: Sequence[commands.Command]) -> None:
        for command in found:
            self.run.commands.append(command)
            if isinstance(command, commands.RunAction):
                self._run_action(command)
            elif isinstance(command, commands.StartSubworkflow):
                self._start_child(command)
            elif isinstance(command, commands.ScheduleTimer):
                heapq.heappush(self.timers, (command.due, next(self.counter), command.event))
            elif isinstance(command, commands.NotifyParent | commands.SendEvent):
                self.pending.append(command.event)

    def _run_action(self, command: commands.RunAction) -> None:
        action = self.run.actions[command.action_execution_id]
        task = self.run.tasks.get(command.task_execution_id or "")
        scripted = self.script.get(task.name) if task is not None else None
        delay = 0.0
        if scripted:
            outcome = scripted.pop(0)
        elif self.handler is not None:
            outcome = self.handler(command.action_name, command.input, action.id)
        else:
            outcome = standard_result(command.action_name, command.input, action.id)
            if command.action_name == "std.sleep":
                delay = float(command.input.get("seconds") or 0)
        if isinstance(outcome, Hold):
            return
        workflow_id = str(command.workflow_execution_id)
        if isinstance(outcome, Fail):
            event = events.ActionCompleted(
                workflow_execution_id=workflow_id,
                action_execution_id=action.id,
                state=State.ERROR,
                result=outcome.error,
                message=str(outcome.error),
            )
        elif isinstance(outcome, Cancel):
            event = events.ActionCompleted(
                workflow_execution_id=workflow_id,
                action_execution_id=action.id,
                state=State.CANCELLED,
                message=outcome.message,
            )
        else:
            event = events.ActionCompleted(
                workflow_execution_id=workflow_id,
                action_execution_id=action.id,
                state=State.SUCCESS,
                result=outcome,
            )
        if delay > 0:
            # std.sleep: the result comes back when the fake clock gets there.
            due = self.clock.now + timedelta(seconds=delay)
            heapq.heappush(self.timers, (due, next(self.counter), event))
            return
        self.pending.append(event)

    def _start_child(self, command: commands.StartSubworkflow) -> None:
        name = command.workflow_name
        spec = None
        if command.workbook:
            spec = self.workflows.get(f"{command.workbook}.{name}")
        spec = spec or self.workflows.get(name)
        if spec is None:
            self.pending.append(
                events.SubworkflowCompleted(
                    workflow_execution_id=command.workflow_execution_id,
                    task_execution_id=command.task_execution_id,
                    subworkflow_execution_id=command.subworkflow_execution_id,
                    state=State.ERROR,
                    message=(
                        f"Failed to find workflow [name={name}] [namespace={command.namespace}]"
                    ),
                    index=command.index,
                    start_failed=True,
                )
            )
            return
        try:
            decision = start_workflow(
                spec=spec,
                execution_id=command.subworkflow_execution_id,
                input=command.input,
                params=command.params,
                now=self.clock.now,
                new_id=self.new_id,
                lookup=self.lookup,
                description="sub-workflow execution",
                namespace=command.namespace,
                task_execution_id=command.task_execution_id,
                root_execution_id=command.root_execution_id,
                parent_execution_id=command.workflow_execution_id,
            )
        except errors.InputError as error:
            self.pending.append(
                events.SubworkflowCompleted(
                    workflow_execution_id=command.workflow_execution_id,
                    task_execution_id=command.task_execution_id,
                    subworkflow_execution_id=command.subworkflow_execution_id,
                    state=State.ERROR,
                    message=error.message,
                    index=command.index,
                    start_failed=True,
                )
            )
            return
        self.apply(decision)

    def deliver(self, batch: Sequence[events.Event]) -> None:
        groups: dict[str, list[events.Event]] = {}
        for event in batch:
            groups.setdefault(event.workflow_execution_id, []).append(event)
        for workflow_id, grouped in groups.items():
            snapshot = self.run.snapshots.get(workflow_id)
            if snapshot is None:
                self.run.problems.append(f"Event for unknown workflow execution {workflow_id}.")
                continue
            found = [
                self.run.actions[event.action_execution_id]
                for event in grouped
                if isinstance(event, events.ActionCompleted)
                and event.action_execution_id in self.run.actions
            ]
            snapshot.add_actions(found)
            decision = decide(snapshot, grouped, now=self.clock.now, new_id=self.new_id)
            self.apply(decision)

    def send(self, *sent: events.Event, max_rounds: int = 1_000_000) -> Run:
        """Deliver events (API calls: pause, resume, rerun...) and run until idle."""
        self.pending.extend(sent)
        self.loop(max_rounds)
        return self.run

    def complete_action(
        self, action_id: str, result: Any = None, *, state: State = State.SUCCESS
    ) -> Run:
        """Complete a held (async) action and run until idle."""
        action = self.run.actions[action_id]
        return self.send(
            events.ActionCompleted(
                workflow_execution_id=str(action.workflow_execution_id),
                action_execution_id=action_id,
                state=state,
                result=result,
                message=None if state == State.SUCCESS else str(result),
            )
        )

    def advance(self, seconds: float, max_rounds: int = 1_000_000) -> None:
        """Let ``seconds`` pass: deliver what is pending and the timers due meanwhile."""
        target = self.clock.now + timedelta(seconds=seconds)
        rounds = 0
        while rounds < max_rounds:
            rounds += 1
            if self.pending:
                batch, self.pending = self.pending, []
                self.deliver(batch)
                continue
            if self.timers and self.timers[0][0] <= target:
                due, _, timer = heapq.heappop(self.timers)
                self.clock.move_to(due)
                self.deliver([timer])
                continue
            break
        self.clock.move_to(target)

    def loop(
        self, max_rounds: int = 1_000_000, *, until: Callable[[Run], bool] | None = None
    ) -> None:
        """Deliver events, then due timers (moving the clock), until idle or ``until`` holds."""
        rounds = 0
        while rounds < max_rounds:
            rounds += 1
            if until is not None and until(self.run):
                return
            if self.pending:
                batch, self.pending = self.pending, []
                if self.batch:
                    self.deliver(batch)
                else:
                    for event in batch:
                        self.deliver([event])
                continue
            if self.timers:
                due, _, timer = heapq.heappop(self.timers)
                self.clock.move_to(due)
                self.deliver([timer])
                continue
            return
        raise RuntimeError(f"run_until_idle: still busy after {max_rounds} rounds")


def run_until_idle(
    spec: specs.WorkflowSpec,
    *,
    input: Mapping[str, Any] | None = None,
    params: Mapping[str, Any] | None = None,
    env: Mapping[str, Any] | None = None,
    workflows: Iterable[specs.WorkflowSpec] = (),
    adhoc_actions: Iterable[specs.ActionSpec] = (),
    actions: Mapping[str, ports.ActionSignature] | None = None,
    script: Mapping[str, Sequence[Any]] | None = None,
    handler: ActionHandler | None = None,
    clock: FakeClock | None = None,
    batch: bool = True,
    max_rounds: int = 1_000_000,
    until: Callable[[Run], bool] | None = None,
) -> Run:
    """Start ``spec`` and run it until nothing is running, due or pending.

    Args:
        spec: the workflow to start.
        input: its input.
        params: start parameters (``env`` may also be given on its own).
        env: the environment.
        workflows: other workflows (sub-workflows), by their full names.
        adhoc_actions: ad-hoc actions the lookup knows.
        actions: extra or replacing system action signatures.
        script: per task name, results returned by its actions in turn (a
            value, ``Fail(error)``, ``Cancel()`` or ``Hold()``); when a task's
            list is used up, the standard semantics apply again.
        handler: computes results for actions without a script:
            ``handler(action_name, input, action_execution_id)``.
        clock: the clock (timers move it forward).
        batch: deliver the pending events of a workflow in one ``decide`` call.
        max_rounds: a guard against runs that never settle.
        until: stop early once this holds (checked between rounds).

    Returns:
        The run: its records, commands and problems; ``run.driver`` sends more
        events (``run.driver.send(event)``) and runs on.
    """
    clock = clock or FakeClock()
    known = {workflow.name: workflow for workflow in workflows}
    known.setdefault(spec.name, spec)
    driver = Driver(
        workflows=known,
        lookup_factory=lambda run: FakeLookup(run, actions=actions, adhoc_actions=adhoc_actions),
        clock=clock,
        script=script,
        handler=handler,
        batch=batch,
    )
    start_params = dict(params or {})
    if env is not None:
        start_params["env"] = dict(env)
    execution_id = driver.new_id()
    driver.run.root_id = execution_id
    decision = start_workflow(
        spec=spec,
        execution_id=execution_id,
        input=dict(input or {}),
        params=start_params,
        now=clock.now,
        new_id=driver.new_id,
        lookup=driver.lookup,
    )
    driver.apply(decision)
    driver.loop(max_rounds, until=until)
    return driver.run
