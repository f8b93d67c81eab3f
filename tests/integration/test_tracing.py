"""OpenTelemetry traces: the span tree of a workflow with a with-items task and a
sub-workflow (the SDK's in-memory exporter), and the trace context that reaches a
service called by std.http, through the outbox to an executor worker."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from sirocco.runtime import tracing
from tests.integration import helpers

TRACED = """
version: '2.0'
traced:
  tasks:
    fan:
      with-items: x in <% [1, 2, 3] %>
      action: std.echo output=<% $.x %>
      on-success: [call]
    call:
      workflow: inner
inner:
  tasks:
    one:
      action: std.noop
      on-success: [broken]
    broken:
      action: std.fail
      on-error: [handled]
    handled:
      action: std.noop
"""

CALLING = """
version: '2.0'
calling:
  input: [url]
  tasks:
    call:
      action: std.http url=<% $.url %>
"""


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    tracing.install(exporter)
    try:
        yield exporter
    finally:
        tracing.uninstall()


def _tree(found: list[ReadableSpan], root: ReadableSpan) -> str:
    """The span tree under ``root`` as indented lines, children sorted by name."""
    children: dict[int, list[ReadableSpan]] = {}
    for span in found:
        if span.parent is not None:
            children.setdefault(span.parent.span_id, []).append(span)
    lines: list[str] = []

    def walk(span: ReadableSpan, depth: int) -> None:
        status = " [ERROR]" if span.status.status_code == StatusCode.ERROR else ""
        lines.append(f"{'  ' * depth}{span.name}{status}")
        for child in sorted(children.get(span.context.span_id, []), key=lambda s: s.name):
            walk(child, depth + 1)

    walk(root, 0)
    return "\n".join(lines)


def _finished(exporter: InMemorySpanExporter, execution_id: str) -> list[ReadableSpan]:
    """The spans once the execution's own span is exported (after its step's commit)."""
    wanted = tracing.span_id(execution_id)

    def done() -> list[ReadableSpan]:
        found = list(exporter.get_finished_spans())
        return found if any(span.context.span_id == wanted for span in found) else []

    return helpers.waiting.wait_for(done, what="the execution's span", interval=0.02)


def test_the_span_tree_of_a_with_items_task_and_a_sub_workflow(
    tmp_path: Path, spans: InMemorySpanExporter
) -> None:
    with helpers.embedded(f"sqlite:///{tmp_path}/traced.sqlite") as app:
        helpers.deploy(app, TRACED)
        execution_id = helpers.start(app, "traced")
        assert helpers.wait_for(app, execution_id).state == "SUCCESS"
        found = _finished(spans, execution_id)
        fan = helpers.task(app, execution_id, "fan")
        items = helpers.actions(app, fan.id)
    [root] = [span for span in found if span.parent is None]
    assert root.context.span_id == tracing.span_id(execution_id)
    assert _tree(found, root) == "\n".join(
        [
            "workflow traced",
            "  task call",
            "    workflow inner",
            "      task broken [ERROR]",
            "        action std.fail [ERROR]",
            "      task handled",
            "        action std.noop",
            "      task one",
            "        action std.noop",
            "  task fan",
            "    action std.echo",
            "    action std.echo",
            "    action std.echo",
        ]
    )
    # One trace, named by the root execution; every span has its parent in it.
    assert {span.context.trace_id for span in found} == {tracing.trace_id(execution_id)}
    ids = {span.context.span_id for span in found}
    assert all(span.parent is None or span.parent.span_id in ids for span in found)
    # Times and attributes come from the records.
    echo = [span for span in found if span.name == "action std.echo"]
    assert sorted(span.attributes["sirocco.index"] for span in echo) == [0, 1, 2]
    assert {span.attributes["sirocco.action_execution_id"] for span in echo} == {
        action.id for action in items
    }
    assert all(span.start_time <= span.end_time for span in found)
    fan_span = next(span for span in found if span.name == "task fan")
    assert all(fan_span.start_time <= span.start_time for span in echo)
    assert root.attributes["sirocco.state"] == "SUCCESS"
    assert root.resource.attributes["service.name"] == "sirocco"


class _Recorder(http.server.BaseHTTPRequestHandler):
    seen: list[dict[str, str]] = []

    def do_GET(self) -> None:
        self.seen.append({key.lower(): value for key, value in self.headers.items()})
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[tuple[str, list[dict[str, str]]]]:
    _Recorder.seen = []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/hello", _Recorder.seen
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.mark.parametrize("way", ["outbox", "broker"])
def test_std_http_sends_the_traceparent_of_its_action_from_an_executor_worker(
    database_url: str,
    spans: InMemorySpanExporter,
    server: tuple[str, list[dict[str, str]]],
    way: str,
) -> None:
    """Roles apart: the engine writes the RunAction (with its trace context) to the
    outbox; an executor worker takes it from there (polled, or announced by a broker)
    and std.http sends the header."""
    from sirocco.clock import utcnow
    from sirocco.executor.worker import ExecutorWorker
    from sirocco.runtime import delivery
    from sirocco.transport.memory import MemoryTransport

    url, seen = server
    app = helpers.build(database_url)
    app.parts.runtime.attach_executor(None, app.pool.run_inline)
    app.parts.service.attach_executor(None)
    parcels = None
    if way == "broker":
        parcels = delivery.BrokeredDelivery(
            MemoryTransport(), delivery.DatabaseDelivery(app.parts.database)
        )
        app.parts.runtime.attach_delivery(parcels)
    app.parts.runtime.start(poll_outbox=True)
    worker = ExecutorWorker(app.parts.database, app.parts.registry, clock=utcnow, parcels=parcels)
    worker.start()
    try:
        helpers.deploy(app, CALLING)
        execution_id = helpers.start(app, "calling", {"url": url})
        assert helpers.wait_for(app, execution_id).state == "SUCCESS"
        found = _finished(spans, execution_id)
        [action] = helpers.actions(app, helpers.task(app, execution_id, "call").id)
    finally:
        worker.stop(timeout=5)
        app.close()
        if parcels is not None:
            parcels.close()
    [headers] = seen
    assert headers["traceparent"] == tracing.traceparent(execution_id, action.id)
    version, trace, parent, flags = headers["traceparent"].split("-")
    assert (version, flags) == ("00", "01")
    [action_span] = [span for span in found if span.name == "action std.http"]
    assert int(trace, 16) == action_span.context.trace_id
    assert int(parent, 16) == action_span.context.span_id


def test_without_tracing_no_header_and_no_trace_context(
    tmp_path: Path, server: tuple[str, list[dict[str, str]]]
) -> None:
    url, seen = server
    assert not tracing.enabled()
    with helpers.embedded(f"sqlite:///{tmp_path}/untraced.sqlite") as app:
        helpers.deploy(app, CALLING)
        execution_id = helpers.start(app, "calling", {"url": url})
        assert helpers.wait_for(app, execution_id).state == "SUCCESS"
    [headers] = seen
    assert "traceparent" not in headers


def test_a_workflow_may_send_its_own_traceparent(
    tmp_path: Path, spans: InMemorySpanExporter, server: tuple[str, list[dict[str, str]]]
) -> None:
    url, seen = server
    own = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    text = f"""
version: '2.0'
own:
  tasks:
    call:
      action: std.http
      input:
        url: {url}
        headers:
          Traceparent: {own}
"""
    with helpers.embedded(f"sqlite:///{tmp_path}/own.sqlite") as app:
        helpers.deploy(app, text)
        assert helpers.run(app, "own").state == "SUCCESS"
    [headers] = seen
    assert headers["traceparent"] == own


def test_an_unknown_tracing_mode_is_refused_clearly() -> None:
    from sirocco import errors

    with pytest.raises(errors.ConfigurationError, match="SIROCCO_TRACING must be one of"):
        tracing.configure("jaeger")
    tracing.configure("none")
    assert not tracing.enabled()
