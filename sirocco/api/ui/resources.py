"""Pages of the other resources, as lists: cron triggers, event triggers, environments."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from sirocco.api import deps
from sirocco.api.ui import access, templating
from sirocco.store import pages as reads
from sirocco.store import queries

router = APIRouter(include_in_schema=False, dependencies=[Depends(access.viewer)])


@router.get("/ui/cron-triggers")
def cron_triggers(request: Request, database: deps.DatabaseDep) -> Response:
    """Cron triggers, by name."""
    with database.read() as connection:
        rows = reads.listing(connection, queries.CRON_TRIGGERS)
    return templating.page(request, "cron_triggers.html", title="Cron triggers", items=rows)


@router.get("/ui/event-triggers")
def event_triggers(request: Request, database: deps.DatabaseDep) -> Response:
    """Event triggers, by name."""
    with database.read() as connection:
        rows = reads.listing(connection, queries.EVENT_TRIGGERS)
    return templating.page(request, "event_triggers.html", title="Event triggers", items=rows)


@router.get("/ui/environments")
def environments(request: Request, database: deps.DatabaseDep) -> Response:
    """Environments, by name, with their variables."""
    with database.read() as connection:
        rows = reads.listing(connection, queries.ENVIRONMENTS)
    return templating.page(request, "environments.html", title="Environments", items=rows)
