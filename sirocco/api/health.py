"""``GET /live`` (the process answers), ``GET /health`` (it is sound: its threads live, its
database and broker answer; 503 with the faults otherwise) and ``GET /ready`` (it can do
its work now: sound and not held back by maintenance; 503 with the reasons otherwise)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from sirocco import clock
from sirocco.api import deps
from sirocco.api.render import MistralJSONResponse

router = APIRouter(route_class=deps.StrictRoute, tags=["health"])


@router.get("/live")
async def live() -> Response:
    """The process is alive and serves requests (a liveness check: 200 through outages)."""
    return MistralJSONResponse({"status": "ok"})


@router.get("/health")
def health(request: Request) -> Response:
    """Whether this process is sound: 503 with the faults while its database or broker is
    out of reach or a thread is dead or failing (not for maintenance: see ``/ready``)."""
    return _answer(request, faults_only=True)


@router.get("/ready")
def ready(request: Request) -> Response:
    """Whether this process can do its work now; 503 with the reasons when it can't (a
    fault as for ``/health``, or a condition such as maintenance)."""
    return _answer(request, faults_only=False)


def _answer(request: Request, *, faults_only: bool) -> Response:
    readiness = getattr(request.app.state, "readiness", None)
    if readiness is None:
        return MistralJSONResponse({"status": "ok"})
    status, body = readiness().answer(faults_only=faults_only)
    headers = {"Retry-After": "5"} if status == 503 else None
    return MistralJSONResponse(body, status_code=status, headers=headers)


@router.get("/metrics", include_in_schema=False)
def metrics_page(request: Request) -> Response:
    """Prometheus metrics of this process (``docs/operations.md``)."""
    from sirocco.runtime import metrics

    service = request.app.state.service
    database = getattr(service, "database", None)
    if database is not None:
        metrics.METRICS.watch(database, clock.utcnow)
    return Response(metrics.METRICS.exposition(), media_type=metrics.CONTENT_TYPE)
