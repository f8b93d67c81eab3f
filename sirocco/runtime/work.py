"""What travels through the runtime: items queued for the engine thread, and what a
committed step leaves for the dispatcher.

Intake (``intake.py``) turns outbox rows, broker parcels, timers and API calls into
``Envelope`` and ``StartRequest`` items; the engine thread (``loop.py``) applies them in
steps (``steps.py``); each batch leaves an ``Outgoing`` that ``dispatch.py`` hands on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sirocco.engine import commands, events, records

#: Runs a RunAction inside the step when it is cheap and side-effect free;
#: returns its completion event, or None when the action must go to an executor.
InlineRunner = Callable[[commands.RunAction], "events.ActionCompleted | None"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Envelope:
    """An event on its way to a step, with the durable row that carried it and, when a
    broker brought it, how to tell the broker it is applied."""

    event: events.Event
    outbox_id: str | None = None
    timer_id: str | None = None
    acknowledge: Callable[[], None] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class StartItem:
    """What it takes to start one workflow execution."""

    spec_name: str
    definition: str
    workbook: str | None
    workflow_id: str | None
    execution_id: str
    input: Mapping[str, Any]
    params: Mapping[str, Any]
    description: str = ""
    namespace: str = ""
    task_execution_id: str | None = None
    root_execution_id: str | None = None
    parent_execution_id: str | None = None
    outbox_id: str | None = None
    #: The owner; None: the root execution's project (sub-workflows), else the default.
    project_id: str | None = None
    #: The execution id was made for this start just now (no caller chose it, no durable
    #: row carries the request): no row can hold it yet, so the step does not look.
    fresh: bool = False


@dataclass(frozen=True, slots=True)
class Started:
    """The answer to a start: the execution's id, and its record as the start's committed
    transaction wrote it (None when the execution existed already), so that the API
    answers from it without reading the row back."""

    execution_id: str
    record: records.WorkflowExecution | None = None


@dataclass(frozen=True, slots=True)
class StartRequest:
    """A start on its way to the engine thread; the answer comes in ``future``."""

    item: StartItem
    future: Future[Started] | None = None
    acknowledge: Callable[[], None] | None = None


@dataclass(slots=True, kw_only=True)
class Outgoing:
    """What a committed step leaves for the dispatcher."""

    items: list[tuple[str | None, commands.Command]] = field(default_factory=list)
    #: Outbox ids of the RunAction rows the transaction wrote already handed to this
    #: process's executor (``pending.write``): the dispatcher does not mark them again.
    handed: set[str] = field(default_factory=set)
    followups: list[tuple[str, events.Event]] = field(default_factory=list)
    ended: list[tuple[str, str]] = field(default_factory=list)
    #: (execution id, problem) the engine reported: requests it refused, or bugs.
    problems: list[tuple[str, str]] = field(default_factory=list)
    #: (execution id, workflow name, new state, its state_info) of every execution whose
    #: state changed.
    changed: list[tuple[str, str, str, str | None]] = field(default_factory=list)
    timers_due: list[datetime] = field(default_factory=list)
    timers_now: list[tuple[str, events.TimerFired]] = field(default_factory=list)
    #: Its RunAction parcels went to the broker already (``Dispatcher.announce``).
    announced: bool = False


@dataclass(slots=True)
class BatchResult:
    """What a batch left: commands to dispatch and the fate of each start."""

    outgoing: Outgoing = field(default_factory=Outgoing)
    started: list[StartItem] = field(default_factory=list)
    #: The record of each execution the batch created, by id, as its start left it.
    created: dict[str, records.WorkflowExecution] = field(default_factory=dict)
    failed_starts: list[tuple[StartItem, Exception]] = field(default_factory=list)
