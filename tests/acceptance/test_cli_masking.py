"""``sirocco run`` masks secrets in what it shows people (live view, summary), not in ``--json``."""

from __future__ import annotations

import io
import json
import os
import sys
from pathlib import Path

import rich.console

from sirocco.cli import live
from tests.processes import run

SIROCCO = str(Path(sys.executable).parent / "sirocco")

WORKFLOW = """
version: '2.0'
ok_wf:
  input: [password, user]
  output:
    user: <% $.user %>
    password: <% $.password %>
  tasks:
    one:
      action: std.noop
failing_wf:
  input: [password, user]
  tasks:
    boom:
      action: std.fail error_data=<% {password => $.password} %>
"""


def _env(tmp_path: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("SIROCCO_")}
    env["SIROCCO_DB"] = f"sqlite:///{tmp_path / 'm.sqlite'}"
    return env


def test_the_summary_masks_secrets_and_json_keeps_them(tmp_path: Path) -> None:
    path = tmp_path / "wf.yaml"
    path.write_text(WORKFLOW)
    given = json.dumps({"password": "hunter2", "user": "ann"})
    env = _env(tmp_path)
    shown = run([SIROCCO, "run", path, "--workflow", "ok_wf", "--input", given], env=env)
    assert shown.returncode == 0, shown
    assert "hunter2" not in shown.stdout and '"password": "***"' in shown.stdout
    assert '"user": "ann"' in shown.stdout
    failed = run([SIROCCO, "run", path, "--workflow", "failing_wf", "--input", given], env=env)
    assert failed.returncode == 1, failed
    assert "hunter2" not in failed.stdout + failed.stderr
    assert "{'password': '***'}" in failed.stdout
    machine = run(
        [SIROCCO, "run", path, "--workflow", "ok_wf", "--input", given, "--json"], env=env
    )
    assert json.loads(machine.stdout)["output"]["password"] == "hunter2"  # stored as given
    env["SIROCCO_SECRET_KEYS"] = "user"
    other = run([SIROCCO, "run", path, "--workflow", "ok_wf", "--input", given], env=env)
    assert '"user": "***"' in other.stdout and '"password": "hunter2"' in other.stdout


def test_the_live_view_masks_secrets() -> None:
    screen = io.StringIO()
    console = rich.console.Console(file=screen, width=200, force_terminal=False)
    view = live.LiveView("wf.yaml", console=console, auto_refresh=False)
    view.update(
        {
            "workflow": "wf",
            "id": "e1",
            "state": "ERROR",
            "tasks": [
                {
                    "name": "boom",
                    "state": "ERROR",
                    "state_info": "boom -> {'password': 'hunter2'}",
                }
            ],
        }
    )
    view.close()
    assert "hunter2" not in screen.getvalue()
    assert "'password': '***'" in screen.getvalue()
