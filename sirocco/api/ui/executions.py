"""Pages of executions: the list (filters, marker paging), one execution, one task, live state."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from starlette.responses import JSONResponse, Response

from sirocco import clock, errors
from sirocco.api import deps
from sirocco.api.errors import ApiError
from sirocco.api.ui import access, templating, views
from sirocco.store import pages as reads
from sirocco.store import queries

router = APIRouter(include_in_schema=False, dependencies=[Depends(access.viewer)])
EXPLAIN_PATH = "/v2/executions/{execution_id}/explain"
#: Rows of a page of an execution's task table (the graph shows every task).
TASK_ROWS = 200


def guarded(request: Request, build: Callable[[], Response]) -> Response:
    """The page ``build`` makes, or an error page naming what was wrong (the API's
    words for a refusal of the policy: 403)."""
    try:
        return build()
    except errors.NotFoundError as error:
        return templating.error_page(request, error.message, 404)
    except errors.SiroccoError as error:
        return templating.error_page(request, error.message, 400)
    except ApiError as error:
        return templating.error_page(request, error.message, error.status_code)


def task_window(
    tasks: list[dict[str, Any]], after: str | None
) -> tuple[list[dict[str, Any]], int, str | None]:
    """The rows of the task table after the task ``after`` (a marker: a task id), the
    index of the first of them, and the marker of the next page (None on the last)."""
    start = 0
    if after:
        index = next((i for i, task in enumerate(tasks) if task["id"] == after), None)
        if index is None:
            raise errors.NotFoundError(f"Task execution not found [id={after}]")
        start = index + 1
    rows = tasks[start : start + TASK_ROWS]
    more = start + TASK_ROWS < len(tasks)
    return rows, start, (rows[-1]["id"] if more and rows else None)


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
    viewer: access.ViewerDep,
    state: str | None = None,
    workflow: str | None = None,
    since: str | None = None,
    until: str | None = None,
    text: str | None = None,
    marker: str | None = None,
) -> Response:
    """The executions, newest first, filtered, one page after a marker."""

    def build() -> Response:
        seen = viewer.checked("executions:list")
        filters = filters_of(state, workflow, since, until, text, marker)
        with database.read() as connection:
            rows = reads.executions_page(
                connection, filters, conditions=seen.where(queries.EXECUTIONS)
            )
            counts = reads.task_counts(connection, [row["id"] for row in rows])
        now = clock.utcnow_seconds()
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
            viewer=seen,
            title="Executions",
            items=items,
            filters=filters,
            states=reads.STATES,
            next_query=_query(request, marker=next_marker) if next_marker else "",
            first_query=_query(request, marker=None) if filters.marker else "",
        )

    return guarded(request, build)


def list_page(
    request: Request,
    database: Any,
    viewer: access.Viewer,
    view: queries.View,
    resource: str,
    marker: str | None,
    *,
    template: str,
    title: str,
) -> Response:
    """A page of a list by name (definitions, triggers, environments): what the caller
    may read (the API's ``RESOURCE:list`` rule and projects), after ``marker``."""
    seen = viewer.checked(f"{resource}:list")
    marker = (marker or "").strip() or None
    with database.read() as connection:
        rows = reads.listing(connection, view, marker=marker, conditions=seen.where(view))
    next_marker = rows[-1]["id"] if len(rows) == reads.LIST_PAGE_SIZE else None
    return templating.page(
        request,
        template,
        viewer=seen,
        title=title,
        items=rows,
        next_query=_query(request, marker=next_marker) if next_marker else "",
        first_query=_query(request, marker=None) if marker else "",
    )


def _query(request: Request, **changes: str | None) -> str:
    values = {key: value for key, value in request.query_params.items() if value}
    for key, value in changes.items():
        values.pop(key, None)
        if value:
            values[key] = value
    return "?" + urlencode(values) if values else "?"


@router.get("/ui/executions/{execution_id}")
def execution_page(
    request: Request,
    execution_id: str,
    database: deps.DatabaseDep,
    viewer: access.ViewerDep,
    tasks_after: str | None = None,
) -> Response:
    """One execution: its graph with live task states, a page of its tasks, its data."""

    def build() -> Response:
        seen = viewer.checked("executions:get")
        now = clock.utcnow_seconds()
        with database.read() as connection:
            row = reads.execution(
                connection, execution_id, conditions=seen.where(queries.EXECUTIONS)
            )
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
        window, first, next_marker = task_window(tasks, tasks_after)
        finished_at = row["updated_at"] if row["state"] in reads.FINISHED else None
        return templating.page(
            request,
            "execution.html",
            viewer=seen,
            title=f"{row['workflow_name']} · execution",
            execution=row,
            env=(row.get("params") or {}).get("env"),
            duration=reads.duration(row["created_at"], finished_at, now),
            tasks=[{**task, "status": views.status_line(task, now)} for task in window],
            task_total=len(tasks),
            task_first=first,
            tasks_after=tasks_after or "",
            tasks_next=_query(request, tasks_after=next_marker) if next_marker else "",
            tasks_start=_query(request, tasks_after=None) if tasks_after else "",
            children=children,
            failed=failed,
            drawing=drawing,
            problem=problem,
            finished=row["state"] in reads.FINISHED,
            explain=_has_route(request, EXPLAIN_PATH),
        )

    return guarded(request, build)


@router.get("/ui/executions/{execution_id}/live")
def execution_live(
    execution_id: str,
    database: deps.DatabaseDep,
    viewer: access.ViewerDep,
    tasks_after: str | None = None,
) -> Response:
    """The execution's state and its tasks' states (the page of the task table after
    ``tasks_after``), for the page's short polling."""
    now = clock.utcnow_seconds()
    try:
        seen = viewer.checked("executions:get")
        with database.read() as connection:
            row = reads.execution(
                connection, execution_id, conditions=seen.where(queries.EXECUTIONS)
            )
            tasks = reads.tasks_of(connection, execution_id)
            children = reads.sub_executions(
                connection, [task["id"] for task in tasks if task["type"] == "WORKFLOW"]
            )
        window, _first, next_marker = task_window(tasks, tasks_after)
    except errors.NotFoundError as error:
        return JSONResponse({"faultstring": error.message}, status_code=404)
    except ApiError as error:
        return JSONResponse({"faultstring": error.message}, status_code=error.status_code)
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
            for task in window
        ],
        "task_total": len(tasks),
        "tasks_next": next_marker or "",
    }
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


@router.get("/ui/tasks/{task_id}")
def task_page(
    request: Request, task_id: str, database: deps.DatabaseDep, viewer: access.ViewerDep
) -> Response:
    """One task execution: its result, published data, state_info, retries, actions."""

    def build() -> Response:
        seen = viewer.checked("tasks:get")
        with database.read() as connection:
            task = reads.task(connection, task_id, conditions=seen.where(queries.TASKS))
            actions = reads.actions_of(connection, task_id)
            children = reads.sub_executions(connection, [task_id]).get(task_id, [])
            runtime = reads.task_runtime(connection, task_id)
        retries = int((runtime.get("retry_task_policy") or {}).get("retry_no", 0) or 0)
        return templating.page(
            request,
            "task.html",
            viewer=seen,
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
