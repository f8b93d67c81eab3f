"""The ``mistral`` commands the examples' comments show, run against a Sirocco server.

``examples/change_approval.yaml``: resumed with ``mistral execution-update -s
RUNNING --env``; ``examples/cron_report.yaml``: scheduled with ``mistral
cron-trigger-create ... --pattern "0 8 * * 1"``.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from api_cli_server import Server

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def test_change_approval_resumed_through_the_api(server: Server) -> None:
    server.ok("workflow-create", str(EXAMPLES / "change_approval.yaml"))
    created = server.json("execution-create", "change_approval", '{"change": "add a replica"}')
    paused = server.wait(created["ID"], "PAUSED")
    assert paused["Workflow name"] == "change_approval"
    server.ok(
        "execution-update",
        created["ID"],
        "-s",
        "RUNNING",
        "--env",
        '{"approved": true, "approver": "ana"}',
    )
    server.wait(created["ID"], "SUCCESS")
    output = json.loads(server.ok("execution-get-output", created["ID"]))
    assert output == {
        "change": "add a replica",
        "decision": "approved",
        "approver": "ana",
        "outcome": "applied by ana",
    }


def test_cron_report_scheduled_every_monday(server: Server) -> None:
    server.ok("workflow-create", str(EXAMPLES / "cron_report.yaml"))
    arguments = '{"metrics_api": "http://127.0.0.1:9/m", "webhook": "http://127.0.0.1:9/h"}'
    trigger = server.json(
        "cron-trigger-create", "weekly-report", "cron_report", arguments, "--pattern", "0 8 * * 1"
    )
    assert trigger["Pattern"] == "0 8 * * 1"
    assert trigger["Workflow"] == "cron_report"
    next_time = datetime.strptime(trigger["Next execution time"], "%Y-%m-%d %H:%M:%S")
    assert (next_time.weekday(), next_time.hour, next_time.minute) == (0, 8, 0)
    server.ok("cron-trigger-delete", "weekly-report")
