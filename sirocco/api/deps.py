"""What every route needs: the engine service, the clock, raw text bodies, strict query checks."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from sirocco.api.errors import ApiError
from sirocco.runtime import service as service_module
from sirocco.store.database import Database

T = TypeVar("T")

#: OpenAPI description of a text body (definition uploads).
TEXT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"text/plain": {"schema": {"type": "string"}}},
    }
}


#: The engine operations the API calls: the runtime's ``Service`` is their one
#: definition (the API tests' fake is checked against its signatures).
EngineService = service_module.Service


# The two dependencies below are coroutines only so that FastAPI calls them on the
# event loop: a plain function dependency costs a hop to the thread pool per request.


async def service(request: Request) -> EngineService:
    """The service the app was created with."""
    return service_of(request)


async def database(request: Request) -> Database:
    """The service's database."""
    return service_of(request).database


def service_of(request: Request) -> EngineService:
    """The service the app was created with, for the busiest routes: they take the
    request rather than a dependency (each one FastAPI resolves costs a little)."""
    found: EngineService = request.app.state.service
    return found


async def off_the_loop(database: Database, work: Callable[..., T], *arguments: Any) -> T:
    """``work(*arguments)``, which reads ``database``, from a coroutine route.

    On SQLite (a local file: a read by key takes microseconds and never waits on a
    network) it runs on the event loop, which saves two thread switches per call;
    on PostgreSQL it runs in the thread pool, so a slow server never stalls the loop.
    """
    if database.is_sqlite:
        return work(*arguments)
    return await run_in_threadpool(work, *arguments)


async def definition_text(request: Request) -> str:
    """The raw text body of a definition upload (any content type)."""
    request.state.text_upload = True
    body = await request.body()
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(
            f"The definition is not valid UTF-8 text [byte {exc.start}: {exc.reason}]"
        ) from exc


class StrictRoute(APIRoute):
    """A route that refuses query parameters it does not declare, as Mistral does."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        allowed = _query_names(self.dependant)

        async def strict_handler(request: Request) -> Response:
            for key in request.query_params:
                if key not in allowed:
                    raise ApiError(f'Unknown argument: "{key}"')
            return await handler(request)

        return strict_handler


def _query_names(dependant: Dependant) -> set[str]:
    names = {str(param.alias) for param in dependant.query_params}
    for dependency in dependant.dependencies:
        names |= _query_names(dependency)
    return names


def scope_of(value: str | None, *, in_body: bool = False) -> str:
    """The ``scope`` of an upload (query parameter) or of a JSON body, checked."""
    scope = value or "private"
    if scope not in ("private", "public"):
        if in_body:
            raise ApiError(
                f"Invalid input for field/attribute scope. Value: '{scope}'. "
                "Value should be one of: private, public"
            )
        raise ApiError(
            "Scope must be one of the following: ['private', 'public']; actual: " + scope
        )
    return scope


DatabaseDep = Annotated[Database, Depends(database)]
ServiceDep = Annotated[EngineService, Depends(service)]
TextBody = Annotated[str, Depends(definition_text)]
