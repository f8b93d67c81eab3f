"""Large values by reference: stored once in ``blobs``, read back in full, deleted with the
last execution that refers to them (docs/limits.md, "Large values by reference")."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from sirocco import references
from sirocco.api.app import create_app
from sirocco.cli.embedded import Embedded
from sirocco.store import blobs, json_text, tables
from tests.integration import helpers

#: Small enough that the test's values go to the blob table, large enough that ids do not.
THRESHOLD = 1000

WORKFLOW = """
version: '2.0'
big:
  input:
    - blob
  tasks:
    first:
      action: std.echo output=<% $.blob %>
      publish:
        copy: <% task().result %>
      on-success: second
    second:
      action: std.echo output=<% {value => $.copy, size => len($.copy)} %>
      publish:
        size: <% task().result.size %>
        same: <% task().result.value = $.blob %>
        wrapped: <% task().result %>
  output:
    size: <% $.size %>
    same: <% $.same %>
    copy: <% $.copy %>
"""

READER = """
version: '2.0'
reader:
  input:
    - other
  tasks:
    read:
      action: std.noop
      publish:
        size: <% len(tasks($.other).where($.name = first).first().result) %>
  output:
    size: <% $.size %>
"""

VALUE = "blob-" + "x" * 5000


@pytest.fixture
def app(database_url: str) -> Iterator[Embedded]:
    with helpers.embedded(database_url) as embedded:
        blobs.configure(embedded.parts.database.engine, threshold=THRESHOLD)
        helpers.deploy(embedded, WORKFLOW)
        yield embedded


def _run(app: Embedded, value: Any = VALUE) -> str:
    execution_id = helpers.start(app, "big", {"blob": value})
    row = helpers.wait_for(app, execution_id)
    assert row.state == "SUCCESS", row.state_info
    return execution_id


def _stored(app: Embedded) -> tuple[int, int]:
    with app.parts.database.read() as connection:
        return blobs.count(connection)


def _reference(stored: Any) -> str:
    assert references.is_reference(stored), stored
    return str(stored[references.REF_KEY])


def test_a_large_result_is_stored_once_and_later_tasks_read_it(app: Embedded) -> None:
    execution_id = _run(app)
    row = helpers.execution(app, execution_id)
    first = helpers.task(app, execution_id, "first")
    second = helpers.task(app, execution_id, "second")
    # The rows hold references: the input, the first result, what both tasks published.
    digest = _reference(row.input["blob"])
    assert _reference(first.result) == digest
    assert _reference(first.published["copy"]) == digest
    assert _reference(row.output["copy"]) == digest
    assert second.published["size"] == len(VALUE)
    assert second.published["same"] is True
    # The second result (an object holding the value) is a blob of its own.
    assert _reference(second.result) != digest
    assert second.result["kind"] == references.OBJECT
    # One blob per distinct value, whatever the number of rows that refer to it.
    assert _stored(app) == (2, 2)
    with app.parts.database.read() as connection:
        data = connection.execute(
            sa.select(tables.blobs.c.data).where(tables.blobs.c.digest == digest)
        ).scalar_one()
    # A text is stored as it is, under its SHA-256 marked as a text.
    assert data == VALUE
    assert digest == blobs.text_digest(VALUE) and blobs.is_text(digest)


def test_get_serves_stored_values_in_full(app: Embedded) -> None:
    execution_id = _run(app)
    client = TestClient(create_app(app.service), base_url="http://sirocco.test")
    execution = client.get(f"/v2/executions/{execution_id}").json()
    assert execution["input"] == f'{{"blob": "{VALUE}"}}'
    output = json.loads(execution["output"])
    assert output == {"size": len(VALUE), "same": True, "copy": VALUE}
    tasks = client.get(f"/v2/executions/{execution_id}/tasks").json()["tasks"]
    by_name = {task["name"]: task for task in tasks}
    first = client.get(f"/v2/tasks/{by_name['first']['id']}").json()
    assert json.loads(first["result"]) == VALUE
    assert json.loads(first["published"]) == {"copy": VALUE}
    actions = client.get(f"/v2/tasks/{by_name['second']['id']}/action_executions").json()
    (action,) = actions["action_executions"]
    shown = client.get(f"/v2/action_executions/{action['id']}").json()
    assert json.loads(shown["output"]) == {"result": {"value": VALUE, "size": len(VALUE)}}


def test_deleting_an_execution_deletes_the_blobs_no_other_execution_refers_to(
    app: Embedded,
) -> None:
    shared = _run(app)
    other = _run(app)
    alone = _run(app, "other-" + "y" * 5000)
    # The shared value and its wrapped copy, twice referred to; the other value's pair.
    assert _stored(app) == (4, 6)
    app.service.delete_execution(shared, force=True)
    assert _stored(app) == (4, 4)
    app.service.delete_execution(other, force=True)
    assert _stored(app) == (2, 2)
    app.service.delete_execution(alone, force=True)
    assert _stored(app) == (0, 0)


def test_a_value_is_loaded_from_the_database_by_a_process_that_never_held_it(
    database_url: str,
) -> None:
    with helpers.embedded(database_url) as first_process:
        blobs.configure(first_process.parts.database.engine, threshold=THRESHOLD)
        helpers.deploy(first_process, WORKFLOW)
        helpers.deploy(first_process, READER)
        execution_id = _run(first_process)
    with helpers.embedded(database_url) as second_process:
        store = blobs.store_for(second_process.parts.database.engine)
        store.threshold = THRESHOLD
        reader = helpers.start(second_process, "reader", {"other": execution_id})
        row = helpers.wait_for(second_process, reader)
        assert (row.state, row.output) == ("SUCCESS", {"size": len(VALUE)}), row.state_info
        # Read from the database: the two results ``tasks()`` lists (first's and second's).
        assert store.reads == 2


def test_small_values_stay_in_their_rows(app: Embedded) -> None:
    execution_id = _run(app, "small")
    assert helpers.execution(app, execution_id).output == {
        "size": 5,
        "same": True,
        "copy": "small",
    }
    assert _stored(app) == (0, 0)


@pytest.mark.parametrize("per_read", [2, 5])
def test_a_long_value_is_written_and_read_in_pieces(
    database_url: str, monkeypatch: pytest.MonkeyPatch, per_read: int
) -> None:
    monkeypatch.setattr(blobs, "CHUNK_CHARS", 1024)
    # Read a few pieces per statement: 2 (three reads, the last one short), 5 (all five in
    # one read, then one that finds none).
    monkeypatch.setattr(blobs, "PIECES_PER_READ", per_read)
    value = "".join(chr(0x41 + n % 26) for n in range(5000)) + "é"
    with helpers.embedded(database_url) as first_process:
        blobs.configure(first_process.parts.database.engine, threshold=THRESHOLD)
        helpers.deploy(first_process, WORKFLOW)
        helpers.deploy(first_process, READER)
        execution_id = _run(first_process, value)
        with first_process.parts.database.read() as connection:
            pieces = connection.execute(
                sa.select(tables.blob_chunks.c.data)
                .where(tables.blob_chunks.c.digest == blobs.text_digest(value))
                .order_by(tables.blob_chunks.c.seq)
            ).scalars()
            assert [len(piece) for piece in pieces] == [1024] * 4 + [905]
    with helpers.embedded(database_url) as second_process:
        blobs.store_for(second_process.parts.database.engine).threshold = THRESHOLD
        client = TestClient(create_app(second_process.service), base_url="http://sirocco.test")
        shown = client.get(f"/v2/executions/{execution_id}").json()
        assert json.loads(shown["output"])["copy"] == value
        # A has: filter finds text across the boundary of two pieces (at 1024).
        for needle, found in ((value[1020:1030], 1), (value[1020:1030] + "!", 0)):
            listed = client.get("/v2/tasks", params={"result": f"has:{needle}", "name": "first"})
            assert len(listed.json()["tasks"]) == found, needle
        second_process.service.delete_execution(execution_id)
        assert _stored(second_process) == (0, 0)
        with second_process.parts.database.read() as connection:
            left = connection.execute(sa.select(sa.func.count()).select_from(tables.blob_chunks))
            assert left.scalar_one() == 0


HOLDING = """
version: '2.0'
holding:
  input:
    - blob
  tasks:
    hold:
      action: test.hold value=<% $.blob %>
      publish:
        size: <% len(task().result) %>
  output:
    size: <% $.size %>
"""


def test_a_run_action_row_carries_a_large_input_by_reference(
    app: Embedded, gate: threading.Event
) -> None:
    from sirocco.runtime import codec

    helpers.deploy(app, HOLDING)
    execution_id = helpers.start(app, "holding", {"blob": VALUE})
    hold = helpers.wait_task(app, execution_id, "hold", ["RUNNING"])
    helpers.wait_for_actions(app, hold.id, ["RUNNING"])
    with app.parts.database.read() as connection:
        payload = connection.execute(
            sa.select(tables.outbox.c.payload).where(
                tables.outbox.c.workflow_execution_id == execution_id,
                tables.outbox.c.kind == "RunAction",
            )
        ).scalar_one()
    assert _reference(payload["input"]["value"]) == blobs.text_digest(VALUE)
    # What an executor decodes (a redelivery, another process): a lazy blob of the value.
    command = codec.decode(payload)
    assert type(command.input["value"]) is references.Blob
    assert command.input["value"].load() == VALUE
    gate.set()
    row = helpers.wait_for(app, execution_id)
    assert (row.state, row.output) == ("SUCCESS", {"size": len(VALUE)}), row.state_info


def test_expiration_exports_values_in_full_and_deletes_their_blobs(
    app: Embedded, tmp_path: Path
) -> None:
    from sirocco.runtime import expiration as periodic
    from sirocco.store import expiration

    execution_id = _run(app)
    export = tmp_path / "expired.jsonl"
    policy = expiration.Policy(max_finished_executions=0)
    assert periodic.run_once(app.parts.database, policy, app.parts.runtime.clock(), export) == 1
    (record,) = [json.loads(line) for line in export.read_text().splitlines()]
    assert record["id"] == execution_id
    assert record["input"] == {"blob": VALUE}
    assert record["output"]["copy"] == VALUE
    first = next(task for task in record["tasks"] if task["name"] == "first")
    assert (first["result"], first["published"]) == (VALUE, {"copy": VALUE})
    assert first["actions"][0]["output"] == VALUE
    assert _stored(app) == (0, 0)


def test_sirocco_inspect_and_run_show_published_values_in_full(app: Embedded) -> None:
    from sirocco.cli import running
    from sirocco.store import overview

    execution_id = _run(app)
    with app.parts.database.read() as connection:
        tree = overview.tree(connection, execution_id)
    first = next(task for task in tree["children"] if task["name"] == "first")
    assert first["published"] == {"copy": VALUE}
    report = running.read_report(app, execution_id)
    assert report["output"]["copy"] == VALUE
    assert report["tasks"][0]["published"] == {"copy": VALUE}


ENV_READER = """
version: '2.0'
env_reader:
  tasks:
    read:
      action: std.echo output=<% env().big %>
      publish:
        size: <% len(task().result) %>
  output:
    size: <% $.size %>
"""


def test_a_large_env_is_stored_by_reference_and_read_in_full(app: Embedded) -> None:
    helpers.deploy(app, ENV_READER)
    execution_id = helpers.start(app, "env_reader", {}, env={"big": VALUE})
    row = helpers.wait_for(app, execution_id)
    assert row.state == "SUCCESS", row.state_info
    assert row.output == {"size": len(VALUE)}
    # The execution's params hold the env by reference; the action's input refers to the
    # same blob (one blob, one reference: the execution's).
    digest = _reference(row.params["env"])
    assert _stored(app) == (2, 2)  # the env object, and the text the action echoed
    [action] = _actions(app, execution_id)
    assert _reference(action.input["output"]) == blobs.text_digest(VALUE)
    assert _reference(action.output) == blobs.text_digest(VALUE)
    assert digest != blobs.text_digest(VALUE)
    client = TestClient(create_app(app.service), base_url="http://sirocco.test")
    shown = client.get(f"/v2/executions/{execution_id}").json()
    assert json.loads(shown["params"])["env"] == {"big": VALUE}


def _actions(app: Embedded, execution_id: str) -> list[Any]:
    table = tables.action_executions
    with app.parts.database.read() as connection:
        return list(
            connection.execute(
                sa.select(table).where(table.c.workflow_execution_id == execution_id)
            )
        )


GUARDED = """
version: '2.0'
growing:
  input:
    - blob
  tasks:
    double:
      action: std.echo output=<% $.blob + $.blob %>
publishing:
  input:
    - blob
  tasks:
    keep:
      action: std.echo output=<% $.blob %>
      publish:
        twice: <% [task().result, task().result] %>
"""


def test_the_field_size_limit_guards_values_stored_by_reference(database_url: str) -> None:
    from sirocco.limits import Limits

    limits = Limits(field_size_limit_kb=8)
    with helpers.embedded(database_url, limits=limits) as guarded:
        blobs.configure(guarded.parts.database.engine, threshold=THRESHOLD)
        helpers.deploy(guarded, GUARDED)
        client = TestClient(create_app(guarded.service, limits=limits), base_url="http://s.test")

        def start(workflow: str, value: str) -> Any:
            return client.post(
                "/v2/executions", json={"workflow_name": workflow, "input": {"blob": value}}
            )

        # A workflow input over the limit: refused, nothing stored.
        refused = start("growing", VALUE * 2)
        assert refused.status_code == 400, refused.text
        assert "Field size limit exceeded [class=WorkflowExecution, field=input" in refused.text
        assert _stored(guarded) == (0, 0)

        def failure(workflow: str, task_name: str) -> str:
            started = start(workflow, VALUE)  # under the limit: stored by reference
            assert started.status_code == 201, started.text
            row = helpers.wait_for(guarded, started.json()["id"])
            assert row.state == "ERROR"
            assert _reference(row.input["blob"]) == blobs.text_digest(VALUE)
            return str(helpers.task(guarded, row.id, task_name).state_info)

        # An action's input over the limit (as Mistral measures it): the task fails and
        # the oversized value is not stored; only the workflow's input is.
        # Mistral 23: the task's state_info is the message alone ("Field size limit exceeded
        # [class=TaskExecution, field=input, size=1171KB, limit=1024KB]" for 1.2 MB).
        assert failure("growing", "double") == (
            "Field size limit exceeded [class=ActionExecution, field=input, size=9KB, "
            "limit=8KB] (SIROCCO_FIELD_SIZE_LIMIT_KB)"
        )
        assert _stored(guarded) == (1, 1)
        # Published data over the limit, made of a value held by reference.
        assert "Field size limit exceeded [class=TaskExecution, field=published" in failure(
            "publishing", "keep"
        )


def test_list_filters_match_values_stored_by_reference(app: Embedded) -> None:
    execution_id = _run(app)
    other = _run(app, "small")
    client = TestClient(create_app(app.service), base_url="http://sirocco.test")

    def found(path: str, **filters: Any) -> list[str]:
        answer = client.get(path, params=filters)
        assert answer.status_code == 200, answer.text
        key = "executions" if path.endswith("executions") else "tasks"
        return [item["id"] for item in answer.json()[key]]

    # An input stored per key (its large value by reference), and one stored inline.
    assert found("/v2/executions", input=json.dumps({"blob": VALUE})) == [execution_id]
    assert found("/v2/executions", input=json.dumps({"blob": "small"})) == [other]
    assert found("/v2/executions", input=f"neq:{json.dumps({'blob': VALUE})}") == [other]
    both = f"in:{json.dumps({'blob': VALUE})},{json.dumps({'blob': 'small'})}"
    assert sorted(found("/v2/executions", input=both)) == sorted([execution_id, other])
    # A task's result stored whole by reference.
    first = helpers.task(app, execution_id, "first")
    assert found("/v2/tasks", result=json.dumps(VALUE), name="first") == [first.id]
    assert found("/v2/tasks", result=json.dumps(VALUE + "!"), name="first") == []


def test_a_has_filter_searches_inside_values_stored_by_reference(app: Embedded) -> None:
    value = "blob-" + "x" * 2500 + 'a needle "quoted" 50% off_' + "x" * 2500
    execution_id = _run(app, value)
    small = _run(app, 'small needle "quoted"')
    client = TestClient(create_app(app.service), base_url="http://sirocco.test")
    first = helpers.task(app, execution_id, "first")
    second = helpers.task(app, execution_id, "second")
    assert references.is_reference(first.result) and references.is_reference(second.result)

    def found(**filters: Any) -> set[str]:
        answer = client.get("/v2/tasks", params=filters)
        assert answer.status_code == 200, answer.text
        return {item["id"] for item in answer.json()["tasks"]}

    small_first = helpers.task(app, small, "first").id
    small_second = helpers.task(app, small, "second").id
    everything = {first.id, second.id, small_first, small_second}
    # The text (a blob holding it as it is), the object holding it (a blob of JSON text),
    # and the small values in their rows, alike.
    assert found(result="has:needle") == everything
    # As the row's JSON text would hold it: a quote escaped.
    assert found(result='has:needle \\"quoted\\"') == everything
    assert found(result="has:50% off_") == {first.id, second.id}
    assert found(result="has:50%_off") == set()
    assert found(result='has:"size":') == {second.id, small_second}
    assert found(result="has:absent") == set()
    # A field stored per key (the published value by reference) and the execution's input.
    assert found(published="has:needle", name="first") == {first.id, small_first}
    listed = client.get("/v2/executions", params={"input": "has:off_"}).json()
    assert [item["id"] for item in listed["executions"]] == [execution_id]
    # An action execution's output (its blob owned by its workflow execution).
    listed = client.get("/v2/action_executions", params={"output": "has:off_"}).json()
    shown = {item["task_execution_id"] for item in listed["action_executions"]}
    assert shown == {first.id, second.id}


# ---------------------------------------------------------------- values written again

#: Between the repeat threshold (4 KiB) and the default threshold (64 KiB).
REPEATED = "again-" + "r" * 6000

ECHOED = """
version: '2.0'
echoed:
  input:
    - blob
    - once
  tasks:
    first:
      action: std.echo output=<% $.blob %>
      publish:
        copy: <% task().result %>
      on-success: second
    second:
      action: std.echo output=<% {a => $.copy, b => $.once} %>
      publish:
        pair: <% task().result %>
  output:
    copy: <% $.copy %>
    size: <% len($.copy) %>
"""


@pytest.fixture
def repeating(database_url: str) -> Iterator[Embedded]:
    with helpers.embedded(database_url) as embedded:
        blobs.configure(embedded.parts.database.engine, threshold=blobs.DEFAULT_THRESHOLD)
        helpers.deploy(embedded, ECHOED)
        yield embedded


def test_a_value_under_the_threshold_written_again_is_stored_once(repeating: Embedded) -> None:
    once = "once-" + "o" * 6000
    execution_id = helpers.start(repeating, "echoed", {"blob": REPEATED, "once": once})
    row = helpers.wait_for(repeating, execution_id)
    assert row.state == "SUCCESS", row.state_info
    row = helpers.execution(repeating, execution_id)
    first = helpers.task(repeating, execution_id, "first")
    # Its first write (the execution's input) keeps it in the row; every later one
    # (the action's input and output, the task's result, what it published) refers to
    # one blob, stored as the text itself.
    assert row.input == {"blob": REPEATED, "once": once}
    digest = _reference(first.result)
    assert digest == blobs.text_digest(REPEATED)
    assert _reference(first.published["copy"]) == digest
    assert _reference(row.output["copy"]) == digest
    with repeating.parts.database.read() as connection:
        action = connection.execute(
            sa.select(tables.action_executions.c.input, tables.action_executions.c.output).where(
                tables.action_executions.c.task_execution_id == first.id
            )
        ).one()
    assert _reference(action.input["output"]) == digest
    assert _reference(action.output) == digest
    second = helpers.task(repeating, execution_id, "second")
    # Reads see the values in full.
    client = TestClient(create_app(repeating.service), base_url="http://sirocco.test")
    shown = client.get(f"/v2/executions/{execution_id}").json()
    assert json.loads(shown["output"]) == {"copy": REPEATED, "size": len(REPEATED)}
    task = client.get(f"/v2/tasks/{first.id}").json()
    assert json.loads(task["result"]) == REPEATED
    assert json.loads(task["published"]) == {"copy": REPEATED}
    pair = json.loads(client.get(f"/v2/tasks/{second.id}").json()["result"])
    assert pair == {"a": REPEATED, "b": once}
    # Filters find the values in each form they are stored in.
    listed = client.get("/v2/tasks", params={"result": json.dumps(REPEATED)}).json()
    assert [item["id"] for item in listed["tasks"]] == [first.id]
    listed = client.get("/v2/tasks", params={"published": json.dumps({"copy": REPEATED})})
    assert [item["id"] for item in listed.json()["tasks"]] == [first.id]
    listed = client.get("/v2/executions", params={"input": json.dumps(row.input)}).json()
    assert [item["id"] for item in listed["executions"]] == [execution_id]
    # Deleting the execution deletes its blobs.
    repeating.service.delete_execution(execution_id, force=True)
    assert _stored(repeating) == (0, 0)


def test_a_value_under_the_threshold_written_once_stays_in_its_row(repeating: Embedded) -> None:
    helpers.deploy(
        repeating,
        "version: '2.0'\nunused:\n  input:\n    - once\n  tasks:\n    only:\n"
        "      action: std.noop\n",
    )
    unused = "unused-" + "u" * 6000
    execution_id = helpers.start(repeating, "unused", {"once": unused})
    assert helpers.wait_for(repeating, execution_id).state == "SUCCESS"
    assert helpers.execution(repeating, execution_id).input == {"once": unused}
    assert _stored(repeating) == (0, 0)


def test_an_object_field_refers_to_all_its_values_over_the_repeat_threshold_or_none(
    repeating: Embedded,
) -> None:
    engine = repeating.parts.database.engine
    fresh = "fresh-" + "f" * 6000
    with engine.begin() as connection:
        offload = blobs.Offloader(connection)
        assert offload.value("owner", REPEATED) == REPEATED  # written once: in its row
        stored = offload.values("owner", {"seen": REPEATED, "fresh": fresh, "small": 1})
    # The repeated value goes by reference, so the fresh one does too: the field has the
    # form a filter compares with (stored_texts), not a mix of the two.
    assert _reference(stored["seen"]) == blobs.text_digest(REPEATED)
    assert _reference(stored["fresh"]) == blobs.text_digest(fresh)
    assert stored["small"] == 1
    texts = blobs.stored_texts({"seen": REPEATED, "fresh": fresh, "small": 1})
    assert json_text.dumps(stored) in texts


@pytest.mark.parametrize(
    "values",
    [
        {"seen": "s" * 70_000},
        {"seen": "s" * 70_000, "small": 1, "nested": {"a": [1, None, 2.5]}, "t": "é\n"},
        {"ключ": ["l"] * 20_000, '"quoted"': True},
        {"text": "a long text, not large " * 100, "big": {"k": "v" * 70_000}},
        "s" * 70_000,
        ["l"] * 20_000,
        {},
        {"small": 1},
    ],
)
def test_a_field_written_with_references_has_the_text_its_values_would_have(
    repeating: Embedded, values: Any
) -> None:
    engine = repeating.parts.database.engine
    with engine.begin() as connection:
        offload = blobs.Offloader(connection)
        as_values = offload.values("owner", values)  # stores them (over the threshold)
        field = offload.object_field("owner", values)  # known now: referred to again
        again = offload.values("owner", values)

    def column(made: Any) -> str:  # what the row's column holds
        return made.text if type(made) is tables.Encoded else json_text.dumps(made)

    assert column(field) == column(again) == column(as_values)


def test_a_field_stored_whole_by_reference_is_written_as_the_reference_text(
    repeating: Embedded,
) -> None:
    large = "w" * 70_000
    with repeating.parts.database.engine.begin() as connection:
        offload = blobs.Offloader(connection)
        first, second = offload.field("owner", large), offload.field("owner", large)
        reference = offload.value("owner", large)
    assert type(first) is tables.Encoded and second is first  # made once per blob
    assert first.text == json_text.dumps(reference)
    assert _reference(reference) == blobs.text_digest(large)
    assert offload.field("owner", "small") == "small"


def test_no_value_under_the_threshold_goes_by_reference_without_a_repeat_threshold(
    database_url: str,
) -> None:
    with helpers.embedded(database_url) as embedded:
        blobs.configure(
            embedded.parts.database.engine,
            threshold=blobs.DEFAULT_THRESHOLD,
            repeat_threshold=blobs.DEFAULT_THRESHOLD,
        )
        helpers.deploy(embedded, ECHOED)
        execution_id = helpers.start(embedded, "echoed", {"blob": REPEATED, "once": "x"})
        assert helpers.wait_for(embedded, execution_id).state == "SUCCESS"
        assert helpers.task(embedded, execution_id, "first").result == REPEATED
        with embedded.parts.database.read() as connection:
            assert blobs.count(connection) == (0, 0)


def test_a_standalone_action_result_and_input_are_stored_by_reference(app: Embedded) -> None:
    client = TestClient(
        create_app(app.service, allow_action_execution_deletion=True),
        base_url="http://sirocco.test",
    )
    answer = client.post(
        "/v2/action_executions",
        json={
            "name": "std.echo",
            "input": json.dumps({"output": VALUE}),
            "params": json.dumps({"save_result": True, "run_sync": True}),
        },
    )
    assert answer.status_code == 201, answer.text
    action_id = answer.json()["id"]
    assert json.loads(answer.json()["output"]) == {"result": VALUE}
    with app.parts.database.read() as connection:
        row = connection.execute(
            sa.select(tables.action_executions.c.input, tables.action_executions.c.output).where(
                tables.action_executions.c.id == action_id
            )
        ).one()
    digest = _reference(row.output)
    assert _reference(row.input["output"]) == digest == blobs.text_digest(VALUE)
    assert _stored(app) == (1, 1)
    shown = client.get(f"/v2/action_executions/{action_id}").json()
    assert json.loads(shown["output"]) == {"result": VALUE}
    assert json.loads(shown["input"]) == {"output": VALUE}
    assert client.delete(f"/v2/action_executions/{action_id}").status_code == 204
    assert _stored(app) == (0, 0)
