"""``sirocco executions`` and ``sirocco show``: the list and the task tree, plain and JSON."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from sirocco.cli.main import main
from tests.integration import helpers

WORKFLOWS = """
version: '2.0'
outer:
  tasks:
    prepare:
      action: std.echo
      input:
        output: ready
      publish:
        status: <% task().result %>
      on-success: [call]
    call:
      workflow: inner
inner:
  tasks:
    broken:
      action: std.fail error_data="disk full"
fine:
  tasks:
    only:
      action: std.noop
"""


def test_list_and_show(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/cli.sqlite"
    with helpers.embedded(url) as app:
        helpers.deploy(app, WORKFLOWS)
        failed = helpers.start(app, "outer")
        fine = helpers.start(app, "fine")
        assert helpers.wait_for(app, failed).state == "ERROR"
        assert helpers.wait_for(app, fine).state == "SUCCESS"
    runner = CliRunner()
    listed = runner.invoke(main, ["executions", "--db", url, "--json"])
    assert listed.exit_code == 0, listed.output
    states = {row["workflow_name"]: row["state"] for row in json.loads(listed.output)}
    assert states == {"outer": "ERROR", "inner": "ERROR", "fine": "SUCCESS"}
    only = runner.invoke(
        main, ["executions", "--db", url, "--state", "error", "--workflow", "outer"]
    )
    assert only.exit_code == 0, only.output
    lines = only.output.splitlines()
    assert len(lines) == 1 and lines[0].startswith(failed) and "\touter\tERROR\t" in lines[0]
    shown = runner.invoke(main, ["show", failed, "--db", url])
    assert shown.exit_code == 0, shown.output
    text = shown.output.splitlines()
    assert text[0].startswith(f"outer {failed} ERROR")
    assert text[1].startswith("  - prepare SUCCESS") and 'published={"status": "ready"}' in text[1]
    assert text[2].startswith("  - call ERROR")
    assert text[3].startswith("    - inner ") and " ERROR " in text[3]
    assert text[4].startswith("      - broken ERROR") and "disk full" in text[4]
    tree = json.loads(runner.invoke(main, ["show", failed, "--db", url, "--json"]).output)
    assert tree["children"][0]["attempts"] == 1
    missing = runner.invoke(main, ["show", "no-such-id", "--db", url])
    assert missing.exit_code == 2
    assert missing.output.strip() == "sirocco: WorkflowExecution not found [id=no-such-id]"
