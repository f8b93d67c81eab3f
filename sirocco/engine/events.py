"""Events: everything that can change a workflow execution.

Each event names the workflow execution it is for; the runtime groups the
events of one execution and hands them to ``decide`` in one batch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from sirocco.engine.states import State

TimerPurpose = Literal["wait_before", "wait_after", "retry", "timeout", "join", "continue", "more"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionCompleted:
    """An action execution finished (or an async one was completed via the API).

    ``state`` is SUCCESS, ERROR or CANCELLED; ``result`` is the data (or the
    error data); ``message`` is the error text for ERROR.
    """

    workflow_execution_id: str
    action_execution_id: str
    state: State
    result: Any = None
    message: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SubworkflowCompleted:
    """A sub-workflow started by a task reached SUCCESS, ERROR or CANCELLED."""

    workflow_execution_id: str
    task_execution_id: str
    subworkflow_execution_id: str
    state: State
    output: Any = None
    message: str | None = None
    #: The with-items index of the sub-workflow (its ``params["index"]``).
    index: int = 0
    #: True when the sub-workflow could not even start (bad input): the
    #: parent task and workflow are then force-failed, as in Mistral.
    start_failed: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class SubworkflowRerun:
    """A sub-workflow of a task was rerun: its parent task and workflow run again."""

    workflow_execution_id: str
    task_execution_id: str
    subworkflow_execution_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SubworkflowPaused:
    """A sub-workflow of a task paused (it pauses the parent too) or resumed."""

    workflow_execution_id: str
    task_execution_id: str
    subworkflow_execution_id: str
    paused: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class TimerFired:
    """A durable timer that the engine asked for is due."""

    workflow_execution_id: str
    task_execution_id: str
    purpose: TimerPurpose
    token: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class PauseWorkflow:
    """Pause the execution (API, or a parent that paused)."""

    workflow_execution_id: str
    message: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ResumeWorkflow:
    """Resume a paused execution, optionally merging a new ``env``."""

    workflow_execution_id: str
    env: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class StopWorkflow:
    """End the execution now with SUCCESS, ERROR or CANCELLED."""

    workflow_execution_id: str
    state: State
    message: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RerunTask:
    """Rerun a task in ERROR (or CANCELLED); ``reset=False`` keeps good items."""

    workflow_execution_id: str
    task_execution_id: str
    reset: bool = True
    env: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SkipTask:
    """Skip a task in ERROR: it becomes SKIPPED and its transitions run."""

    workflow_execution_id: str
    task_execution_id: str


Event = (
    ActionCompleted
    | SubworkflowCompleted
    | SubworkflowPaused
    | SubworkflowRerun
    | TimerFired
    | PauseWorkflow
    | ResumeWorkflow
    | StopWorkflow
    | RerunTask
    | SkipTask
)
