"""The OpenAPI document at ``/openapi.json``, made to say what the API really answers.

FastAPI's generated document promises a 422 validation error we never send
and a string body for every answer. This module rewrites each operation's
responses: its success status with a JSON object (or no body for 204), and
Mistral's error body for the client errors it can answer (400 always, 404
where something is looked up, 403 and 409 where Mistral refuses or finds a
duplicate).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

#: Mistral's error body: ``faultstring`` always; ``faultcode`` and ``debuginfo`` on JSON routes.
FAULT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "faultcode": {"type": "string", "enum": ["Client", "Server"]},
        "faultstring": {"type": "string"},
        "debuginfo": {"type": ["string", "null"]},
    },
    "required": ["faultstring"],
}
_FAULT_REF = {"$ref": "#/components/schemas/Fault"}
_REASONS = {
    400: "Bad request: the message names what is wrong",
    403: "Refused (e.g. deleting an unfinished execution without force)",
    404: "Not found",
    409: "Duplicate entry",
}
#: (method, path) -> the extra client errors Mistral can answer there (400 and 404 are on all).
_EXTRA: dict[tuple[str, str], tuple[int, ...]] = {
    ("post", "/v2/workflows"): (409,),
    ("post", "/v2/workbooks"): (409,),
    ("post", "/v2/actions"): (409,),
    ("post", "/v2/environments"): (409,),
    ("post", "/v2/cron_triggers"): (409,),
    ("post", "/v2/event_triggers"): (409,),
    ("put", "/v2/executions/{execution_id}"): (403,),
    ("delete", "/v2/executions/{execution_id}"): (403,),
    ("delete", "/v2/action_executions/{action_execution_id}"): (403,),
}
_NO_ERRORS = frozenset({"/", "/v2", "/v2/", "/maintenance"})


def document(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI document (built once, then cached on the app)."""
    if app.openapi_schema is not None:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        description=app.description,
        routes=app.routes,
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    components["Fault"] = FAULT_SCHEMA
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            operation["responses"] = _responses(path, method, operation.get("responses", {}))
    app.openapi_schema = schema
    return schema


def _responses(path: str, method: str, generated: dict[str, Any]) -> dict[str, Any]:
    success = next((code for code in generated if code.startswith("2")), "200")
    responses: dict[str, Any] = {}
    if success == "204":
        responses["204"] = {"description": "Done; no body"}
    else:
        responses[success] = {
            "description": "Mistral's JSON resource (or list of resources)",
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    # Every route refuses unknown query parameters with a 400.
    codes = (400,) if path in _NO_ERRORS else (400, 404, *_EXTRA.get((method, path), ()))
    for code in codes:
        responses[str(code)] = {
            "description": _REASONS[code],
            "content": {"application/json": {"schema": _FAULT_REF}},
        }
    return responses
