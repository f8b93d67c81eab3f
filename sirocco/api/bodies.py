"""The JSON bodies the API accepts (pydantic), and Mistral's rules for JSON-typed fields.

Mistral refuses attributes a resource does not have, and accepts a
json-typed field (``input``, ``params``, ``variables``, ...) either as an
object or as a JSON string holding one.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from sirocco.api.errors import ApiError

JsonField = dict[str, Any] | str | None


class Body(BaseModel):
    """A request body: unknown attributes are refused."""

    model_config = ConfigDict(extra="forbid")


class MemberBody(Body):
    id: str | None = None
    resource_id: str | None = None
    resource_type: str | None = None
    project_id: str | None = None
    member_id: str | None = None
    status: str | None = None
    created_at: str | None = None
    updated_at: str | None = None


class EnvironmentBody(Body):
    id: str | None = None
    name: str | None = None
    description: str | None = None
    variables: JsonField = None
    scope: str | None = None
    project_id: str | None = None
    created_at: str | None = None
    updated_at: str | None = None


class CronTriggerBody(Body):
    id: str | None = None
    name: str | None = None
    workflow_name: str | None = None
    workflow_id: str | None = None
    workflow_input: JsonField = None
    workflow_params: JsonField = None
    project_id: str | None = None
    scope: str | None = None
    pattern: str | None = None
    remaining_executions: int | None = Field(default=None, ge=1)
    first_execution_time: str | None = None
    next_execution_time: str | None = None
    created_at: str | None = None
    updated_at: str | None = None


class EventTriggerBody(Body):
    id: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    project_id: str | None = None
    name: str | None = None
    workflow_id: str | None = None
    workflow_input: JsonField = None
    workflow_params: JsonField = None
    exchange: str | None = None
    topic: str | None = None
    event: str | None = None
    scope: str | None = None


class EventBody(Body):
    """An event posted to an event trigger: a notification's fields (all optional)."""

    event_type: str | None = None
    payload: Any = None
    publisher_id: str | None = None
    timestamp: str | None = None
    message_id: str | None = None
    context: dict[str, Any] | None = None


class ExecutionBody(Body):
    id: str | None = None
    workflow_id: str | None = None
    workflow_name: str | None = None
    workflow_namespace: str | None = None
    description: str | None = None
    tags: list[str] | None = None
    params: JsonField = None
    task_execution_id: str | None = None
    root_execution_id: str | None = None
    source_execution_id: str | None = None
    state: str | None = None
    state_info: str | None = None
    input: JsonField = None
    output: JsonField = None
    created_at: str | None = None
    updated_at: str | None = None
    project_id: str | None = None
    published_global: JsonField = None


class TaskBody(Body):
    id: str | None = None
    name: str | None = None
    type: str | None = None
    workflow_name: str | None = None
    workflow_namespace: str | None = None
    workflow_id: str | None = None
    workflow_execution_id: str | None = None
    tags: list[str] | None = None
    state: str | None = None
    state_info: str | None = None
    project_id: str | None = None
    runtime_context: JsonField = None
    result: str | None = None
    published: JsonField = None
    published_global: JsonField = None
    processed: bool | None = None
    created_at: str | None = None
    updated_at: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    reset: bool | None = None
    env: JsonField = None


class ActionExecutionBody(Body):
    id: str | None = None
    workflow_name: str | None = None
    workflow_namespace: str | None = None
    task_name: str | None = None
    task_execution_id: str | None = None
    state: str | None = None
    state_info: str | None = None
    tags: list[str] | None = None
    name: str | None = None
    description: str | None = None
    project_id: str | None = None
    accepted: bool | None = None
    input: JsonField = None
    output: Any = None
    created_at: str | None = None
    updated_at: str | None = None
    params: JsonField = None


def json_object(name: str, value: Any) -> dict[str, Any] | None:
    """A json-typed field as a dict (None stays None; ``""`` and ``{}`` are empty)."""
    if value is None:
        return None
    if isinstance(value, str):
        if not value.strip():
            return {}
        value = _parse(name, value)
    if not value:
        return {}
    if not isinstance(value, dict):
        raise ApiError(f"JsonType field value must be a dictionary [actual={value}]")
    return value


def json_value(name: str, value: Any) -> Any:
    """A JSON value given as such or as JSON text (action results may be any JSON)."""
    if isinstance(value, str):
        return _parse(name, value)
    return value


def _parse(name: str, text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ApiError(
            f"Invalid input for field/attribute {name}. Value: '{_quote(text)}'. {exc}"
        ) from exc
    except RecursionError as exc:
        raise ApiError(
            f"Invalid input for field/attribute {name}. Value: '{_quote(text)}'. "
            "The JSON is nested too deeply."
        ) from exc


def _quote(text: str) -> str:
    return text if len(text) <= 200 else text[:200] + "..."
