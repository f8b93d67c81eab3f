"""``GET /health`` (the process answers) and ``GET /ready`` (it can do its work: its threads
live and its database answers; 503 with the reasons otherwise)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from sirocco import clock
from sirocco.api import deps
from sirocco.api.render import MistralJSONResponse

router = APIRouter(route_class=deps.StrictRoute, tags=["health"])


@router.get("/health")
async def health() -> Response:
    """The process is alive and serves requests."""
    return MistralJSONResponse({"status": "ok"})


@router.get("/ready")
def ready(request: Request) -> Response:
    """Whether this process can do its work now; 503 with the reasons when it can't."""
    readiness = getattr(request.app.state, "readiness", None)
    if readiness is None:
        return MistralJSONResponse({"status": "ok"})
    report = readiness()
    if report.ready:
        return MistralJSONResponse({"status": "ok"})
    return MistralJSONResponse(
        {"status": "unavailable", "reasons": list(report.reasons)},
        status_code=503,
        headers={"Retry-After": "5"},
    )


@router.get("/metrics", include_in_schema=False)
def metrics_page(request: Request) -> Response:
    """Prometheus metrics of this process (``docs/operations.md``)."""
    from sirocco.runtime import metrics

    service = request.app.state.service
    database = getattr(service, "database", None)
    if database is not None:
        metrics.METRICS.watch(database, clock.utcnow)
    return Response(metrics.METRICS.exposition(), media_type=metrics.CONTENT_TYPE)
