"""Pages of the other resources, as lists: cron triggers, event triggers, environments."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from sirocco.api import deps
from sirocco.api.ui import access
from sirocco.api.ui.executions import guarded, list_page
from sirocco.store import queries

router = APIRouter(include_in_schema=False, dependencies=[Depends(access.viewer)])


@router.get("/ui/cron-triggers")
def cron_triggers(
    request: Request,
    database: deps.DatabaseDep,
    viewer: access.ViewerDep,
    marker: str | None = None,
) -> Response:
    """Cron triggers, by name, one page after ``marker``."""
    return guarded(
        request,
        lambda: list_page(
            request,
            database,
            viewer,
            queries.CRON_TRIGGERS,
            "cron_triggers",
            marker,
            template="cron_triggers.html",
            title="Cron triggers",
        ),
    )


@router.get("/ui/event-triggers")
def event_triggers(
    request: Request,
    database: deps.DatabaseDep,
    viewer: access.ViewerDep,
    marker: str | None = None,
) -> Response:
    """Event triggers, by name, one page after ``marker``."""
    return guarded(
        request,
        lambda: list_page(
            request,
            database,
            viewer,
            queries.EVENT_TRIGGERS,
            "event_triggers",
            marker,
            template="event_triggers.html",
            title="Event triggers",
        ),
    )


@router.get("/ui/environments")
def environments(
    request: Request,
    database: deps.DatabaseDep,
    viewer: access.ViewerDep,
    marker: str | None = None,
) -> Response:
    """Environments, by name, with their variables, one page after ``marker``."""
    return guarded(
        request,
        lambda: list_page(
            request,
            database,
            viewer,
            queries.ENVIRONMENTS,
            "environments",
            marker,
            template="environments.html",
            title="Environments",
        ),
    )
