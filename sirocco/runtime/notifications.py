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
(``DEFAULT_PROPERTIES`` of ``mistral/event_engine/default_event_engine.py``), or
what an event definitions file (Mistral's ``event_definitions_cfg_file``) makes of
the event.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sirocco import errors, expressions, ids
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


@dataclass(frozen=True, slots=True, kw_only=True)
class Definition:
    """One entry of an event definitions file: the event types (shell patterns) it
    applies to, and the properties (expressions over the event) that become
    ``event_params``."""

    event_types: tuple[str, ...]
    properties: Any

    def applies_to(self, event_type: str) -> bool:
        return any(fnmatch.fnmatchcase(event_type, pattern) for pattern in self.event_types)


@dataclass(frozen=True, slots=True)
class Definitions:
    """Mistral's ``event_definitions_cfg_file``: the last entry matching an event type
    says what ``event_params`` holds; events no entry matches get the default four."""

    entries: tuple[Definition, ...] = ()

    def for_event(self, event_type: str) -> Definition | None:
        for entry in reversed(self.entries):
            if entry.applies_to(event_type):
                return entry
        return None


NO_DEFINITIONS = Definitions()


def load_definitions(path: str | None) -> Definitions:
    """The event definitions in the YAML file ``path`` (none when ``path`` is empty).

    Raises:
        errors.ConfigurationError: the file can't be read, is not YAML, or an entry lacks
            ``event_types`` or ``properties`` or holds an invalid expression (named).
    """
    if not path:
        return NO_DEFINITIONS
    where = f"the event definitions file {path}"
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise errors.ConfigurationError(f"Can't read {where}: {exc.strerror or exc}") from exc
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise errors.ConfigurationError(f"Invalid YAML syntax in {where}{at}.") from exc
    if loaded is None:
        return NO_DEFINITIONS
    if not isinstance(loaded, list):
        raise errors.ConfigurationError(f"The {where[4:]} must hold a list of entries.")
    return Definitions(
        tuple(_definition(where, index, entry) for index, entry in enumerate(loaded))
    )


def _definition(where: str, index: int, entry: Any) -> Definition:
    place = f"entry {index + 1} of {where}"
    if not isinstance(entry, dict):
        raise errors.ConfigurationError(f"Entry {index + 1} of {where} must be a mapping.")
    for required in ("event_types", "properties"):
        if required not in entry:
            raise errors.ConfigurationError(f"Required field {required} not specified ({place}).")
    event_types = entry["event_types"]
    if isinstance(event_types, str):
        event_types = [event_types]
    if not isinstance(event_types, list) or not all(isinstance(t, str) for t in event_types):
        raise errors.ConfigurationError(
            f"'event_types' of {place} must be a string or a list of strings."
        )
    problems = expressions.validate_value(entry["properties"])
    if problems:
        path, problem = problems[0]
        field = f"properties.{path}" if path else "properties"
        raise errors.ConfigurationError(f"Invalid expression in '{field}' of {place}: {problem}")
    return Definition(event_types=tuple(event_types), properties=entry["properties"])


def event_params(
    notification: Notification, definitions: Definitions = NO_DEFINITIONS
) -> dict[str, Any]:
    """What Mistral passes to the workflow as ``event_params``: the properties of the
    event's definition evaluated over the event (``event_type``, ``payload``,
    ``publisher``, ``timestamp``, ``context``), or by default its publisher as
    ``service``, the context's ``project_id`` and ``user_id``, and its ``timestamp``.

    Raises:
        errors.ExpressionEvaluationError: a property's expression failed on this event.
    """
    definition = definitions.for_event(notification.event_type)
    if definition is None:
        return {
            "service": notification.publisher_id,
            "project_id": notification.context.get("project_id"),
            "user_id": notification.context.get("user_id"),
            "timestamp": notification.timestamp,
        }
    event = {
        "event_type": notification.event_type,
        "payload": notification.payload,
        "publisher": notification.publisher_id,
        "timestamp": notification.timestamp,
        "context": dict(notification.context),
    }
    evaluated = expressions.evaluate(definition.properties, event)
    return evaluated if isinstance(evaluated, dict) else {"value": evaluated}


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


def start_payload(
    trigger: Trigger, notification: Notification, definitions: Definitions = NO_DEFINITIONS
) -> dict[str, Any]:
    """The workflow start ``trigger`` makes of ``notification`` (an outbox row's payload)."""
    description = json.dumps(
        {
            "description": f"Workflow execution created by event trigger '({trigger.id})'.",
            "triggered_by": {"type": "event_trigger", "id": trigger.id, "name": trigger.name},
        }
    )
    params = dict(trigger.workflow_params)
    params["event_params"] = event_params(notification, definitions)
    return {
        "workflow": trigger.workflow_id,
        "namespace": trigger.workflow_namespace,
        "input": dict(trigger.workflow_input),
        "params": params,
        "description": description,
        "execution_id": ids.new_id(),
        "project_id": trigger.project_id,
    }
