"""The Snapshot: what ``decide`` reads about one workflow execution, kept between steps.

It holds the workflow execution, all its task executions (with indexes),
the action executions the runtime loaded or the engine created and that are
still running (or failed), the ``Lookup`` port, and caches derived from them (branch
contexts, with-items values, graph facts). ``apply`` folds a committed
decision in, at a cost proportional to the decision.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sirocco.engine import dataflow, graph, index, ports, records, states
from sirocco.engine.decision import Decision


class Snapshot:
    """One workflow execution as the engine sees it.

    Args:
        workflow: the workflow execution.
        tasks: all of its task executions.
        actions: the action executions that the coming events refer to.
        lookup: read-only questions about the rest of the world.
    """

    def __init__(
        self,
        workflow: records.WorkflowExecution,
        tasks: Iterable[records.TaskExecution],
        actions: Iterable[records.ActionExecution],
        lookup: ports.Lookup,
    ) -> None:
        self.workflow = workflow
        self.lookup = lookup
        self.index = index.TaskIndex.empty(index.join_feeds(workflow.spec))
        for task in sorted(tasks, key=lambda task: task.seq):
            self.index.put(task)
        self.actions: dict[str, records.ActionExecution] = {}
        self.add_actions(actions)
        self.graph = graph.Graph(workflow.spec)
        #: Outbound contexts by task execution id, with the record they came from.
        self.contexts: dict[str, tuple[records.TaskExecution, dataflow.Context]] = {}
        #: Evaluated with-items lists by task execution id (attempt, values).
        self.item_values: dict[str, tuple[int, dict[str, list[Any]]]] = {}
        #: Item results read so far by completing with-items tasks, by task execution
        #: id (attempt, index reached, results in index order): see ``with_items.finish``.
        self.gathered: dict[str, tuple[int, int, list[Any], list[Sequence[Any]]]] = {}

    @property
    def tasks(self) -> index.TaskIndex:
        return self.index

    def add_actions(self, actions: Iterable[records.ActionExecution]) -> None:
        """Make action executions known (the runtime loads those events refer to)."""
        for action in actions:
            self.actions[action.id] = action

    def apply(self, decision: Decision) -> None:
        """Fold a committed decision in; costs what the decision holds."""
        for workflow in decision.workflows:
            if workflow.id == self.workflow.id:
                if workflow.spec is not self.workflow.spec:
                    self.graph = graph.Graph(workflow.spec)
                    self.index.refeed(index.join_feeds(workflow.spec))
                self.workflow = workflow
        indexed = decision.indexed is self.index  # ``decide`` put them there already
        for task in decision.tasks:
            if task.workflow_execution_id == self.workflow.id:
                if not indexed:
                    self.index.put(task)
                if states.is_completed(task.state):
                    self.item_values.pop(task.id, None)
                    self.gathered.pop(task.id, None)
        for action in decision.actions:
            if states.is_completed(action.state) and action.state != states.State.ERROR:
                # A finished action is needed again only to ignore a duplicate
                # result; the runtime loads it then. Failed ones stay for the
                # workflow's failure message (they may not be stored yet).
                self.actions.pop(action.id, None)
            else:
                self.actions[action.id] = action
