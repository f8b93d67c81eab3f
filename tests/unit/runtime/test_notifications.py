"""Notifications out of oslo.messaging's envelope, and which triggers they fire."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sirocco import errors
from sirocco.runtime import notifications
from sirocco.store.event_deliveries import Trigger

INNER = {
    "message_id": "m-1",
    "publisher_id": "compute.host1",
    "event_type": "compute.instance.create.end",
    "priority": "INFO",
    "payload": {"instance_id": "i-1"},
    "timestamp": "2026-12-07 10:00:00.000000",
    "_unique_id": "u-1",
    "_context_project_id": "tenant-a",
    "_context_user_id": "user-1",
}


def _trigger(**changes: Any) -> Trigger:
    values: dict[str, Any] = {
        "id": "t-1",
        "name": "on-create",
        "exchange": "nova",
        "topic": "notifications",
        "event": "compute.instance.create.end",
        "workflow_id": "w-1",
        "workflow_namespace": "",
        "workflow_input": {"x": 1},
        "workflow_params": {"env": {"a": 1}},
        "project_id": "tenant-a",
        "scope": "private",
    }
    values.update(changes)
    return Trigger(**values)


@pytest.mark.parametrize(
    "body",
    [
        {"oslo.version": "2.0", "oslo.message": json.dumps(INNER)},  # messagingv2
        INNER,  # messaging (no envelope)
        json.dumps(INNER).encode(),  # a body kombu did not decode
    ],
)
def test_a_notification_is_read_from_each_of_olso_formats(body: Any) -> None:
    notification = notifications.parse(body)
    assert notification.event_type == "compute.instance.create.end"
    assert notification.message_id == "m-1"
    assert notification.payload == {"instance_id": "i-1"}
    assert notification.context == {"project_id": "tenant-a", "user_id": "user-1"}
    assert notifications.event_params(notification) == {
        "service": "compute.host1",
        "project_id": "tenant-a",
        "user_id": "user-1",
        "timestamp": "2026-12-07 10:00:00.000000",
    }


def test_a_notification_without_message_id_is_known_by_its_content() -> None:
    bare = {key: value for key, value in INNER.items() if key not in ("message_id", "_unique_id")}
    first, same = notifications.parse(bare), notifications.parse(dict(bare))
    other = notifications.parse({**bare, "payload": {"instance_id": "i-2"}})
    assert first.message_id == same.message_id != other.message_id


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("not json", "The message is not JSON"),
        ({"oslo.version": "2.0", "oslo.message": "{"}, "Its 'oslo.message' is not JSON"),
        ([1, 2], "A notification is a JSON object; this message is list."),
        ({"payload": {}}, "'event_type' of the notification must be a non-empty string."),
        ({"event_type": "e", "_context_x": 1, "publisher_id": 3}, "'publisher_id' of"),
    ],
)
def test_what_is_not_a_notification_is_refused_saying_why(body: Any, message: str) -> None:
    with pytest.raises(errors.InputError) as caught:
        notifications.parse(body)
    assert caught.value.message.startswith(message)


def test_a_private_trigger_fires_only_for_its_projects_notifications() -> None:
    ours = notifications.parse(INNER)
    theirs = notifications.parse({**INNER, "_context_project_id": "tenant-b"})
    other_event = notifications.parse({**INNER, "event_type": "compute.instance.delete.end"})
    private = _trigger()
    assert notifications.fires(private, ours)
    assert not notifications.fires(private, theirs)
    assert not notifications.fires(private, other_event)
    assert notifications.fires(_trigger(scope="public"), theirs)
    assert notifications.fires(_trigger(project_id="<default-project>"), theirs)
    assert not notifications.fires(_trigger(event="compute.instance.*"), ours)  # no patterns


def test_the_start_has_mistrals_input_params_and_description() -> None:
    payload = notifications.start_payload(_trigger(), notifications.parse(INNER))
    assert payload["input"] == {"x": 1}
    assert payload["params"]["env"] == {"a": 1}
    assert payload["params"]["event_params"]["service"] == "compute.host1"
    assert payload["project_id"] == "tenant-a"
    assert json.loads(payload["description"]) == {
        "description": "Workflow execution created by event trigger '(t-1)'.",
        "triggered_by": {"type": "event_trigger", "id": "t-1", "name": "on-create"},
    }


DEFINITIONS = """
- event_types: compute.instance.*
  properties:
    instance: <% $.payload.instance_id %>
    project: <% $.context.project_id %>
- event_types: [compute.instance.create.end]
  properties:
    created: '{{ _.payload.instance_id }}'
    by: <% $.publisher %>
"""


def _definitions(tmp_path: Any, text: str) -> notifications.Definitions:
    path = tmp_path / "Event_Definitions.yml"
    path.write_text(text)
    return notifications.load_definitions(str(path))


def test_the_last_matching_event_definition_makes_the_event_params(tmp_path: Any) -> None:
    definitions = _definitions(tmp_path, DEFINITIONS)
    created = notifications.parse(INNER)
    deleted = notifications.parse({**INNER, "event_type": "compute.instance.delete.end"})
    other = notifications.parse({**INNER, "event_type": "volume.create.end"})
    assert notifications.event_params(created, definitions) == {
        "created": "i-1",
        "by": "compute.host1",
    }
    assert notifications.event_params(deleted, definitions) == {
        "instance": "i-1",
        "project": "tenant-a",
    }
    assert notifications.event_params(other, definitions)["service"] == "compute.host1"
    start = notifications.start_payload(_trigger(), created, definitions)
    assert start["params"]["event_params"] == {"created": "i-1", "by": "compute.host1"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- event_types: [a\n", "Invalid YAML syntax in the event definitions file "),
        ("event_types: a\n", "The event definitions file "),
        ("- just text\n", "Entry 1 of the event definitions file "),
        ("- properties: {}\n", "Required field event_types not specified (entry 1 of "),
        ("- event_types: a\n", "Required field properties not specified (entry 1 of "),
        ("- event_types: [1]\n  properties: {}\n", "'event_types' of entry 1 of "),
        (
            "- event_types: a\n  properties:\n    x: <% $.a + %>\n",
            "Invalid expression in 'properties.x' of entry 1 of ",
        ),
    ],
)
def test_a_wrong_definitions_file_is_refused_naming_the_place(
    tmp_path: Any, text: str, message: str
) -> None:
    with pytest.raises(errors.ConfigurationError) as caught:
        _definitions(tmp_path, text)
    assert caught.value.message.startswith(message), caught.value.message
    assert "Event_Definitions.yml" in caught.value.message


def test_a_missing_definitions_file_is_refused(tmp_path: Any) -> None:
    with pytest.raises(errors.ConfigurationError) as caught:
        notifications.load_definitions(str(tmp_path / "nope.yml"))
    assert caught.value.message.startswith("Can't read the event definitions file ")
    assert notifications.load_definitions(None) == notifications.NO_DEFINITIONS


def test_a_definition_that_fails_on_an_event_says_which_expression(tmp_path: Any) -> None:
    definitions = _definitions(
        tmp_path, "- event_types: e\n  properties:\n    x: <% $.payload.a.b %>\n"
    )
    broken = notifications.parse({"event_type": "e", "payload": {"a": 1}})
    with pytest.raises(errors.ExpressionEvaluationError):
        notifications.event_params(broken, definitions)
