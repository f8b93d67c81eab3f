"""Pages of definitions: workflows and workbooks, highlighted, drawn, with a start form."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from sirocco import clock, errors
from sirocco.api import deps
from sirocco.api.ui import access, templating, views
from sirocco.api.ui.executions import guarded, list_page
from sirocco.lang import parser
from sirocco.store import pages as reads
from sirocco.store import queries

router = APIRouter(include_in_schema=False, dependencies=[Depends(access.viewer)])


@router.get("/ui/workflows")
def workflows_list(
    request: Request,
    database: deps.DatabaseDep,
    viewer: access.ViewerDep,
    marker: str | None = None,
) -> Response:
    """The workflow definitions the caller may read, by name, one page after ``marker``."""
    return guarded(
        request,
        lambda: list_page(
            request,
            database,
            viewer,
            queries.WORKFLOWS,
            "workflows",
            marker,
            template="workflows.html",
            title="Workflows",
        ),
    )


@router.get("/ui/workflows/{identifier}")
def workflow_page(
    request: Request, identifier: str, database: deps.DatabaseDep, viewer: access.ViewerDep
) -> Response:
    """One workflow: its definition, its graph, its latest executions, a start form."""

    def build() -> Response:
        seen = viewer.checked("workflows:get")
        with database.read() as connection:
            row = reads.by_id_or_name(
                connection,
                queries.WORKFLOWS,
                identifier,
                conditions=seen.where(queries.WORKFLOWS),
                project_id=viewer.caller.project_id,
            )
            if row is None:
                raise errors.NotFoundError(f"Workflow not found [identifier={identifier}]")
            workbook = reads.workbook_of_workflow(connection, row["id"])
            executions = reads.executions_of_workflow(
                connection, row["id"], conditions=seen.where(queries.EXECUTIONS)
            )
        now = clock.utcnow_seconds()
        for item in executions:
            finished = item["updated_at"] if item["state"] in reads.FINISHED else None
            item["duration"] = reads.duration(item["created_at"], finished, now)
        spec, problem = views.parsed_or_problem(row["definition"], row["name"], workbook)
        return templating.page(
            request,
            "workflow.html",
            viewer=seen,
            title=f"{row['name']} · workflow",
            workflow=row,
            drawing=views.drawing_of(spec, {}),
            problem=problem,
            executions=executions,
        )

    return guarded(request, build)


@router.get("/ui/workbooks")
def workbooks_list(
    request: Request,
    database: deps.DatabaseDep,
    viewer: access.ViewerDep,
    marker: str | None = None,
) -> Response:
    """The workbooks the caller may read, by name, one page after ``marker``."""
    return guarded(
        request,
        lambda: list_page(
            request,
            database,
            viewer,
            queries.WORKBOOKS,
            "workbooks",
            marker,
            template="workbooks.html",
            title="Workbooks",
        ),
    )


@router.get("/ui/workbooks/{name}")
def workbook_page(
    request: Request, name: str, database: deps.DatabaseDep, viewer: access.ViewerDep
) -> Response:
    """One workbook: its definition and the graph of each of its workflows."""

    def build() -> Response:
        seen = viewer.checked("workbooks:get")
        with database.read() as connection:
            row = reads.by_id_or_name(
                connection,
                queries.WORKBOOKS,
                name,
                conditions=seen.where(queries.WORKBOOKS),
                project_id=viewer.caller.project_id,
            )
        if row is None:
            raise errors.NotFoundError(f"Workbook not found [name={name}]")
        drawings = []
        problem = ""
        try:
            workbook = parser.parse_workbook(row["definition"])
            drawings = [
                (workflow_name, views.drawing_of(spec, {}))
                for workflow_name, spec in workbook.workflows.items()
            ]
        except errors.SiroccoError as error:
            problem = error.message
        return templating.page(
            request,
            "workbook.html",
            viewer=seen,
            title=f"{row['name']} · workbook",
            workbook=row,
            drawings=drawings,
            problem=problem,
        )

    return guarded(request, build)
