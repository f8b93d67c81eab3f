"""docs/running.md, shown: the PostgreSQL block as written, and what Ctrl-C and SIGTERM do.

``sirocco run`` is stopped while an action runs: after Ctrl-C an action that
is not safe to re-run fails on ``sirocco resume`` with Mistral's "cannot be
re-run safely" and the workflow ends in ERROR; after SIGTERM (the process ends
at once) the action of a ``safe-rerun`` task runs again and the workflow ends
in SUCCESS.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from rolekit import Gate

from sirocco.cli.main import main
from sirocco.store import tables
from tests.conftest import PG_URL, port_open

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "running.md"
SIROCCO = [sys.executable, "-m", "sirocco.cli.main"]
WAIT = 90.0  # generous: processes start slowly on a loaded machine

WORKFLOWS = """
version: '2.0'
careful:
  input:
    - gate: null
  tasks:
    slow:
      wait-before: 1  # sirocco run is following the execution by then
      action: std.http url=<% $.gate %>
      on-success: [done]
    done:
      action: std.echo output="finished"
      publish:
        said: <% task().result %>
  output:
    said: <% $.said %>
rerunnable:
  input:
    - gate: null
  tasks:
    slow:
      wait-before: 1  # sirocco run is following the execution by then
      action: std.http url=<% $.gate %>
      safe-rerun: true
      on-success: [done]
    done:
      action: std.echo output="finished"
      publish:
        said: <% task().result %>
  output:
    said: <% $.said %>
"""


def _environment(**extra: str) -> dict[str, str]:
    kept = {key: value for key, value in os.environ.items() if not key.startswith("SIROCCO_")}
    return {**kept, "PYTHONWARNINGS": "ignore", **extra}


def _wait(what: str, check: Callable[[], Any], process: subprocess.Popen[str] | None) -> Any:
    deadline = time.monotonic() + WAIT
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline or (process is not None and process.poll() is not None):
            printed = ""
            if process is not None:
                process.kill()
                printed = "".join(part or "" for part in process.communicate())
            pytest.fail(f"{what}: not within {WAIT:g} s; the process printed:\n{printed}")
        time.sleep(0.05)


# ---------------------------------------------------------------- PostgreSQL


def _postgres_block() -> list[str]:
    text = PAGE.read_text()
    block = text.split("## On PostgreSQL", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.strip()]


@pytest.fixture
def database_name() -> Iterator[str]:
    if not port_open(5432):
        pytest.skip("PostgreSQL is not running on 127.0.0.1:5432")
    if shutil.which("createdb") is None:
        pytest.skip("createdb (PostgreSQL's client tools) is not installed")
    name = f"sirocco_page_{uuid.uuid4().hex[:10]}"
    yield name
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_the_postgresql_block_as_written(database_name: str) -> None:
    block = _postgres_block()
    assert block[0] == "createdb -h 127.0.0.1 -U postgres sirocco"
    assert block[-1] == "sirocco server --port 8989"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    environment = _environment()
    printed: dict[str, str] = {}
    for line in block:
        words = [
            word.replace("/sirocco", f"/{database_name}")
            for word in shlex.split(line.replace(" sirocco\n", "").strip())
        ]
        if words[0] == "createdb":
            words[-1] = database_name
        if words[0] == "export":
            name, _, value = words[1].partition("=")
            environment[name] = value
            continue
        if words[:2] == ["sirocco", "db"]:  # in this process: the same command, faster
            result = CliRunner(env={"SIROCCO_DB": environment["SIROCCO_DB"]}).invoke(
                main, words[1:]
            )
            assert result.exit_code == 0, f"{line}: {result.stdout}{result.stderr}"
            printed[line] = result.stdout
            continue
        if words[0] == "sirocco":
            words = [*SIROCCO, *words[1:]]
        if "server" in words:
            words[words.index("8989")] = port
            server = subprocess.Popen(
                words, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
            _wait("sirocco server", lambda: _answers(f"http://127.0.0.1:{port}/v2"), server)
            server.send_signal(signal.SIGTERM)
            _, stderr = server.communicate(timeout=WAIT)
            assert server.returncode == 0, stderr
            continue
        done = subprocess.run(
            words, env=environment, capture_output=True, text=True, timeout=WAIT, check=False
        )
        assert done.returncode == 0, f"{line}: {done.stdout}{done.stderr}"
        printed[line] = done.stdout
    assert environment["SIROCCO_DB"].endswith(f"/{database_name}")
    assert printed["sirocco db upgrade"].startswith("database at revision ")
    assert printed["sirocco db current"].endswith("(the newest)\n")
    assert printed["sirocco db history"].rstrip().endswith("(newest, this database)")


# ---------------------------------------------------------------- stopping


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "workflows.yaml"
    path.write_text(WORKFLOWS)
    return path, f"sqlite:///{tmp_path / 'stop.sqlite'}"


@pytest.fixture
def gate() -> Iterator[Gate]:
    """Holds the workflows' action until the test opens it: the signal surely meets it."""
    held = Gate()
    try:
        yield held
    finally:
        held.close()


def _start_and_wait_for_the_action(
    path: Path, db: str, workflow: str, gate: Gate
) -> subprocess.Popen[str]:
    given = json.dumps({"gate": gate.url})
    arguments = ["run", str(path), "--workflow", workflow, "--db", db, "--json", "--input", given]
    process = subprocess.Popen(
        [*SIROCCO, *arguments],
        env=_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    engine = sa.create_engine(db)

    def running() -> bool:
        query = sa.select(sa.func.count()).where(tables.action_executions.c.state == "RUNNING")
        try:
            with engine.connect() as connection:
                return bool(connection.execute(query).scalar()) and gate.requests == 1
        except sa.exc.OperationalError:  # the tables are not there yet
            return False

    _wait("the action to start", running, process)
    engine.dispose()
    return process


def _execution(db: str) -> tuple[str, str, str | None]:
    """The id and state of the one execution, and the state_info of its task ``slow``."""
    engine = sa.create_engine(db)
    with engine.connect() as connection:
        execution = connection.execute(
            sa.select(tables.workflow_executions.c.id, tables.workflow_executions.c.state)
        ).one()
        info = connection.execute(
            sa.select(tables.task_executions.c.state_info).where(
                tables.task_executions.c.name == "slow"
            )
        ).scalar()
    engine.dispose()
    return execution.id, execution.state, info


def _resume(execution_id: str, db: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SIROCCO, "resume", execution_id, "--db", db, "--json"],
        env=_environment(),
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=False,
    )


@pytest.mark.slow
def test_ctrl_c_then_resume_fails_an_action_that_is_not_safe_to_rerun(
    setup: tuple[Path, str], gate: Gate
) -> None:
    path, db = setup
    process = _start_and_wait_for_the_action(path, db, "careful", gate)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=WAIT)
    assert process.returncode == 130, (stderr, stdout)
    assert stdout == ""
    execution_id, state, _ = _execution(db)
    assert state == "RUNNING"
    assert len(stderr.strip().splitlines()) == 1 and execution_id in stderr
    assert "interrupted" in stderr
    _resume(execution_id, db)
    _, state, info = _execution(db)
    assert state == "ERROR"
    assert info is not None and "cannot be re-run safely" in info
    assert gate.requests == 1


@pytest.mark.slow
def test_sigterm_ends_sirocco_run_at_once_and_resume_finishes(
    setup: tuple[Path, str], gate: Gate
) -> None:
    path, db = setup
    process = _start_and_wait_for_the_action(path, db, "rerunnable", gate)
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=WAIT)
    assert process.returncode == -signal.SIGTERM
    execution_id, state, _ = _execution(db)
    assert state == "RUNNING"
    gate.opened.set()  # the action runs again on resume: let it end
    resumed = _resume(execution_id, db)
    assert resumed.returncode == 0, resumed.stderr
    assert '"state": "SUCCESS"' in resumed.stdout
    assert gate.requests == 2


def test_a_wrong_setting_is_one_line(setup: tuple[Path, str]) -> None:
    path, db = setup
    done = CliRunner(env={"SIROCCO_EXECUTOR_WORKERS": "0"}).invoke(
        main, ["run", str(path), "--workflow", "careful", "--db", db]
    )
    assert done.exit_code == 2
    assert re.fullmatch(r"sirocco: Invalid setting executor_workers: .+\n", done.stderr)
