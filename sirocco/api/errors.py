"""The one map from Sirocco's errors to HTTP status codes and Mistral's error body.

Mistral answers a client error with ``{"faultcode": "Client", "faultstring":
<message>, "debuginfo": null}``; the definition uploads (text bodies) answer
with ``{"faultstring": <message>}`` alone. Validation problems of a request
(a bad query value, a malformed JSON body) are 400, never 422; anything
unexpected is a 500 whose body says "Server" and carries no traceback.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from sirocco import errors
from sirocco.store import database

log = logging.getLogger("sirocco.api")

#: Most specific first: the first class an error is an instance of decides its status.
STATUS_CODES: tuple[tuple[type[errors.SiroccoError], int], ...] = (
    (errors.NotFoundError, 404),
    (errors.ConflictError, 409),
    (errors.DefinitionError, 400),
    (errors.ExpressionError, 400),
    (errors.InputError, 400),
    (errors.ActionError, 400),
    (errors.InvalidStateError, 400),
    (errors.ConfigurationError, 500),
    (errors.OverloadedError, 429),
    (errors.UnavailableError, 503),
)


class ApiError(Exception):
    """A client error decided by the API itself, with its status code (e.g. 403)."""

    def __init__(self, message: str, status_code: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code


def status_of(error: errors.SiroccoError) -> int:
    """The HTTP status code for a Sirocco error."""
    for cls, status in STATUS_CODES:
        if isinstance(error, cls):
            return status
    return 400


def fault_response(request: Request | None, message: str, status_code: int) -> Response:
    """Mistral's error body for ``message`` (the short form for text uploads)."""
    text_upload = request is not None and getattr(request.state, "text_upload", False)
    if text_upload:
        body: dict[str, Any] = {"faultstring": message}
    else:
        faultcode = "Server" if status_code >= 500 else "Client"
        body = {"faultcode": faultcode, "faultstring": message, "debuginfo": None}
    return Response(
        content=json.dumps(body),
        status_code=status_code,
        media_type="application/json",
    )


def validation_message(error: RequestValidationError, argument: str = "body") -> str:
    """One line in Mistral's words for the first problem FastAPI found in a request."""
    problems = error.errors()
    if not problems:
        return "Invalid request."
    first = problems[0]
    kind = str(first.get("type", ""))
    location = [str(part) for part in first.get("loc", ())]
    name = location[1] if len(location) > 1 and location[0] == "body" else (location or [""])[-1]
    if location == ["body"]:
        name = argument  # the body as a whole: Mistral names the argument (wf_ex, ...)
    if kind == "json_invalid":
        return "Request is not in valid JSON format"
    if kind == "extra_forbidden":
        return f"Unknown attribute for argument {argument}: {name}"
    if kind == "missing" and location[:1] == ["body"] and len(location) == 1:
        return f'Missing argument: "{argument}"'
    value = first.get("input")
    return f"Invalid input for field/attribute {name}. Value: '{value}'. {first.get('msg', '')}"


def _body_name(request: Request) -> str:
    route = request.scope.get("route")
    field = getattr(route, "body_field", None)
    return str(getattr(field, "name", "body"))


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into Mistral's error body."""

    async def on_sirocco_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, errors.SiroccoError)
        status = status_of(error)
        if status >= 500:
            log.error(
                "request failed", extra={"path": request.url.path, "error": type(error).__name__}
            )
        response = fault_response(request, error.message, status)
        if isinstance(error, errors.UnavailableError):
            response.headers["Retry-After"] = str(error.retry_after)
        return response

    async def on_database_error(request: Request, error: Exception) -> Response:
        if not database.is_outage(error):
            return await on_unexpected(request, error)
        log.warning("database unavailable", extra={"path": request.url.path})
        response = fault_response(
            request, "The database can't be reached now; try again later.", 503
        )
        response.headers["Retry-After"] = "5"
        return response

    async def on_api_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, ApiError)
        return fault_response(request, error.message, error.status_code)

    async def on_validation_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, RequestValidationError)
        return fault_response(request, validation_message(error, _body_name(request)), 400)

    async def on_http_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, StarletteHTTPException)
        if error.status_code == 404 and error.detail == "Not Found":
            message = f"The resource could not be found: {request.url.path}"
        else:
            message = str(error.detail)
        response = fault_response(request, message, error.status_code)
        for key, value in (error.headers or {}).items():
            response.headers[key] = value
        return response

    async def on_unexpected(request: Request, error: Exception) -> Response:
        if isinstance(error, RecursionError):
            # JSON nested deeper than Python's parser or a walk over it can go.
            return fault_response(request, "The request is nested too deeply.", 400)
        log.exception("unexpected error", extra={"path": request.url.path})
        return fault_response(request, "Internal server error.", 500)

    app.add_exception_handler(errors.SiroccoError, on_sirocco_error)
    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(database.DatabaseError, on_database_error)
    app.add_exception_handler(Exception, on_unexpected)
