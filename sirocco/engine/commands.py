"""Commands: what the engine asks the outside world to do after a step commits.

The runtime writes them to the outbox in the step's transaction and
dispatches them after the commit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sirocco.engine import events
from sirocco.engine.states import State


@dataclass(frozen=True, slots=True, kw_only=True)
class RunAction:
    """Run a (system or Python) action execution on an executor.

    ``execution`` carries the ids for the action context
    (workflow_execution_id, task_execution_id, action_execution_id,
    workflow_name, task_name, with_items_index, ...).
    """

    action_execution_id: str
    workflow_execution_id: str | None
    task_execution_id: str | None
    action_name: str
    input: Mapping[str, Any]
    target: str | None = None
    safe_rerun: bool = False
    timeout: float | None = None
    execution: Mapping[str, Any]

    def completed(
        self, state: State, result: Any = None, message: str | None = None
    ) -> events.ActionCompleted:
        """The event that reports this action's outcome to its workflow's next step.

        Every executor path (in the step, the pool, an executor process, a lost
        action failed by recovery or by missed heartbeats) reports through it; an
        action of no workflow (run directly) is finished in the store instead.
        """
        return events.ActionCompleted(
            workflow_execution_id=self.workflow_execution_id or "",
            action_execution_id=self.action_execution_id,
            state=state,
            result=result,
            message=message,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class StartSubworkflow:
    """Start a sub-workflow for a task (``index`` for with-items)."""

    workflow_execution_id: str
    task_execution_id: str
    subworkflow_execution_id: str
    workflow_name: str
    namespace: str
    workbook: str | None
    input: Mapping[str, Any]
    params: Mapping[str, Any]
    root_execution_id: str
    index: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class ScheduleTimer:
    """Deliver ``event`` at ``due`` (a durable timer)."""

    due: datetime
    event: events.TimerFired


@dataclass(frozen=True, slots=True, kw_only=True)
class NotifyParent:
    """Tell the parent workflow that this sub-workflow ended or paused."""

    event: events.SubworkflowCompleted | events.SubworkflowPaused | events.SubworkflowRerun


@dataclass(frozen=True, slots=True, kw_only=True)
class SendEvent:
    """Deliver an event to another workflow execution (pause, resume or
    cancel cascading into sub-workflows)."""

    event: events.Event


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkflowEnded:
    """A workflow reached a terminal state (for notifications and waiters)."""

    workflow_execution_id: str
    state: State


Command = RunAction | StartSubworkflow | ScheduleTimer | NotifyParent | SendEvent | WorkflowEnded
