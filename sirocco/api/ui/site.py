"""The web view put together: its routers and its static files, added to the API app."""

from __future__ import annotations

from fastapi import FastAPI, Request
from starlette.responses import RedirectResponse, Response
from starlette.staticfiles import StaticFiles

from sirocco.api.ui import definitions, executions, login, resources, templating


def install(app: FastAPI) -> None:
    """Serve the pages under ``/ui/`` in ``app`` (before the API's routes)."""
    for module in (executions, definitions, resources, login):
        app.include_router(module.router)

    @app.get("/ui", include_in_schema=False)
    def ui_root() -> Response:
        return RedirectResponse("/ui/", status_code=307)

    @app.get("/ui/static/highlight.css", include_in_schema=False)
    def highlight_css() -> Response:
        return Response(templating.highlight_css(), media_type="text/css")

    app.mount(
        "/ui/static",
        StaticFiles(packages=[("sirocco.api.ui", "static")]),
        name="ui-static",
    )


def home(request: Request) -> Response:
    """Where a browser asking for ``/`` is sent."""
    return RedirectResponse("/ui/", status_code=303)
