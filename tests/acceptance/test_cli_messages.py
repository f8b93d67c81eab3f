"""What the CLI tells a user: errors once and short, Ctrl-C and what resume will do,
the live view, log lines at the right level.

Waits are on conditions (a line printed, a request received) with generous
bounds; a bound that runs out reports what the process printed.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests import processes
from tests.acceptance.test_cli_run import (
    SIROCCO,
    _environment,
    _one_json_object,
    _one_line,
    _run_in_terminal,
    invoke,
)
from tests.waiting import BOUND, wait_for

# ---------------------------------------------------------------- a small HTTP server


class Service:
    """An HTTP server on 127.0.0.1: ``/fail`` answers 500 with a long body; any other path
    is held until :attr:`release` is set, then answered 200. Paths are recorded."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        self.release = threading.Event()
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                service.paths.append(self.path)
                if self.path == "/fail":
                    self._answer(500, "the service is down: " + "x" * 1000)
                    return
                service.release.wait(BOUND)
                self._answer(200, "done")

            def _answer(self, status: int, text: str) -> None:
                body = text.encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:  # the caller went away (interrupted)
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def service() -> Iterator[Service]:
    running = Service()
    try:
        yield running
    finally:
        running.close()


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'messages.sqlite'}"


def _calling(url: str, *paths: str) -> str:
    """A workflow ``calls`` of one task per path, each calling ``url/path`` with
    ``std.http``; the task ``safe`` says ``safe-rerun: true``."""
    tasks = "".join(
        f'    {path}:\n      action: std.http url="{url}/{path}"\n'
        + ("      safe-rerun: true\n" if path == "safe" else "")
        for path in paths
    )
    return f"\nversion: '2.0'\ncalls:\n  tasks:\n{tasks}"


def _write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "workflow.yaml"
    path.write_text(text)
    return str(path)


# ---------------------------------------------------------------- errors once


BROKEN = """
version: '2.0'
broken:
  tasks:
    explode:
      action: std.fail error_data="the disk is full"
"""


def test_an_error_is_printed_once_without_the_result_echo(tmp_path: Path, db: str) -> None:
    result = invoke("run", _write(tmp_path, BROKEN), "--db", db)
    assert result.exit_code == 1
    assert result.stdout.count("the disk is full") == 1, result.stdout
    assert '"result"' not in result.stdout
    assert result.stdout.splitlines()[-2:] == [
        "state info: Failure caused by error in tasks: explode",
        "  explode: the disk is full",
    ]
    assert result.stderr == ""  # the log line of the failure would say it again
    report = _one_json_object(invoke("run", _write(tmp_path, BROKEN), "--db", db, "--json").stdout)
    assert report["output"] == {"result": report["state_info"]}  # --json keeps it all


def test_a_paused_run_prints_no_null(tmp_path: Path, db: str) -> None:
    text = """
version: '2.0'
careful:
  tasks:
    wait_for_me:
      pause-before: true
      action: std.noop
"""
    result = invoke("run", _write(tmp_path, text), "--db", db)
    assert result.exit_code == 3
    assert "null" not in result.stdout
    assert result.stdout.splitlines()[-1].startswith("resume it with: sirocco resume ")


def test_an_http_failure_is_short_and_names_the_action(
    tmp_path: Path, db: str, service: Service
) -> None:
    text = f"""
version: '2.0'
calls:
  tasks:
    refused:
      action: std.http url="http://127.0.0.1:{processes.free_port()}/nothing"
    failing:
      action: std.http url="{service.url}/fail"
"""
    result = invoke("run", _write(tmp_path, text), "--db", db)
    assert result.exit_code == 1
    out = result.stdout
    assert "object at 0x" not in out
    assert "[action=std.http, action_ex_id=" in out
    assert out.count("HTTP 500 Internal Server Error") == 1, out
    assert out.count("the service is down") == 1, out
    assert "more characters)" in out  # the long body is cut
    report = _one_json_object(invoke("run", _write(tmp_path, text), "--db", db, "--json").stdout)
    failing = next(task for task in report["tasks"] if task["name"] == "failing")
    assert "x" * 1000 in failing["state_info"]  # the stored text is Mistral's, whole


def test_a_reverse_workflow_without_a_task_name_gets_a_hint(tmp_path: Path, db: str) -> None:
    text = """
version: '2.0'
build:
  type: reverse
  tasks:
    fetch:
      action: std.noop
    compile:
      requires: [fetch]
      action: std.noop
"""
    result = invoke("run", _write(tmp_path, text), "--db", db)
    assert result.exit_code == 2
    line = _one_line(result.stderr)
    assert "Invalid task name [wf_spec=build, task_name=None]" in line
    assert "reverse workflows need --param task_name=NAME" in line
    assert "fetch, compile" in line


# ---------------------------------------------------------------- Ctrl-C, then resume


def test_ctrl_c_while_the_execution_starts_says_which_execution_it_left(
    tmp_path: Path, db: str, service: Service
) -> None:
    """Ctrl-C that comes while the start is under way (under load it takes seconds, and
    the actions may already run) is held back until the start answers: the command then
    says which execution it left and what becomes of its actions, and exits 130."""
    text = _calling(service.url, "unsafe")
    interrupting = (
        "import os, signal, sys\n"
        "from sirocco.runtime.service import Service\n"
        "started = Service.start_workflow\n"
        "def start(self, **kwargs):\n"
        "    os.kill(os.getpid(), signal.SIGINT)\n"  # Ctrl-C while the start is under way
        "    return started(self, **kwargs)\n"
        "Service.start_workflow = start\n"
        "from sirocco.cli.main import main\n"
        "main()\n"
    )
    process = subprocess.run(
        [SIROCCO[0], "-c", interrupting, "run", _write(tmp_path, text), "--db", db, "--json"],
        capture_output=True,
        text=True,
        env=_environment(),
        timeout=BOUND,
    )
    service.release.set()
    assert process.returncode == 130, (process.stderr, process.stdout)
    assert process.stdout == ""
    line = _one_line(process.stderr)
    assert re.search(r"interrupted; the execution ([0-9a-f-]{36}) is RUNNING", line), line


def test_ctrl_c_says_what_resume_does_with_actions_in_flight(
    tmp_path: Path, db: str, service: Service
) -> None:
    text = _calling(service.url, "unsafe", "safe")
    process = subprocess.Popen(
        [*SIROCCO, "run", _write(tmp_path, text), "--db", db, "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_environment(),
    )
    try:
        wait_for(
            lambda: {"/unsafe", "/safe"} <= set(service.paths) or process.poll() is not None,
            what="both actions calling the service",
            seen=lambda: f"requests {service.paths}, exit status {process.poll()}",
        )
        assert process.poll() is None, process.communicate()
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=BOUND)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130, (stderr, stdout)
    assert stdout == ""
    line = _one_line(stderr)
    found = re.search(r"the execution ([0-9a-f-]{36}) is RUNNING", line)
    assert found, line
    assert "std.http (task unsafe) fails, as whether it took effect is unknown" in line
    assert "std.http (task safe) runs again (safe-rerun: true)" in line
    service.release.set()

    resumed = invoke("resume", found[1], "--db", db, "--json")
    assert resumed.exit_code == 1, resumed.stderr
    report = _one_json_object(resumed.stdout)
    states = {task["name"]: task for task in report["tasks"]}
    assert states["safe"]["state"] == "SUCCESS"
    assert states["unsafe"]["state"] == "ERROR"
    info = states["unsafe"]["state_info"]
    assert info.startswith(  # Mistral's words first
        "Request to run an action was redelivered, but it cannot be re-run safely. "
        "The only safe thing to do is fail it [action=std.http, action_ex_id="
    )
    assert "whether it took effect is unknown" in info
    assert "'safe-rerun: true'" in info
    assert sorted(service.paths) == ["/safe", "/safe", "/unsafe"]  # unsafe: not run twice


def test_resume_shows_an_execution_that_its_take_over_ended(
    tmp_path: Path, db: str, service: Service
) -> None:
    # The only action is not safe to re-run: taking the execution over fails it, and that
    # ends the workflow as the runtime starts. resume shows that result (exit 1), where it
    # used to say "Can't resume ...: it is ERROR" (exit 2) when the take-over came first.
    text = f"""
version: '2.0'
once:
  tasks:
    unsafe:
      action: std.http url="{service.url}/unsafe"
"""
    process = subprocess.Popen(
        [*SIROCCO, "run", _write(tmp_path, text), "--db", db, "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_environment(),
    )
    try:
        wait_for(
            lambda: "/unsafe" in service.paths or process.poll() is not None,
            what="the action calling the service",
            seen=lambda: f"requests {service.paths}, exit status {process.poll()}",
        )
        assert process.poll() is None, process.communicate()
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=BOUND)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130, (stderr, stdout)
    found = re.search(r"the execution ([0-9a-f-]{36}) is RUNNING", _one_line(stderr))
    assert found, stderr
    resumed = invoke("resume", found[1], "--db", db, "--json")
    assert resumed.exit_code == 1, resumed.stderr
    report = _one_json_object(resumed.stdout)
    assert report["state"] == "ERROR"
    assert [task["state"] for task in report["tasks"]] == ["ERROR"]
    assert service.paths == ["/unsafe"]  # not run twice


# ---------------------------------------------------------------- the live view


NESTED = """
version: '2.0'
main:
  tasks:
    first:
      action: std.echo output=1
      on-success: [child]
    child:
      workflow: inner
      on-success: [many]
    many:
      with-items: i in [1, 2, 3]
      action: std.echo output=<% $.i %>
inner:
  tasks:
    a:
      action: std.echo output="a"
      on-success: [b]
    b:
      action: std.echo output="b"
"""


def test_live_view_starts_at_once_and_shows_times_and_sub_workflow_progress(
    tmp_path: Path, db: str
) -> None:
    status, output = _run_in_terminal(
        [*SIROCCO, "run", _write(tmp_path, NESTED), "--workflow", "main", "--db", db]
    )
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", output)
    assert status == 0, plain
    starting = plain.find("workflow.yaml  STARTING")
    first_task = plain.find("│ first")
    assert 0 <= starting < first_task, plain  # a frame before the runtime was even up
    headers = re.findall(r"main  (?:RUNNING|SUCCESS)  [^\r\n]*", plain)
    assert headers, plain
    for header in headers:  # one line each: state, time, counts and id together
        assert re.fullmatch(
            r"main  (RUNNING|SUCCESS)  \d+\.\d s  \d/\d tasks done  [0-9a-f-]{36}", header
        ), header
    assert re.search(r"child\s*│\s*SUCCESS\s*│\s*2/2 tasks\s*│\s*\d+\.\d s", plain), plain
    assert re.search(r"many\s*│\s*SUCCESS\s*│\s*3/3 items\s*│\s*\d+\.\d s", plain), plain
    assert re.search(r"\nexecution [0-9a-f-]{36}: SUCCESS\r?\n", plain), plain


# ---------------------------------------------------------------- log levels


def _role(tmp_path: Path, *args: str) -> processes.Process:
    return processes.Process([*SIROCCO, *args], log=tmp_path / f"{args[0]}.log", env=_environment())


def _line_with(role: processes.Process, text: str) -> str:
    def found() -> str | None:
        lines = [line for line in role.log.read_text().splitlines() if text in line]
        return lines[0] if lines else None

    return role.wait_until(found, f"a line with {text!r}")


def _post(url: str, body: bytes, content_type: str) -> Any:
    import urllib.request

    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": content_type}
    )
    with urllib.request.urlopen(request, timeout=BOUND) as response:
        return json.loads(response.read())


def test_server_start_and_stop_are_info_and_a_failure_is_a_warning_with_its_reason(
    tmp_path: Path, db: str
) -> None:
    port = processes.free_port()
    server = _role(tmp_path, "server", "--port", str(port), "--db", db)
    try:
        started = _line_with(server, "sirocco API on")
        assert f" INFO sirocco.server: sirocco API on http://127.0.0.1:{port}/v2" in started
        api = f"http://127.0.0.1:{port}/v2"
        server.wait_answering(f"{api}/workflows")
        _post(f"{api}/workflows", BROKEN.encode(), "text/plain")
        execution = _post(
            f"{api}/executions",
            json.dumps({"workflow_name": "broken"}).encode(),
            "application/json",
        )
        failed = _line_with(server, f"workflow execution {execution['id']} (broken) failed")
        assert " WARNING sirocco.executions: " in failed
        assert failed.endswith(
            "failed: Failure caused by error in tasks: explode; explode: the disk is full"
        )
    finally:
        server.assert_stopped_cleanly()
    log = server.log.read_text()
    assert " INFO sirocco.server: sirocco server stopped" in log, log
    assert " WARNING sirocco.server" not in log, log


def test_a_role_says_it_runs_at_info(tmp_path: Path, db: str) -> None:
    assert invoke("db", "upgrade", "--db", db).exit_code == 0
    engine = _role(tmp_path, "engine", "--db", db)
    try:
        running = _line_with(engine, "sirocco engine running")
        assert " INFO sirocco.roles: " in running
    finally:
        engine.assert_stopped_cleanly()
