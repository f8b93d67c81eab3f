"""Bugs outside the engine found while running the conformance cases (strict xfails).

Each test passes once the bug is fixed, and then its ``xfail`` must go.
"""

from __future__ import annotations

import pathlib
from typing import Any

import pytest
from click.testing import CliRunner

from sirocco import engine
from sirocco.cli.main import main
from sirocco.engine import commands, events
from sirocco.runtime import codec

NESTED = """
version: '2.0'
parent:
  tasks:
    call:
      workflow: child
child:
  tasks:
    t:
      action: std.noop
"""


def test_the_runtime_gives_a_subworkflow_its_parent(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[dict[str, Any]] = []
    original = engine.start_workflow

    def spy(**arguments: Any) -> engine.Decision:
        seen.append(arguments)
        return original(**arguments)

    monkeypatch.setattr(engine, "start_workflow", spy)
    source = tmp_path / "nested.yaml"
    source.write_text(NESTED)
    outcome = CliRunner().invoke(
        main,
        ["run", str(source), "--workflow", "parent", "--json", "--db", str(tmp_path / "db")],
        catch_exceptions=False,
    )

    assert outcome.exit_code == 0, outcome.output
    children = [arguments for arguments in seen if arguments.get("task_execution_id")]
    assert len(children) == 1
    assert children[0].get("parent_execution_id") == seen[0]["execution_id"]


def test_a_subworkflow_rerun_notice_survives_the_outbox() -> None:
    command = commands.NotifyParent(
        event=events.SubworkflowRerun(
            workflow_execution_id="parent",
            task_execution_id="task",
            subworkflow_execution_id="child",
        )
    )

    assert codec.decode(codec.encode(command)) == command
