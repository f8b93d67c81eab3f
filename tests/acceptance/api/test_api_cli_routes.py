"""Mistral 23's newer routes through the real ``mistral`` CLI (python-mistralclient 6.3):
maintenance mode seen by the CLI, code sources and dynamic actions.

The CLI has no maintenance command; while maintenance is on, its changing commands
fail with one line naming the mode, as against Mistral 23 (which prints
``Current Mistral state is PAUSED. Method is not allowed`` in its HTML error page).
"""

from __future__ import annotations

import httpx
from api_cli_server import Server

WORKFLOW = """version: '2.0'
cli_maint:
  tasks:
    t:
      action: std.noop
"""


def _maintenance(server: Server, status: str) -> str:
    root = server.url.removesuffix("/v2")
    answer = httpx.put(f"{root}/maintenance", json={"status": status})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["status"])


def test_cli_changes_are_refused_in_maintenance(server: Server) -> None:
    server.ok("workflow-create", server.file("maint.yaml", WORKFLOW))
    assert _maintenance(server, "PAUSED") == "PAUSING"
    try:
        printed = server.fails("execution-create", "cli_maint")
        assert "Current Mistral state is PAUSED. Method is not allowed" in printed
        assert "Traceback" not in printed
        # Reads still work.
        assert server.names("workflow-list") == ["cli_maint"]
    finally:
        assert _maintenance(server, "RUNNING") == "RUNNING"
    execution = server.json("execution-create", "cli_maint")
    server.wait(execution["ID"], "SUCCESS")
