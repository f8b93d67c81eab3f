"""The graph of an execution or a workflow, ready for the template: boxes, routes, states."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sirocco import errors
from sirocco.api.ui import graph, layout
from sirocco.lang import parser, specs
from sirocco.store import pages as reads


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskStatus:
    """What a node shows of the latest run of its task."""

    task_id: str
    state: str
    status: str  # "RUNNING · 3 s · 37/1000"
    state_info: str = ""
    runs: int = 1
    sub_execution_id: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Drawing:
    """A laid-out graph and the status of each of its tasks (empty for a workflow page)."""

    layout: layout.Layout | None
    statuses: Mapping[str, TaskStatus] = field(default_factory=dict)
    problem: str = ""


def workflow_spec(definition: str, name: str, workbook: str | None) -> specs.WorkflowSpec:
    """The spec of workflow ``name`` in a stored definition (DefinitionError if it is bad)."""
    document = parser.parse_workflows(definition, workbook=workbook)
    found = document.workflow(name)
    if found is None:
        raise errors.InputError(f"The definition has no workflow {name}")
    return found


def drawing_of(spec: specs.WorkflowSpec | None, statuses: Mapping[str, TaskStatus]) -> Drawing:
    """Lay out ``spec``'s graph (a definition that cannot be read draws nothing)."""
    if spec is None:
        return Drawing(layout=None, statuses=statuses)
    return Drawing(layout=layout.lay_out(graph.of_workflow(spec)), statuses=statuses)


def parsed_or_problem(
    definition: str, name: str, workbook: str | None
) -> tuple[specs.WorkflowSpec | None, str]:
    """The spec, or None and why it could not be read."""
    try:
        return workflow_spec(definition, name, workbook), ""
    except errors.SiroccoError as error:
        return None, error.message


def statuses_of(
    tasks: Sequence[Mapping[str, Any]],
    children: Mapping[str, Sequence[Mapping[str, Any]]],
    now: datetime,
) -> dict[str, TaskStatus]:
    """The latest run of each task name (tasks come in creation order)."""
    runs: dict[str, int] = {}
    latest: dict[str, Mapping[str, Any]] = {}
    for task in tasks:
        runs[task["name"]] = runs.get(task["name"], 0) + 1
        latest[task["name"]] = task
    statuses: dict[str, TaskStatus] = {}
    for name, task in latest.items():
        sub = children.get(task["id"]) or ()
        statuses[name] = TaskStatus(
            task_id=task["id"],
            state=task["state"],
            status=status_line(task, now),
            state_info=task.get("state_info") or "",
            runs=runs[name],
            sub_execution_id=str(sub[0]["id"]) if sub else "",
        )
    return statuses


def status_line(task: Mapping[str, Any], now: datetime) -> str:
    """``STATE · duration · done/count`` of one task execution."""
    parts = [str(task["state"])]
    started = task.get("started_at") or task.get("created_at")
    took = reads.duration(started, task.get("finished_at"), now)
    if took:
        parts.append(took)
    progress = reads.with_items_progress(task.get("runtime"))
    if progress:
        parts.append(progress)
    return " · ".join(parts)
