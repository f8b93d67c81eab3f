"""``sirocco actions``: the Python actions installed here, filtered by pattern, as text or JSON."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result

from sirocco.cli.main import main


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, ["actions", *args], catch_exceptions=False)


def test_lists_every_std_action_with_its_input_and_source() -> None:
    result = invoke()
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert "std.echo(output, delay=0)  from built-in" in lines
    assert "std.async_noop()  async  from built-in" in lines
    assert lines[-1].endswith(" actions")


def test_a_pattern_and_json() -> None:
    result = invoke("std.ech*", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == [
        {
            "name": "std.echo",
            "input": "output, delay=0",
            "description": "Returns ``output``, after waiting ``delay`` seconds.",
            "is_sync": True,
            "source": "built-in",
        }
    ]


def test_no_match_exits_1_with_one_line() -> None:
    result = invoke("nothing.*")
    assert result.exit_code == 1
    assert result.stderr == "sirocco: no action matches nothing.*\n"


def test_an_async_action_under_sirocco_run_waits_until_the_timeout(tmp_path: Path) -> None:
    """docs/actions.md: `sirocco run` serves no API to complete it."""
    path = tmp_path / "wait.yaml"
    path.write_text("version: '2.0'\nwait:\n  tasks:\n    t:\n      action: std.async_noop\n")
    db = f"sqlite:///{tmp_path / 'wait.sqlite'}"
    result = CliRunner().invoke(
        main, ["run", str(path), "--db", db, "--timeout", "0.5"], catch_exceptions=False
    )
    assert result.exit_code == 1
    assert "did not end within 0.5 s; it is RUNNING" in result.stderr
