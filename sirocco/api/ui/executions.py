"""Pages of executions: the list (filters, marker paging), one execution, one task, live state."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from starlette.responses import JSONResponse, Response

from sirocco import errors
from sirocco.api import deps
from sirocco.api.ui import access, templating, views
from sirocco.store import pages as reads

router = APIRouter(include_in_schema=False, dependencies=[Depends(access.viewer)])
EXPLAIN_PATH = "/v2/executions/{execution_id}/explain"
#: Rows of an execution's task table (the graph shows every task).
TASK_ROWS = 200


def guarded(request: Request, build: Callable[[], Response]) -> Response:
    """The page ``build`` makes, or an error page naming what was wrong."""
    try:
        return build()
    except errors.NotFoundError as error:
        return templating.error_page(request, error.message, 404)
    except errors.SiroccoError as error:
        return templating.error_page(request, error.message, 400)


def filters_of(
    state: str | None,
    workflow: str | None,
    since: str | None,
    until: str | None,
    text: str | None,
    marker: str | None,
) -> reads.ExecutionFilters:
    """The list's query parameters, checked (InputError names the bad one)."""
    state = (state or "").strip().upper()
    if state and state not in reads.STATES:
        raise errors.InputError(f"state: {state} is not one of {', '.join(reads.STATES)}")
    return reads.ExecutionFilters(
        state=state,
        workflow=(workflow or "").strip(),
        since=_time("since", since),
        until=_time("until", until),
        text=(text or "").strip(),
        marker=(marker or "").strip() or None,
    )


def _time(name: str, value: str | None) -> datetime | None:
    if not value or not value.strip():
        return None
    try:
        return datetime.fromisoformat(value.strip())
    except ValueError:
        raise errors.InputError(
            f"{name}: {value!r} is not a time (write 2026-12-07 or 2026-12-07T08:30)"
        ) from None


@router.get("/ui/")
@router.get("/ui/executions")
def executions_list(
    request: Request,
    database: deps.DatabaseDep,
    state: str | None = None,
    workflow: str | None = None,
    since: str | None = None,
    until: str | None = None,
    text: str | None = None,
    marker: str | None = None,
) -> Response:
    """The executions, newest first, filtered, one page after a marker."""

    def build() -> Response:
        filters = filters_of(state, workflow, since, until, text, marker)
        with database.read() as connection:
            rows = reads.executions_page(connection, filters)
            counts = reads.task_counts(connection, [row["id"] for row in rows])
        now = deps.now()
        items = [
            {
                **row,
                "duration": reads.duration(
                    row["created_at"],
                    row["updated_at"] if row["state"] in reads.FINISHED else None,
                    now,
                ),
                "count": counts.get(row["id"], reads.TaskCount()),
                "finished": row["state"] in reads.FINISHED,
            }
            for row in rows
        ]
        next_marker = rows[-1]["id"] if len(rows) == reads.PAGE_SIZE else None
        return templating.page(
            request,
            "executions.html",
            title="Executions",
            items=items,
            filters=filters,
            states=reads.STATES,
            next_query=_query(request, marker=next_marker) if next_marker else "",
            first_query=_query(request, marker=None) if filters.marker else "",
        )

    return guarded(request, build)


def _query(request: Request, **changes: str | None) -> str:
    values = {key: value for key, value in request.query_params.items() if value}
    for key, value in changes.items():
        values.pop(key, None)
        if value:
            values[key] = value
    return "?" + urlencode(values) if values else "?"


@router.get("/ui/executions/{execution_id}")
def execution_page(request: Request, execution_id: str, database: deps.DatabaseDep) -> Response:
    """One execution: its graph with live task states, its tasks, its data."""

    def build() -> Response:
        now = deps.now()
        with database.read() as connection:
            row = reads.execution(connection, execution_id)
            tasks = reads.tasks_of(connection, execution_id)
            children = reads.sub_executions(
                connection, [task["id"] for task in tasks if task["type"] == "WORKFLOW"]
            )
        spec, problem = views.parsed_or_problem(
            row["definition"], row["workflow_name"], row["workbook_name"]
        )
        statuses = views.statuses_of(tasks, children, now)
        drawing = views.drawing_of(spec, statuses)
        failed = [task for task in tasks if task["state"] == "ERROR"]
        finished_at = row["updated_at"] if row["state"] in reads.FINISHED else None
        return templating.page(
            request,
            "execution.html",
            title=f"{row['workflow_name']} · execution",
            execution=row,
            env=(row.get("params") or {}).get("env"),
            duration=reads.duration(row["created_at"], finished_at, now),
            tasks=[{**task, "status": views.status_line(task, now)} for task in tasks[:TASK_ROWS]],
            task_total=len(tasks),
            children=children,
            failed=failed,
            drawing=drawing,
            problem=problem,
            finished=row["state"] in reads.FINISHED,
            explain=_has_route(request, EXPLAIN_PATH),
        )

    return guarded(request, build)


@router.get("/ui/executions/{execution_id}/live")
def execution_live(execution_id: str, database: deps.DatabaseDep) -> Response:
    """The execution's state and its tasks' states, for the page's short polling."""
    now = deps.now()
    try:
        with database.read() as connection:
            row = reads.execution(connection, execution_id)
            tasks = reads.tasks_of(connection, execution_id)
            children = reads.sub_executions(
                connection, [task["id"] for task in tasks if task["type"] == "WORKFLOW"]
            )
    except errors.NotFoundError as error:
        return JSONResponse({"faultstring": error.message}, status_code=404)
    statuses = views.statuses_of(tasks, children, now)
    finished_at = row["updated_at"] if row["state"] in reads.FINISHED else None
    body: dict[str, Any] = {
        "state": row["state"],
        "state_info": row.get("state_info") or "",
        "duration": reads.duration(row["created_at"], finished_at, now),
        "finished": row["state"] in reads.FINISHED,
        "nodes": {
            name: {
                "task_id": status.task_id,
                "state": status.state,
                "status": status.status,
                "sub_execution_id": status.sub_execution_id,
            }
            for name, status in statuses.items()
        },
        "tasks": [
            {
                "id": task["id"],
                "name": task["name"],
                "state": task["state"],
                "status": views.status_line(task, now),
                "state_info": task.get("state_info") or "",
                "sub_execution_id": (children.get(task["id"]) or [{"id": ""}])[0]["id"],
            }
            for task in tasks[:TASK_ROWS]
        ],
        "task_total": len(tasks),
    }
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


@router.get("/ui/tasks/{task_id}")
def task_page(request: Request, task_id: str, database: deps.DatabaseDep) -> Response:
    """One task execution: its result, published data, state_info, retries, actions."""

    def build() -> Response:
        with database.read() as connection:
            task = reads.task(connection, task_id)
            actions = reads.actions_of(connection, task_id)
            children = reads.sub_executions(connection, [task_id]).get(task_id, [])
            runtime = reads.task_runtime(connection, task_id)
        retries = int((runtime.get("retry_task_policy") or {}).get("retry_no", 0) or 0)
        return templating.page(
            request,
            "task.html",
            title=f"{task['name']} · task",
            task=task,
            actions=actions,
            children=children,
            retries=retries,
            progress=reads.with_items_progress(runtime),
            with_items="with_items" in (runtime or {}),
        )

    return guarded(request, build)


def _has_route(request: Request, path: str) -> bool:
    return path in _paths(request.app.routes)


def _paths(routes: Any) -> set[str]:
    """The paths of ``routes``, looking into included routers (FastAPI keeps those as
    routes of their own, without a path)."""
    found: set[str] = set()
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            found |= _paths(included.routes)
        elif isinstance(getattr(route, "path", None), str):
            found.add(route.path)
    return found
