"""Stored rows as Mistral's JSON resources: field order, JSON-in-string fields, timestamps.

Mistral's API returns the fields it types "json" (``input``, ``output``,
``params``, ``variables``, ...) as JSON *strings*, times as
``YYYY-MM-DD HH:MM:SS`` and ``updated_at`` as null until the first update.
Bodies are serialised like Mistral's (``json.dumps`` defaults: ``", "`` and
``": "`` separators, ASCII escapes).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from starlette.responses import Response

#: Fields sent as JSON text.
JSON_FIELDS: frozenset[str] = frozenset(
    {
        "input",
        "output",
        "params",
        "published",
        "published_global",
        "runtime_context",
        "env",
        "variables",
        "workflow_input",
        "workflow_params",
        "interface",
    }
)
#: JSON fields that read ``"{}"`` rather than null when nothing is stored.
EMPTY_OBJECT_FIELDS: frozenset[str] = frozenset(
    {"params", "input", "published", "runtime_context", "workflow_input", "workflow_params"}
)

# Fields each resource shows, in Mistral's order.
WORKBOOK = (
    "id", "name", "namespace", "definition", "tags", "scope", "project_id", "created_at",
    "updated_at",
)  # fmt: skip
WORKFLOW = (
    "id", "name", "namespace", "input", "interface", "definition", "checksum", "tags", "scope",
    "project_id", "created_at", "updated_at",
)  # fmt: skip
ACTION = (
    "id", "name", "is_system", "input", "description", "tags", "definition", "scope",
    "project_id", "created_at", "updated_at", "namespace",
)  # fmt: skip
ENVIRONMENT = (
    "id", "name", "description", "variables", "scope", "project_id", "created_at", "updated_at",
)  # fmt: skip
CRON_TRIGGER = (
    "id", "name", "workflow_name", "workflow_id", "workflow_input", "workflow_params",
    "project_id", "scope", "pattern", "remaining_executions", "first_execution_time",
    "next_execution_time", "created_at", "updated_at",
)  # fmt: skip
EVENT_TRIGGER = (
    "id", "created_at", "updated_at", "project_id", "name", "workflow_id", "workflow_input",
    "workflow_params", "exchange", "topic", "event", "scope",
)  # fmt: skip
EXECUTION = (
    "id", "workflow_id", "workflow_name", "workflow_namespace", "description", "tags", "params",
    "task_execution_id", "root_execution_id", "source_execution_id", "state", "state_info",
    "input", "output", "created_at", "updated_at", "project_id", "published_global",
)  # fmt: skip
TASK = (
    "id", "name", "type", "workflow_name", "workflow_namespace", "workflow_id",
    "workflow_execution_id", "tags", "state", "state_info", "project_id", "runtime_context",
    "result", "published", "published_global", "processed", "created_at", "updated_at",
    "started_at", "finished_at", "reset", "env",
)  # fmt: skip
ACTION_EXECUTION = (
    "id", "workflow_name", "workflow_namespace", "task_name", "task_execution_id", "state",
    "state_info", "tags", "name", "description", "project_id", "accepted", "input", "output",
    "created_at", "updated_at", "params",
)  # fmt: skip

_COMPLETED = frozenset({"SUCCESS", "ERROR", "CANCELLED", "SKIPPED"})


def timestamp(value: Any) -> Any:
    """A datetime as Mistral shows it (``2026-01-31 12:00:00``); other values unchanged."""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return value


def json_text(value: Any) -> str:
    """A value as JSON text, the way Mistral serialises its json-typed fields."""
    return json.dumps(value, default=_default)


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return timestamp(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


def resource(
    row: Mapping[str, Any],
    order: Sequence[str],
    *,
    only: Iterable[str] | None = None,
    drop: Iterable[str] = (),
    objects: Iterable[str] = (),
    text_fields: Iterable[str] = (),
) -> dict[str, Any]:
    """Mistral's JSON object for one row.

    Args:
        row: field name -> stored value (fields absent from the row are not shown).
        order: the resource's fields in Mistral's order.
        only: show only these fields (a ``fields=`` request); ``id`` is always kept.
        drop: fields not shown in this context (e.g. ``output`` in lists).
        objects: JSON fields sent as real objects instead of text.
        text_fields: fields sent as they are even though their name is a JSON field.
    """
    wanted = None if only is None else {"id", *only}
    dropped = set(drop)
    as_objects = set(objects)
    as_text = set(text_fields)
    shown: dict[str, Any] = {}
    for name in order:
        if name not in row or name in dropped or (wanted is not None and name not in wanted):
            continue
        value = row[name]
        if name in JSON_FIELDS and name not in as_text:
            if value is None and name in EMPTY_OBJECT_FIELDS:
                value = {}
            if value is not None and name not in as_objects:
                value = json_text(value)
        shown[name] = timestamp(value)
    return shown


def action_output(row: Mapping[str, Any]) -> Any:
    """An action execution's output as Mistral stores it: ``{"result": ...}`` once complete."""
    output = row.get("output")
    state = row.get("state")
    if output is None and state not in _COMPLETED:
        return None
    if output is None and state == "ERROR":
        output = row.get("state_info") or "Unknown error"
    return {"result": output}


def task_result(value: Any) -> str:
    """A task's ``result`` is JSON text too."""
    return json_text(value)


class MistralJSONResponse(Response):
    """JSON serialised the way Mistral does it (``json.dumps`` defaults)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return json.dumps(content, default=_default).encode("utf-8")
