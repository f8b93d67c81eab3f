"""The Draft: the decision in the making, the working state of one ``decide`` (or
``start_workflow``) call.

It reads through the snapshot and keeps its own changes on top (an overlay),
so the snapshot changes only when the runtime applies the committed
decision. Every record change goes through ``put_*``; every command through
``emit``; ``decision()`` turns it into the Decision. Task starts and join
checks are queued and run one after another (``core.start_queued``) instead
of recursing, so a long chain of tasks that finish at once never deepens the
stack. (A "step", in the runtime, is the transaction that applies a batch of
events: it may call ``decide`` several times, each with a new Draft.)
"""

from __future__ import annotations

import traceback
from collections import deque
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Literal

from sirocco import errors, expressions
from sirocco.engine import commands, dataflow, index, records, states
from sirocco.engine.decision import Decision
from sirocco.engine.snapshot import Snapshot
from sirocco.engine.states import State
from sirocco.lang import specs

QueueKind = Literal["start", "join", "run_existing"]
#: Mistral keeps a workflow's and a task's ``state_info`` to this many characters.
STATE_INFO_LIMIT = 65503
_ELLIPSIS = "..."


def trimmed(state_info: str) -> str:
    """``state_info`` cut as Mistral cuts it: the first 65,500 characters and ``...``."""
    return state_info[: STATE_INFO_LIMIT - len(_ELLIPSIS)] + _ELLIPSIS


class Draft:
    """The mutable working state of one ``decide`` or ``start_workflow`` call."""

    def __init__(
        self,
        snapshot: Snapshot,
        *,
        now: datetime,
        new_id: Callable[[], str],
        budget: expressions.Budget | None = None,
        in_place: bool = False,
    ) -> None:
        self.snapshot = snapshot
        #: What this step's expressions may spend; its limits are the engine's too.
        self.budget = budget if budget is not None else expressions.Budget()
        self.limits = self.budget.limits
        self.lookup = snapshot.lookup
        self.now = now
        self.new_id = new_id
        self.workflow = snapshot.workflow
        # In place: the snapshot's own index (``core.decide``'s ``in_place``).
        self.tasks = snapshot.index if in_place else snapshot.index.overlay()
        self._in_place = in_place
        #: Ids of the tasks this draft put that the snapshot did not hold.
        self._created: set[str] = set()
        #: The snapshot's task executions: with ``_changed_tasks`` (this draft's, newer) what
        #: ``self.tasks`` holds, read here as two plain dicts (the engine's commonest read).
        self._stored_tasks = snapshot.index.tasks
        self.actions: index.Overlay[str, records.ActionExecution] = index.Overlay(snapshot.actions)
        self._changed_tasks: dict[str, records.TaskExecution] = {}
        self._changed_actions: dict[str, records.ActionExecution] = {}
        self._workflow_changed = False
        self._new_workflow = False
        self.commands: list[commands.Command] = []
        self.problems: list[str] = []
        self.queue: deque[tuple[QueueKind, str]] = deque()
        self._env: tuple[Mapping[str, Any], Mapping[str, Any], Mapping[str, Any]] | None = None

    # Records.

    @property
    def spec(self) -> specs.WorkflowSpec:
        return self.workflow.spec

    def put_workflow(self, workflow: records.WorkflowExecution, *, new: bool = False) -> None:
        if not new:
            workflow = records.evolve(workflow, {"updated_at": self.now})
        if workflow.state_info is not None and len(workflow.state_info) > STATE_INFO_LIMIT:
            workflow = records.evolve(workflow, {"state_info": trimmed(workflow.state_info)})
        self.workflow = workflow
        self._workflow_changed = True
        self._new_workflow = self._new_workflow or new

    def change_workflow(self, **changes: Any) -> records.WorkflowExecution:
        """Replace fields of the workflow execution; a state change is checked."""
        new_state = changes.get("state")
        if new_state is not None:
            states.check_transition(self.workflow.state, new_state, what="workflow execution")
        self.put_workflow(records.evolve(self.workflow, changes))
        return self.workflow

    def task(self, task_id: str) -> records.TaskExecution | None:
        found = self._changed_tasks.get(task_id)
        return found if found is not None else self._stored_tasks.get(task_id)

    def put_task(
        self, task: records.TaskExecution, *, old: records.TaskExecution | None = None
    ) -> records.TaskExecution:
        """Store ``task``; ``old``: its value before (read again when not given)."""
        if task.state_info is not None and len(task.state_info) > STATE_INFO_LIMIT:
            task = records.evolve(task, {"state_info": trimmed(task.state_info)})
        if old is None:
            old = self.task(task.id)
            if old is None:
                self._created.add(task.id)
        self.tasks.replace(old, task)
        self._changed_tasks[task.id] = task
        return task

    def change_task(self, task: records.TaskExecution, **changes: Any) -> records.TaskExecution:
        """Replace fields of the current value of ``task``; a state change is checked."""
        task_id = task.id
        current = self._changed_tasks.get(task_id) or self._stored_tasks.get(task_id)
        if current is None:
            # Not in this execution's index (yet): the given value is taken as it is.
            current, old = task, None
        else:
            old = current
        new_state = changes.get("state")
        if new_state is not None and new_state != current.state:
            states.check_task_transition(current.state, new_state)
            if states.is_completed(new_state):
                changes.setdefault("finished_at", self.now)
        changes.setdefault("updated_at", self.now)
        return self.put_task(records.evolve(current, changes), old=old)

    def current(self, task: records.TaskExecution) -> records.TaskExecution:
        """The latest value of ``task`` in this step."""
        task_id = task.id
        found = self._changed_tasks.get(task_id)
        if found is not None:
            return found
        found = self._stored_tasks.get(task_id)
        return found if found is not None else task

    def action(self, action_id: str) -> records.ActionExecution | None:
        return self.actions.get(action_id)

    def put_action(self, action: records.ActionExecution) -> records.ActionExecution:
        self.actions[action.id] = action
        self._changed_actions[action.id] = action
        return action

    def change_action(
        self, action: records.ActionExecution, **changes: Any
    ) -> records.ActionExecution:
        changes.setdefault("updated_at", self.now)
        return self.put_action(records.evolve(action, changes))

    def task_actions(self, task_id: str) -> list[records.ActionExecution]:
        """All action executions of a task: the stored ones with this step's on top."""
        stored = getattr(self.lookup, "task_action_executions", None)
        found = {action.id: action for action in (stored(task_id) if stored else ())}
        # The snapshot holds decisions the runtime may not have written yet, and
        # this step's changes are newer still: each layer wins over the one before.
        for action in self.snapshot.actions.values():
            if action.task_execution_id == task_id:
                found[action.id] = action
        for action_id, action in self._changed_actions.items():
            if action.task_execution_id == task_id:
                found[action_id] = action
        return sorted(found.values(), key=lambda action: (action.created_at, action.index))

    # Commands and problems.

    def emit(self, command: commands.Command) -> None:
        self.commands.append(command)

    def problem(self, text: str) -> None:
        self.problems.append(text)

    def bug(self, error: BaseException) -> None:
        """Record an unexpected exception as a problem (an engine bug)."""
        self.problems.append(
            "".join(traceback.format_exception(type(error), error, error.__traceback__))
        )

    # Queue of deferred work.

    def enqueue(self, kind: QueueKind, task_id: str) -> None:
        self.queue.append((kind, task_id))

    # Contexts.

    def outbound(self, task: records.TaskExecution) -> dataflow.Context:
        """The outbound context of ``task``: its inbound context plus what it published."""
        task = self.current(task)
        cached = self.snapshot.contexts.get(task.id)
        if cached is not None and _same_context_inputs(cached[0], task):
            return cached[1]
        # Walk up the branch to the nearest task whose context is known, then
        # build down again, so a long chain costs no recursion.
        chain: list[records.TaskExecution] = []
        cursor: records.TaskExecution | None = task
        base: dataflow.Context | None = None
        while cursor is not None:
            cached = self.snapshot.contexts.get(cursor.id)
            if cached is not None and _same_context_inputs(cached[0], cursor):
                base = cached[1]
                break
            chain.append(cursor)
            # One source: its outbound context is this task's inbound one
            # (merging a single context changes nothing).
            cursor = self.task(cursor.triggered_by[0]) if len(cursor.triggered_by) == 1 else None
        for link in reversed(chain):
            inbound = self._inbound_from_sources(link) if base is None else base
            base = dataflow.extend(inbound, link.published)
            self.snapshot.contexts[link.id] = (link, base)
        assert base is not None
        return base

    def inbound(self, task: records.TaskExecution) -> dataflow.Context:
        """The inbound context of ``task`` (from the executions in ``triggered_by``)."""
        task = self.current(task)
        if len(task.triggered_by) == 1:
            source = self.task(task.triggered_by[0])
            return dataflow.EMPTY_CONTEXT if source is None else self.outbound(source)
        return self._inbound_from_sources(task)

    def _inbound_from_sources(self, task: records.TaskExecution) -> dataflow.Context:
        sources = [self.task(source_id) for source_id in task.triggered_by]
        found = [source for source in sources if source is not None]
        # Mistral reads a join's inbound executions ordered by id; the last one
        # is the base of the merge and wins ties. Its ids are random, ours come
        # in creation order here.
        found.sort(key=lambda source: source.seq)
        return dataflow.merge([self.outbound(source) for source in found])

    # Building the decision.

    def decision(self) -> Decision:
        workflows = (self.workflow,) if self._workflow_changed else ()
        return Decision(
            workflows=workflows,
            tasks=tuple(self._changed_tasks.values()),
            actions=tuple(self._changed_actions.values()),
            commands=tuple(self.commands),
            problems=tuple(self.problems),
            indexed=self.tasks if self._in_place else None,
            created=frozenset(self._created) if self._in_place else frozenset(),
        )

    # Small helpers used everywhere.

    @property
    def env(self) -> Mapping[str, Any]:
        # Read for every expression's data: kept while the workflow's params and runtime
        # (what it is made from) stay the same objects.
        workflow = self.workflow
        cached = self._env
        if cached is not None and cached[0] is workflow.params and cached[1] is workflow.runtime:
            return cached[2]
        env = workflow.env
        self._env = (workflow.params, workflow.runtime, env)
        return env

    def is_terminal(self) -> bool:
        return states.is_terminal(self.workflow.state)

    def is_paused(self) -> bool:
        return self.workflow.state == State.PAUSED


def _same_context_inputs(known: records.TaskExecution, task: records.TaskExecution) -> bool:
    return known.published is task.published and known.triggered_by == task.triggered_by


def message_of(error: BaseException) -> str:
    """The text of an error as Mistral prints it inside its own messages."""
    if isinstance(error, errors.SiroccoError):
        return error.message
    return str(error)
