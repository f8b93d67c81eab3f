"""``SIROCCO_TRACING=otlp``: ``sirocco run`` sends its spans over OTLP/HTTP to the
collector the standard ``OTEL_*`` variables name (here a local HTTP server that decodes
the protobuf requests), and flushes them before it exits."""

from __future__ import annotations

import http.server
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from tests import processes

WORKFLOW = """\
version: '2.0'
exported:
  tasks:
    first:
      action: std.echo output=1
      on-success: [second]
    second:
      workflow: nested
nested:
  tasks:
    inner:
      action: std.noop
"""


def _command(tmp_path: Path) -> list[str]:
    database = f"sqlite:///{tmp_path / 'sirocco.sqlite'}"
    path = str(tmp_path / "exported.yaml")
    return [sys.executable, "-m", "sirocco.cli.main", "run", path, "--workflow", "exported",
            "--db", database]  # fmt: skip


class _Collector(http.server.BaseHTTPRequestHandler):
    requests: list[tuple[str, bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.requests.append((self.path, body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[tuple[str, list[tuple[str, bytes]]]]:
    _Collector.requests = []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", _Collector.requests
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_sirocco_run_exports_its_trace_over_otlp(
    tmp_path: Path, collector: tuple[str, list[tuple[str, bytes]]]
) -> None:
    endpoint, requests = collector
    path = tmp_path / "exported.yaml"
    path.write_text(WORKFLOW)
    env = {
        **os.environ,
        "SIROCCO_TRACING": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_SERVICE_NAME": "sirocco-acceptance",
    }
    done = processes.run(_command(tmp_path), env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert requests, "no OTLP request reached the collector"
    names: list[str] = []
    services: set[str] = set()
    for request_path, body in requests:
        assert request_path == "/v1/traces"
        message = trace_service_pb2.ExportTraceServiceRequest()
        message.ParseFromString(body)
        for resource_spans in message.resource_spans:
            for attribute in resource_spans.resource.attributes:
                if attribute.key == "service.name":
                    services.add(attribute.value.string_value)
            for scope in resource_spans.scope_spans:
                names.extend(span.name for span in scope.spans)
    assert services == {"sirocco-acceptance"}
    assert sorted(names) == sorted(
        [
            "workflow exported",
            "task first",
            "action std.echo",
            "task second",
            "workflow nested",
            "task inner",
            "action std.noop",
        ]
    )


def test_an_unknown_mode_stops_the_command_with_one_line(tmp_path: Path) -> None:
    path = tmp_path / "exported.yaml"
    path.write_text(WORKFLOW)
    done = processes.run(_command(tmp_path), env={**os.environ, "SIROCCO_TRACING": "zipkin"})
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert "setting tracing" in done.stderr and "'none', 'console', 'otlp'" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
