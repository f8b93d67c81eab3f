"""A running ``sirocco server`` refuses oversized requests and inputs, keeps its memory, and
serves the others; the limits come from ``SIROCCO_*`` variables and ``--limit``."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import httpx

from tests import processes

SIROCCO = str(Path(sys.executable).parent / "sirocco")

WORKFLOW = """version: '2.0'
wf:
  input: [x]
  tasks:
    t:
      action: std.echo output=<% $.x %>
  output:
    x: <% $.x %>
"""


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_oversized_bodies_and_inputs_are_refused_and_memory_comes_back(tmp_path: Path) -> None:
    port = processes.free_port()
    env = {**os.environ, "SIROCCO_FIELD_SIZE_LIMIT_KB": "1024"}
    server = processes.Process(
        [
            SIROCCO,
            "server",
            "--port",
            str(port),
            "--db",
            str(tmp_path / "s.sqlite"),
            "--limit",
            "request_max_bytes=20000000",
        ],
        log=tmp_path / "server.log",
        env=env,
    )
    base = f"http://127.0.0.1:{port}/v2"
    try:
        server.wait_answering(base)
        with httpx.Client(base_url=base, timeout=processes.BOUND) as client:
            created = client.post(
                "/workflows", content=WORKFLOW, headers={"content-type": "text/plain"}
            )
            assert created.status_code == 201, created.text

            def run_one(x: int) -> None:
                answer = client.post("/executions", json={"workflow_name": "wf", "input": {"x": x}})
                assert answer.status_code == 201, answer.text
                execution_id = answer.json()["id"]
                ended = server.wait_until(
                    lambda: (
                        client.get(f"/executions/{execution_id}").json()["state"]
                        in ("SUCCESS", "ERROR")
                    ),
                    "the execution to end",
                )
                assert ended
                assert json.loads(client.get(f"/executions/{execution_id}").json()["output"]) == {
                    "x": x
                }

            run_one(0)
            before = _rss_kb(server.popen.pid)
            big_input = json.dumps({"workflow_name": "wf", "input": {"x": "a" * 15_000_000}})
            too_big = "x" * 60_000_000
            for attempt in range(3):
                answer = client.post(
                    "/executions", content=big_input, headers={"content-type": "application/json"}
                )
                assert answer.status_code == 400, answer.text
                assert (
                    "Field size limit exceeded [class=WorkflowExecution, field=input"
                    in (answer.json()["faultstring"])
                )
                answer = client.post(
                    "/workflows", content=too_big, headers={"content-type": "text/plain"}
                )
                assert answer.status_code == 413, answer.text
                assert "SIROCCO_REQUEST_MAX_BYTES" in answer.json()["faultstring"]
                run_one(attempt + 1)
            after = _rss_kb(server.popen.pid)
            # 3 x 15 MB inputs read and refused, 3 x 60 MB bodies refused unread: what
            # the process keeps stays far below one of them.
            assert after - before < 40_000, (before, after)
            stored = client.get("/executions").json()["executions"]
            assert len(stored) == 4
    finally:
        server.assert_stopped_cleanly()


def test_a_bad_limit_option_is_one_line_and_a_non_zero_exit() -> None:
    for value in ("nonsense", "expression_timeout", "expression_max_items=many"):
        result = processes.run([SIROCCO, "server", "--limit", value, "--port", "1"])
        assert result.returncode != 0
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
