"""Pages of definitions: workflows and workbooks, highlighted, drawn, with a start form."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from sirocco import errors
from sirocco.api import deps
from sirocco.api.ui import access, templating, views
from sirocco.api.ui.executions import guarded
from sirocco.lang import parser
from sirocco.store import pages as reads
from sirocco.store import queries

router = APIRouter(include_in_schema=False, dependencies=[Depends(access.viewer)])


@router.get("/ui/workflows")
def workflows_list(request: Request, database: deps.DatabaseDep) -> Response:
    """Every workflow definition (the first 1,000 by name)."""
    with database.read() as connection:
        rows = reads.listing(connection, queries.WORKFLOWS)
    return templating.page(request, "workflows.html", title="Workflows", items=rows)


@router.get("/ui/workflows/{identifier}")
def workflow_page(request: Request, identifier: str, database: deps.DatabaseDep) -> Response:
    """One workflow: its definition, its graph, its latest executions, a start form."""

    def build() -> Response:
        with database.read() as connection:
            row = reads.by_id_or_name(connection, queries.WORKFLOWS, identifier)
            if row is None:
                raise errors.NotFoundError(f"Workflow not found [identifier={identifier}]")
            workbook = reads.workbook_of_workflow(connection, row["id"])
            executions = reads.executions_of_workflow(connection, row["name"])
        now = deps.now()
        for item in executions:
            finished = item["updated_at"] if item["state"] in reads.FINISHED else None
            item["duration"] = reads.duration(item["created_at"], finished, now)
        spec, problem = views.parsed_or_problem(row["definition"], row["name"], workbook)
        return templating.page(
            request,
            "workflow.html",
            title=f"{row['name']} · workflow",
            workflow=row,
            drawing=views.drawing_of(spec, {}),
            problem=problem,
            executions=executions,
        )

    return guarded(request, build)


@router.get("/ui/workbooks")
def workbooks_list(request: Request, database: deps.DatabaseDep) -> Response:
    """Every workbook (the first 1,000 by name)."""
    with database.read() as connection:
        rows = reads.listing(connection, queries.WORKBOOKS)
    return templating.page(request, "workbooks.html", title="Workbooks", items=rows)


@router.get("/ui/workbooks/{name}")
def workbook_page(request: Request, name: str, database: deps.DatabaseDep) -> Response:
    """One workbook: its definition and the graph of each of its workflows."""

    def build() -> Response:
        with database.read() as connection:
            row = reads.by_id_or_name(connection, queries.WORKBOOKS, name)
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
            title=f"{row['name']} · workbook",
            workbook=row,
            drawings=drawings,
            problem=problem,
        )

    return guarded(request, build)
