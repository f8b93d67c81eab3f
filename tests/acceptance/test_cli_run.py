"""``sirocco run`` / ``resume`` / ``validate`` / ``db upgrade`` as a user runs them.

The contract: ``--json`` prints exactly one JSON object; exit 0 SUCCESS, 1 ERROR
or CANCELLED, 2 bad input with one readable line on stderr, 3 PAUSED (then
``sirocco resume`` continues); without ``--json`` on a terminal, a live table
of the tasks. Process start-up costs about two seconds, so the real
subprocesses are kept for what only they show (stdout/stderr bytes, exit
status, a terminal); the other cases run the same command in-process.
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from sirocco.cli.main import main
from tests import processes
from tests.waiting import BOUND, wait_for

SIROCCO = [sys.executable, "-m", "sirocco.cli.main"]

WORKFLOWS = """
version: '2.0'
greet:
  input:
    - name
    - punctuation: "!"
  tasks:
    hello:
      action: std.echo output="Hello, <% $.name %><% $.punctuation %>"
      publish:
        greeting: <% task().result %>
      on-success: [count]
    count:
      with-items: n in [1, 2, 3]
      action: std.echo output=<% $.n %>
      publish:
        counted: <% task().result %>
  output:
    greeting: <% $.greeting %>
    counted: <% $.counted %>

broken:
  tasks:
    explode:
      action: std.fail error_data="it broke"

careful:
  tasks:
    first:
      action: std.echo output="one"
      on-success: [second]
    second:
      pause-before: true
      action: std.echo output="<% env().where %>"
      publish:
        where: <% task().result %>
  output:
    where: <% $.where %>

from_env:
  tasks:
    read:
      action: std.echo output="<% env().where %>"
      publish:
        where: <% task().result %>
  output:
    where: <% $.where %>

build:
  type: reverse
  tasks:
    fetch:
      action: std.echo output="sources"
      publish:
        sources: <% task().result %>
    compile:
      requires: [fetch]
      action: std.echo output="binary of <% $.sources %>"
      publish:
        binary: <% task().result %>
    test:
      requires: [compile]
      action: std.noop
"""


@pytest.fixture
def workflows(tmp_path: Path) -> Path:
    path = tmp_path / "workflows.yaml"
    path.write_text(WORKFLOWS)
    return path


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cli.sqlite'}"


def _environment() -> dict[str, str]:
    return {
        **{key: value for key, value in os.environ.items() if not key.startswith("SIROCCO_")},
        "PYTHONWARNINGS": "ignore",
    }


def sirocco(*args: str) -> subprocess.CompletedProcess[str]:
    """The real command in a subprocess."""
    return processes.run([*SIROCCO, *args], env=_environment())


def invoke(*args: str) -> Any:
    """The same command in this process (stdout and stderr apart)."""
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result


def _one_json_object(stdout: str) -> dict[str, Any]:
    decoder = json.JSONDecoder()
    text = stdout.strip()
    report, end = decoder.raw_decode(text)
    assert end == len(text), f"more than one JSON value on stdout: {stdout!r}"
    assert isinstance(report, dict)
    return report


def _one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    assert lines[0].startswith("sirocco: ")
    return lines[0]


# ---------------------------------------------------------------- real subprocesses


def test_json_prints_exactly_one_object_and_exits_0(workflows: Path, db: str) -> None:
    done = sirocco(
        "run",
        str(workflows),
        "--workflow",
        "greet",
        "--input",
        '{"name": "Ada"}',
        "--db",
        db,
        "--json",
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    report = _one_json_object(done.stdout)
    assert set(report) == {"id", "workflow", "state", "state_info", "output", "tasks"}
    assert report["workflow"] == "greet"
    assert report["state"] == "SUCCESS"
    assert report["state_info"] is None
    assert report["output"] == {"greeting": "Hello, Ada!", "counted": [1, 2, 3]}
    assert report["tasks"] == [
        {
            "name": "hello",
            "state": "SUCCESS",
            "state_info": None,
            "published": {"greeting": "Hello, Ada!"},
        },
        {
            "name": "count",
            "state": "SUCCESS",
            "state_info": None,
            "published": {"counted": [1, 2, 3]},
        },
    ]


def test_invalid_yaml_exits_2_with_one_line(tmp_path: Path, db: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "version: '2.0'\nwf:\n  tasks:\n    a:\n      action: std.noop\n"
        "      on-success: [nowhere]\n      colour: blue\n"
    )
    done = sirocco("run", str(path), "--db", db, "--json")
    assert done.returncode == 2
    assert done.stdout == ""
    line = _one_line(done.stderr)
    assert "colour" in line and "nowhere" in line
    assert not Path(db.removeprefix("sqlite:///")).exists()  # nothing was stored


def test_pause_exits_3_then_resume_finishes(workflows: Path, db: str) -> None:
    paused = invoke(
        "run",
        str(workflows),
        "--workflow",
        "careful",
        "--env",
        '{"where": "here"}',
        "--db",
        db,
        "--json",
    )
    assert paused.exit_code == 3, paused.stderr
    report = _one_json_object(paused.stdout)
    assert report["state"] == "PAUSED"
    assert [(task["name"], task["state"]) for task in report["tasks"]] == [
        ("first", "SUCCESS"),
        ("second", "IDLE"),
    ]
    resumed = sirocco("resume", report["id"], "--db", db, "--json")
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stderr == ""
    final = _one_json_object(resumed.stdout)
    assert final["id"] == report["id"]
    assert final["state"] == "SUCCESS"
    assert final["output"] == {"where": "here"}
    again = invoke("resume", report["id"], "--db", db)
    assert again.exit_code == 2
    assert "SUCCESS" in _one_line(again.stderr)
    unknown = invoke("resume", "00000000-0000-0000-0000-000000000000", "--db", db)
    assert unknown.exit_code == 2
    assert "not found" in _one_line(unknown.stderr)


def _run_in_terminal(args: list[str]) -> tuple[int, str]:
    """Run with stdout and stderr on a pseudo-terminal; return the status and all output."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        args,
        stdout=terminal,
        stderr=terminal,
        stdin=subprocess.DEVNULL,
        env={**_environment(), "TERM": "xterm", "COLUMNS": "120", "LINES": "40"},
    )
    os.close(terminal)
    chunks: list[bytes] = []

    def ended() -> bool:
        ready, _, _ = select.select([controller], [], [], 0.1)
        if not ready:
            return process.poll() is not None
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # the other side closed
            return True
        chunks.append(chunk)
        return not chunk

    try:
        wait_for(
            ended,
            what="the command to end",
            interval=0,
            seen=lambda: b"".join(chunks).decode(errors="replace"),
        )
    except AssertionError:
        process.kill()
        raise
    finally:
        os.close(controller)
    status = process.wait(BOUND)
    return status, b"".join(chunks).decode(errors="replace")


def test_live_view_on_a_terminal(workflows: Path, db: str) -> None:
    status, output = _run_in_terminal(
        [
            *SIROCCO,
            "run",
            str(workflows),
            "--workflow",
            "greet",
            "--input",
            '{"name": "Bo"}',
            "--db",
            db,
        ]
    )
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", output)
    assert status == 0, plain
    assert "Traceback" not in plain
    assert re.search(r"hello\s*│\s*SUCCESS", plain), plain
    assert re.search(r"count\s*│\s*SUCCESS\s*│\s*3/3", plain), plain
    assert "SUCCESS" in plain and '"greeting": "Hello, Bo!"' in plain


def test_validate(workflows: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: '2.0'\nwf:\n  tasks: 3\n")
    both = sirocco("validate", str(workflows), str(bad))
    assert both.returncode == 1
    lines = both.stdout.strip().splitlines()
    assert lines[0] == f"{workflows}: ok: 5 workflows, 0 actions"
    assert lines[1].startswith(f"{bad}: error: ")
    assert len(lines) == 2
    assert both.stderr == ""
    good = invoke("validate", str(workflows))
    assert good.exit_code == 0
    assert good.stdout == f"{workflows}: ok: 5 workflows, 0 actions\n"


def test_db_upgrade(tmp_path: Path) -> None:
    path = tmp_path / "new" / "fresh.sqlite"
    first = sirocco("db", "upgrade", "--db", str(path))
    assert first.returncode == 0, first.stderr
    assert re.fullmatch(r"database at revision \S+\n", first.stdout)
    assert path.exists()
    again = invoke("db", "upgrade", "--db", str(path))
    assert again.exit_code == 0
    assert again.stdout == first.stdout


def test_db_upgrade_on_postgresql(postgres_url: str) -> None:
    done = invoke("db", "upgrade", "--db", postgres_url)
    assert done.exit_code == 0, done.stderr
    assert done.stdout.startswith("database at revision ")


# ---------------------------------------------------------------- in-process


def test_failed_workflow_exits_1(workflows: Path, db: str) -> None:
    result = invoke("run", str(workflows), "--workflow", "broken", "--db", db, "--json")
    assert result.exit_code == 1
    report = _one_json_object(result.stdout)
    assert report["state"] == "ERROR"
    assert report["state_info"].startswith("Failure caused by error in tasks: explode")
    assert report["tasks"][0]["state"] == "ERROR"
    assert report["tasks"][0]["state_info"] == "it broke"


def test_input_from_a_file(workflows: Path, db: str, tmp_path: Path) -> None:
    values = tmp_path / "input.json"
    values.write_text('{"name": "File", "punctuation": "?"}')
    result = invoke(
        "run",
        str(workflows),
        "--workflow",
        "greet",
        "--input",
        f"@{values}",
        "--db",
        db,
        "--json",
    )
    assert result.exit_code == 0, result.stderr
    assert _one_json_object(result.stdout)["output"]["greeting"] == "Hello, File?"


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (["--workflow", "greet", "--input", "{name: 1}"], "--input is not valid JSON"),
        (["--workflow", "greet", "--input", "[1]"], "--input must be a JSON object"),
        (["--workflow", "greet", "--input", "@/no/such/file.json"], "can't read --input file"),
        (["--workflow", "greet"], "name"),  # the required input is missing
        (["--workflow", "greet", "--input", '{"name": "x", "age": 3}'], "age"),
        (["--workflow", "nothing_like_it"], "nothing_like_it"),
        ([], "several workflows"),
        (["--workflow", "greet", "--input", '{"name": "x"}', "--env", "3"], "--env"),
        (["--workflow", "greet", "--input", '{"name": "x"}', "--param", "novalue"], "NAME=VALUE"),
        (["--workflow", "build"], "reverse workflows need --param task_name="),
        (["--workflow", "build", "--param", "task_name=nope"], "nope"),
    ],
    ids=[
        "bad-json",
        "not-an-object",
        "missing-input-file",
        "missing-input",
        "unknown-input",
        "unknown-workflow",
        "several-workflows",
        "env-not-an-object",
        "bad-param",
        "reverse-without-task",
        "reverse-unknown-task",
    ],
)
def test_bad_input_exits_2_with_one_line(
    workflows: Path, db: str, arguments: list[str], expected: str
) -> None:
    result = invoke("run", str(workflows), *arguments, "--db", db, "--json")
    assert result.exit_code == 2, result.stdout
    assert result.stdout == ""
    assert expected in _one_line(result.stderr)


def test_unreachable_database_is_one_line(workflows: Path) -> None:
    result = invoke(
        "run",
        str(workflows),
        "--workflow",
        "broken",
        "--db",
        "postgresql://nobody@127.0.0.1:9/none",
        "--json",
    )
    assert result.exit_code == 2
    assert result.stdout == ""
    line = _one_line(result.stderr)
    assert "database" in line.lower() and "refused" in line


def test_missing_file_exits_2(db: str, tmp_path: Path) -> None:
    result = invoke("run", str(tmp_path / "absent.yaml"), "--db", db)
    assert result.exit_code == 2
    assert "absent.yaml" in _one_line(result.stderr)


def test_reverse_workflow_with_task_name(workflows: Path, db: str) -> None:
    result = invoke(
        "run",
        str(workflows),
        "--workflow",
        "build",
        "--param",
        "task_name=compile",
        "--db",
        db,
        "--json",
    )
    assert result.exit_code == 0, result.stderr
    report = _one_json_object(result.stdout)
    assert [task["name"] for task in report["tasks"]] == ["fetch", "compile"]
    assert report["output"]["binary"] == "binary of sources"


def test_env(workflows: Path, db: str, tmp_path: Path) -> None:
    result = invoke(
        "run",
        str(workflows),
        "--workflow",
        "from_env",
        "--env",
        '{"where": "there"}',
        "--db",
        db,
        "--json",
    )
    assert result.exit_code == 0, result.stderr
    assert _one_json_object(result.stdout)["output"] == {"where": "there"}
    env_file = tmp_path / "env.json"
    env_file.write_text('{"where": "in a file"}')
    result = invoke(
        "run",
        str(workflows),
        "--workflow",
        "from_env",
        "--env",
        f"@{env_file}",
        "--db",
        db,
        "--json",
    )
    assert _one_json_object(result.stdout)["output"] == {"where": "in a file"}


def test_plain_output_without_a_terminal(workflows: Path, db: str) -> None:
    result = invoke(
        "run", str(workflows), "--workflow", "greet", "--input", '{"name": "Cy"}', "--db", db
    )
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:2] == ["hello: SUCCESS", "count: SUCCESS"]
    assert re.fullmatch(r"execution [0-9a-f-]{36}: SUCCESS", lines[2])
    assert json.loads("\n".join(lines[3:])) == {"greeting": "Hello, Cy!", "counted": [1, 2, 3]}


def test_resume_takes_over_an_execution_left_running_by_a_dead_process(db: str) -> None:
    from tests.integration.test_runtime_recovery import _commit_start_and_die

    execution_id = _commit_start_and_die(db, "delayed", {})  # waits 1 s (a durable timer)
    result = invoke("resume", execution_id, "--db", db, "--json")
    assert result.exit_code == 0, result.stderr
    report = _one_json_object(result.stdout)
    assert report["state"] == "SUCCESS"
    assert report["output"] == {"said": "on time"}


def test_timeout_stops_following_with_exit_1(db: str, tmp_path: Path) -> None:
    path = tmp_path / "slow.yaml"
    path.write_text(
        "version: '2.0'\nslow:\n  tasks:\n    w:\n      wait-before: 30\n      action: std.noop\n"
    )
    result = invoke("run", str(path), "--db", db, "--json", "--timeout", "0.2")
    assert result.exit_code == 1
    assert result.stdout == ""
    line = _one_line(result.stderr)
    assert "did not end within 0.2 s" in line and "sirocco resume" in line


def test_paused_plain_output_says_how_to_resume(workflows: Path, db: str) -> None:
    result = invoke(
        "run", str(workflows), "--workflow", "careful", "--env", '{"where": "x"}', "--db", db
    )
    assert result.exit_code == 3
    assert re.search(r"execution ([0-9a-f-]{36}): PAUSED", result.stdout)
    assert "sirocco resume" in result.stdout
