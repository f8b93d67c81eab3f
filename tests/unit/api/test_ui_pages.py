"""The web view's pages over the API's test client (the browser tests are in acceptance/ui)."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta

import sqlalchemy as sa
from fastapi.testclient import TestClient

from sirocco.api.ui import graph, layout, negotiation
from sirocco.lang import parser
from sirocco.store import tables
from sirocco.store.database import Database

WORKFLOW = """\
version: '2.0'
deploy:
  tasks:
    begin:
      action: std.noop
      on-success: [create]
    create:
      action: std.echo output=1
      on-success: [check]
      on-error: [fail]
    check:
      action: std.noop
      on-complete: [create]
"""


def test_browsers_get_the_web_view_and_api_clients_the_versions(client: TestClient) -> None:
    browser = client.get(
        "/",
        headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"},
        follow_redirects=False,
    )
    assert browser.status_code == 303
    assert browser.headers["location"] == "/ui/"
    for accept in ("application/json", "*/*", "", "application/json, text/html;q=0.5"):
        answer = client.get("/", headers={"Accept": accept})
        assert answer.json()["versions"][0]["id"] == "v2.0"
        assert answer.headers["vary"] == "Accept"


def test_negotiation_ranks_html_against_json() -> None:
    assert negotiation.prefers_html("text/html")
    assert negotiation.prefers_html("text/html;q=0.9, application/json;q=0.5")
    assert not negotiation.prefers_html(None)
    assert not negotiation.prefers_html("text/html;q=0.5, application/json")
    assert not negotiation.prefers_html("text/html;q=oops")


def _add_executions(database: Database, count: int) -> list[str]:
    start = datetime(2026, 1, 1)
    ids = [str(uuid.uuid4()) for _ in range(count)]
    rows = [
        {
            "id": identifier,
            "workflow_name": "deploy" if index % 2 else "backup",
            "definition": WORKFLOW,
            "state": "ERROR" if index % 10 == 0 else "SUCCESS",
            "state_info": "disk full" if index % 10 == 0 else None,
            "created_at": start + timedelta(minutes=index),
            "updated_at": start + timedelta(minutes=index, seconds=5),
        }
        for index, identifier in enumerate(ids)
    ]
    with database.transaction() as connection:
        connection.execute(sa.insert(tables.workflow_executions), rows)
    return ids


def _shown(html: str) -> list[str]:
    return re.findall(r'data-execution="([0-9a-f-]{36})"', html)


def test_the_list_pages_by_marker_newest_first(client: TestClient, database: Database) -> None:
    ids = _add_executions(database, 120)
    first = client.get("/ui/executions")
    assert first.status_code == 200
    shown = list(dict.fromkeys(_shown(first.text)))
    assert shown == ids[::-1][:50]
    older = re.search(r'id="next-page" href="([^"]+)"', first.text)
    assert older is not None
    second = client.get(older.group(1).replace("&amp;", "&"))
    assert list(dict.fromkeys(_shown(second.text))) == ids[::-1][50:100]


def test_the_list_filters_by_state_workflow_time_and_text(
    client: TestClient, database: Database
) -> None:
    ids = _add_executions(database, 40)
    failed = _shown(client.get("/ui/executions?state=ERROR").text)
    assert set(failed) == {ids[0], ids[10], ids[20], ids[30]}
    backups = set(_shown(client.get("/ui/executions?workflow=backu").text))
    assert backups == {identifier for index, identifier in enumerate(ids) if index % 2 == 0}
    window = client.get("/ui/executions?since=2026-01-01T00:10&until=2026-01-01 00:12").text
    assert set(_shown(window)) == set(ids[10:13])
    assert set(_shown(client.get("/ui/executions?text=disk").text)) == set(failed)
    assert set(_shown(client.get(f"/ui/executions?text={ids[7]}").text)) == {ids[7]}


def test_bad_filters_are_a_400_page_naming_the_field(client: TestClient) -> None:
    answer = client.get("/ui/executions?since=yesterday")
    assert answer.status_code == 400
    assert "since: &#39;yesterday&#39; is not a time" in answer.text
    answer = client.get("/ui/executions?state=DONE")
    assert answer.status_code == 400
    assert "state: DONE is not one of" in answer.text


def test_an_unknown_execution_is_a_404_page(client: TestClient) -> None:
    answer = client.get(f"/ui/executions/{uuid.uuid4()}")
    assert answer.status_code == 404
    assert "not found" in answer.text


def test_an_execution_page_draws_its_graph(client: TestClient, database: Database) -> None:
    ids = _add_executions(database, 1)
    answer = client.get(f"/ui/executions/{ids[0]}")
    assert answer.status_code == 200
    assert 'data-task="create"' in answer.text
    assert 'data-task="create/fail"' in answer.text
    assert "disk full" in answer.text
    live = client.get(f"/ui/executions/{ids[0]}/live").json()
    assert live["state"] == "ERROR"
    assert live["finished"] is True


def test_definition_pages_and_lists(client: TestClient) -> None:
    created = client.post("/v2/workflows", content=WORKFLOW, headers={"Content-Type": "text/plain"})
    assert created.status_code == 201
    page = client.get("/ui/workflows/deploy")
    assert page.status_code == 200
    assert 'class="highlight"' in page.text
    assert 'data-task="check"' in page.text
    assert "deploy" in client.get("/ui/workflows").text
    for path in ("/ui/workbooks", "/ui/cron-triggers", "/ui/event-triggers", "/ui/environments"):
        assert client.get(path).status_code == 200
    assert client.get("/ui/static/ui.js").status_code == 200
    assert ".highlight" in client.get("/ui/static/highlight.css").text
    assert client.get("/ui/workflows/nope").status_code == 404


def test_the_web_view_is_not_part_of_the_api_description(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert not [path for path in paths if path.startswith("/ui")]


def test_a_cycle_is_drawn_with_an_edge_going_back() -> None:
    spec = parser.parse_workflows(WORKFLOW).workflows["deploy"]
    drawn = layout.lay_out(graph.of_workflow(spec))
    positions = {placed.node.key: placed.y for placed in drawn.nodes}
    assert positions["create"] < positions["check"]
    back = [route for route in drawn.routes if route.backwards]
    assert [(route.edge.source, route.edge.target) for route in back] == [("check", "create")]
    labels = {(route.edge.source, route.edge.target): route.edge.label for route in drawn.routes}
    assert labels[("create", "create/fail")] == "on-error"
    assert labels[("check", "create")] == "on-complete"


def test_reverse_workflows_draw_requires() -> None:
    text = """\
version: '2.0'
build:
  type: reverse
  tasks:
    fetch:
      action: std.noop
    compile:
      action: std.noop
      requires: [fetch]
    package:
      action: std.noop
      requires: [compile, fetch]
"""
    spec = parser.parse_workflows(text).workflows["build"]
    drawn = layout.lay_out(graph.of_workflow(spec))
    rows = {placed.node.key: placed.y for placed in drawn.nodes}
    assert rows["fetch"] < rows["compile"] < rows["package"]
    assert {route.edge.label for route in drawn.routes} == {"requires"}


def test_a_wide_layer_wraps_onto_rows() -> None:
    tasks = [graph.Node(key=f"t{index}", name=f"t{index}", kind="action") for index in range(60)]
    start = graph.Node(key="start", name="start", kind="action")
    edges = tuple(graph.Edge(source="start", target=task.key, label="on-success") for task in tasks)
    drawn = layout.lay_out(graph.Graph(nodes=(start, *tasks), edges=edges))
    rows = {placed.y for placed in drawn.nodes if placed.node.key != "start"}
    assert len(rows) == 3  # 60 tasks, 24 a row
    assert drawn.width < 26 * (layout.NODE_WIDTH + layout.GAP_X)


WORKBOOK = """\
version: '2.0'
name: ops
workflows:
  restart:
    tasks:
      stop:
        action: std.noop
        on-success: [start]
      start:
        action: std.noop
"""


def test_a_workbook_page_draws_each_workflow(client: TestClient) -> None:
    created = client.post("/v2/workbooks", content=WORKBOOK, headers={"Content-Type": "text/plain"})
    assert created.status_code == 201, created.text
    assert "ops" in client.get("/ui/workbooks").text
    page = client.get("/ui/workbooks/ops")
    assert page.status_code == 200
    assert "Workflow <a" in page.text and "ops.restart" in page.text
    assert 'data-task="stop"' in page.text and 'data-task="start"' in page.text
    assert 'class="highlight"' in page.text


def test_triggers_and_environments_are_listed(client: TestClient) -> None:
    created = client.post("/v2/workflows", content=WORKFLOW, headers={"Content-Type": "text/plain"})
    workflow_id = created.json()["workflows"][0]["id"]
    cron = {"name": "nightly", "workflow_name": "deploy", "pattern": "0 2 * * *"}
    assert client.post("/v2/cron_triggers", json=cron).status_code == 201
    event = {
        "name": "on_boot",
        "workflow_id": workflow_id,
        "exchange": "nova",
        "topic": "notifications",
        "event": "compute.instance.create.end",
    }
    assert client.post("/v2/event_triggers", json=event).status_code == 201
    environment = {"name": "staging", "description": "pre-prod", "variables": {"region": "eu"}}
    assert client.post("/v2/environments", json=environment).status_code == 201
    crons = client.get("/ui/cron-triggers").text
    assert "nightly" in crons and "0 2 * * *" in crons
    events = client.get("/ui/event-triggers").text
    assert "on_boot" in events and "compute.instance.create.end" in events
    environments = client.get("/ui/environments").text
    assert "staging" in environments and "pre-prod" in environments and "region" in environments


def test_the_task_table_pages_by_marker(client: TestClient, database: Database) -> None:
    execution_id = _add_executions(database, 1)[0]
    created = datetime(2026, 1, 1)
    tasks = [
        {
            "id": str(uuid.uuid4()),
            "workflow_execution_id": execution_id,
            "name": f"step_{index}",
            "seq": index,
            "type": "ACTION",
            "state": "SUCCESS",
            "created_at": created,
            "updated_at": created,
        }
        for index in range(450)
    ]
    with database.transaction() as connection:
        connection.execute(sa.insert(tables.task_executions), tasks)
    ids = [task["id"] for task in tasks]
    seen: list[str] = []
    path: str | None = f"/ui/executions/{execution_id}"
    while path is not None:
        page = client.get(path)
        assert page.status_code == 200
        rows = re.findall(r'<tr data-task-id="([0-9a-f-]{36})">', page.text)
        assert 0 < len(rows) <= 200
        seen += rows
        found = re.search(r'id="tasks-next" href="([^"#]+)', page.text)
        path = found.group(1).replace("&amp;", "&") if found else None
    assert seen == ids
    live = client.get(f"/ui/executions/{execution_id}/live?tasks_after={ids[199]}").json()
    assert [task["id"] for task in live["tasks"]] == ids[200:400]
    assert live["tasks_next"] == ids[399] and live["task_total"] == 450
    assert (
        client.get(f"/ui/executions/{execution_id}?tasks_after={uuid.uuid4()}").status_code == 404
    )
