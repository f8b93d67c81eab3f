"""Execution trees: ``/executions/{id}/executions``, ``/tasks/{id}/executions`` and ``/report``.

Depth counts from the execution asked for (0); a negative ``max_depth``
means no limit; ``errors_only`` keeps only tasks in ERROR (and what is
below them). The root execution is always included.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sirocco.api import listing, render
from sirocco.api.errors import ApiError
from sirocco.store import queries, trees
from sirocco.store.database import Connection

_ENTRY = ("id", "name", "created_at", "updated_at", "state", "state_info")
_EXECUTION_FIELDS = tuple(
    name for name in render.EXECUTION if name not in ("published_global", "source_execution_id")
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Options:
    """How much of the tree to walk."""

    errors_only: bool = False
    max_depth: int = -1

    @classmethod
    def parse(cls, errors_only: str | None, max_depth: str | None) -> Options:
        """The query parameters, checked."""
        depth = -1
        if max_depth not in (None, ""):
            try:
                depth = int(str(max_depth))
            except ValueError as exc:
                raise ApiError(
                    f"Invalid input for field/attribute max_depth. Value: '{max_depth}'. "
                    f"unable to convert to int. Error: {exc}"
                ) from exc
        return cls(errors_only=listing.boolean("errors_only", errors_only), max_depth=depth)

    def too_deep(self, depth: int) -> bool:
        return 0 <= self.max_depth < depth


def sub_executions(
    connection: Connection, execution_id: str, options: Options, depth: int = 0
) -> list[dict[str, Any]]:
    """The execution and all sub-workflow executions below it, depth first."""
    if options.too_deep(depth):
        return []
    found = queries.get_by_id(
        connection, queries.EXECUTIONS, execution_id, fields=_EXECUTION_FIELDS
    )
    result = [found]
    for task in trees.tasks(connection, execution_id):
        result.extend(_below_task(connection, task, options, depth + 1))
    return result


def task_sub_executions(
    connection: Connection, task_id: str, options: Options, *, depth: int
) -> list[dict[str, Any]]:
    """Every sub-workflow execution below one task execution."""
    task = trees.task(connection, task_id)
    if task is None:
        queries.get_by_id(connection, queries.TASKS, task_id)
        return []
    return _below_task(connection, task, options, depth)


def _below_task(
    connection: Connection, task: Any, options: Options, depth: int
) -> list[dict[str, Any]]:
    if options.errors_only and task.state != "ERROR":
        return []
    result: list[dict[str, Any]] = []
    for child in trees.children(connection, task.id):
        result.extend(sub_executions(connection, child, options, depth))
    return result


def build(
    connection: Connection, execution_id: str, options: Options, *, statistics_only: bool
) -> dict[str, Any]:
    """Mistral's execution report: statistics and (unless asked not to) the tree."""
    root = queries.get_by_id(connection, queries.EXECUTIONS, execution_id, fields=("state",))
    counts = {"RUNNING": 0, "SUCCESS": 0, "ERROR": 0, "IDLE": 0, "PAUSED": 0}
    tree = _workflow_entry(connection, execution_id, options, 0, counts)
    statistics = {
        "total_tasks_count": sum(counts.values()),
        "running_tasks_count": counts["RUNNING"],
        "success_tasks_count": counts["SUCCESS"],
        "error_tasks_count": counts["ERROR"],
        "idle_tasks_count": counts["IDLE"],
        "paused_tasks_count": counts["PAUSED"],
        "estimated_time": -1 if root["state"] == "RUNNING" else 0,
    }
    if statistics_only:
        return {"statistics": statistics}
    return {"statistics": statistics, "root_workflow_execution": tree}


def _workflow_entry(
    connection: Connection,
    execution_id: str,
    options: Options,
    depth: int,
    counts: dict[str, int],
) -> dict[str, Any]:
    row = trees.execution(connection, execution_id)
    entry = _entry(row, name=row.workflow_name)
    if options.too_deep(depth):
        return entry
    entry["task_executions"] = []
    for task in trees.tasks(connection, execution_id):
        if options.errors_only and task.state != "ERROR":
            continue
        if task.state in counts:
            counts[task.state] += 1
        task_entry: dict[str, Any] = {"action_executions": [], "workflow_executions": []}
        retry = (task.runtime or {}).get("retry_task_policy")
        if isinstance(retry, dict) and "retry_no" in retry:
            task_entry["retry_count"] = retry["retry_no"]
        for action in trees.actions(connection, task.id):
            task_entry["action_executions"].append(
                {
                    "accepted": bool(action.accepted),
                    "last_heartbeat": render.timestamp(action.updated_at or action.created_at),
                    **_entry(action, name=action.name),
                    "state_info": None,  # Mistral keeps an action's error in its output
                }
            )
        for child in trees.children(connection, task.id):
            task_entry["workflow_executions"].append(
                _workflow_entry(connection, child, options, depth + 1, counts)
            )
        task_entry.update(_entry(task, name=task.name))
        entry["task_executions"].append(task_entry)
    return entry


def _entry(row: Any, *, name: str) -> dict[str, Any]:
    mapping = row._mapping
    values = {field: mapping.get(field) for field in _ENTRY}
    values["name"] = name
    values["updated_at"] = values["updated_at"] or values["created_at"]
    return {field: render.timestamp(values[field]) for field in _ENTRY}
