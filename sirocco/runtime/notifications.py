"""Notifications as OpenStack services send them (oslo.messaging), and the workflow start
an event trigger makes of one, as Mistral's event engine does.

On the wire (RabbitMQ), oslo.messaging's ``messagingv2`` driver sends a JSON
envelope ``{"oslo.version": "2.0", "oslo.message": "<JSON text>"}``; the older
``messaging`` driver sends the inner message as it is. The inner message holds
``event_type``, ``payload``, ``publisher_id``, ``priority``, ``timestamp``,
``message_id`` and the request context flattened into ``_context_*`` keys.

Mistral starts the trigger's workflow with the trigger's ``workflow_input``, and
its ``workflow_params`` plus ``event_params``: the service that published the
notification, the project and user of its context and its timestamp
(``DEFAULT_PROPERTIES`` of ``mistral/event_engine/default_event_engine.py``).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sirocco import errors
from sirocco.store import definitions
from sirocco.store.event_deliveries import Trigger

#: The notification priorities an event trigger hears (Mistral's endpoint handles these).
PRIORITIES = ("audit", "critical", "debug", "error", "info")
_CONTEXT = "_context_"


@dataclass(frozen=True, slots=True, kw_only=True)
class Notification:
    """One notification, out of its envelope."""

    event_type: str
    payload: Any = None
    publisher_id: str | None = None
    timestamp: Any = None
    #: What makes this notification unique: oslo's ``message_id``, else a digest of it.
    message_id: str
    context: Mapping[str, Any] = field(default_factory=dict)


def parse(body: Any) -> Notification:
    """The notification an AMQP message body carries (envelope 2.0, or a bare message).

    Raises:
        errors.InputError: not a notification (names what is missing or wrong).
    """
    message = _json("The message", body)
    if isinstance(message, dict) and "oslo.message" in message and "oslo.version" in message:
        message = _json("Its 'oslo.message'", message["oslo.message"])
    if not isinstance(message, dict):
        raise errors.InputError(
            f"A notification is a JSON object; this message is {type(message).__name__}."
        )
    context = {
        key[len(_CONTEXT) :]: value for key, value in message.items() if key.startswith(_CONTEXT)
    }
    return of(
        event_type=message.get("event_type"),
        payload=message.get("payload"),
        publisher_id=message.get("publisher_id"),
        timestamp=message.get("timestamp", context.get("timestamp")),
        message_id=message.get("message_id") or message.get("_unique_id"),
        context=context,
        where="the notification",
    )


def of(
    *,
    event_type: Any,
    payload: Any,
    publisher_id: Any,
    timestamp: Any,
    message_id: Any,
    context: Any,
    where: str,
) -> Notification:
    """A notification from its fields, checked; ``where`` names the source in errors."""
    if not isinstance(event_type, str) or not event_type:
        raise errors.InputError(f"'event_type' of {where} must be a non-empty string.")
    if publisher_id is not None and not isinstance(publisher_id, str):
        raise errors.InputError(f"'publisher_id' of {where} must be a string.")
    if message_id is not None and (not isinstance(message_id, str) or not message_id):
        raise errors.InputError(f"'message_id' of {where} must be a non-empty string.")
    if message_id is not None and len(message_id) > 255:
        raise errors.InputError(f"'message_id' of {where} is longer than 255 characters.")
    if not isinstance(context, Mapping):
        raise errors.InputError(f"'context' of {where} must be an object.")
    digest = message_id or _digest(event_type, payload, publisher_id, timestamp, context)
    return Notification(
        event_type=event_type,
        payload=payload,
        publisher_id=publisher_id,
        timestamp=timestamp,
        message_id=digest,
        context=dict(context),
    )


def _json(what: str, value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise errors.InputError(f"{what} is not UTF-8 text: {exc}") from exc
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError as exc:
            raise errors.InputError(f"{what} is not JSON: {exc}") from exc
    return value


def _digest(*parts: Any) -> str:
    """A notification without a message id is known by its content."""
    text = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def event_params(notification: Notification) -> dict[str, Any]:
    """What Mistral passes to the workflow as ``event_params`` (its default properties)."""
    return {
        "service": notification.publisher_id,
        "project_id": notification.context.get("project_id"),
        "user_id": notification.context.get("user_id"),
        "timestamp": notification.timestamp,
    }


def fires(trigger: Trigger, notification: Notification) -> bool:
    """Whether ``notification`` fires ``trigger`` (its exchange and topic already match).

    The event type must equal the trigger's ``event``. As in Mistral, a private
    trigger hears only the notifications of its project (the context's
    ``project_id``) and a public one hears every project. A trigger made without
    authentication (the default project) hears every project too: there, all
    resources are one project's, whatever the notifying service's project is.
    """
    if notification.event_type != trigger.event:
        return False
    if trigger.scope == "public" or trigger.project_id == definitions.DEFAULT_PROJECT:
        return True
    return notification.context.get("project_id") == trigger.project_id


def start_payload(trigger: Trigger, notification: Notification) -> dict[str, Any]:
    """The workflow start ``trigger`` makes of ``notification`` (an outbox row's payload)."""
    description = json.dumps(
        {
            "description": f"Workflow execution created by event trigger '({trigger.id})'.",
            "triggered_by": {"type": "event_trigger", "id": trigger.id, "name": trigger.name},
        }
    )
    params = dict(trigger.workflow_params)
    params["event_params"] = event_params(notification)
    return {
        "workflow": trigger.workflow_id,
        "namespace": trigger.workflow_namespace,
        "input": dict(trigger.workflow_input),
        "params": params,
        "description": description,
        "execution_id": str(uuid.uuid4()),
        "project_id": trigger.project_id,
    }
