"""docs/actions.md, command by command: install the example action package, list, run, serve.

The package in ``examples/action-package`` is pip-installed into a throwaway
environment: a venv without pip whose ``.pth`` file adds this project's
site-packages, so Sirocco, pip and mistral-lib come from here and only the
package lands in the venv (its build backend, setuptools, is fetched by pip's
isolated build). Then every shell command of the page runs in order, each
through the venv's interpreter, with its port, file and id placeholders
replaced; ``test_the_page_shows_only_commands_this_test_runs`` keeps the page
and this list the same.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sysconfig
import time
import venv
from collections.abc import Callable, Iterator
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.waiting import BOUND

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "actions.md"
WAIT = BOUND  # the suite's bound: a loaded machine starts a server slowly

INSTALL = "pip install ./examples/action-package"
LIST = "sirocco actions 'acme.*'"
UNIT_TESTS = "python -m pytest examples/action-package/tests"
RUN_OK = (
    "sirocco run examples/action-package/fingerprint.yaml "
    """--input '{"documents": ["hello", "world"]}'"""
)
RUN_HANDLED_ERROR = (
    "sirocco run examples/action-package/fingerprint.yaml "
    """--input '{"documents": ["hello"], "algorithm": "rot13"}'"""
)
SERVER = "sirocco server --port 8989 &"
EXPORT = "export OS_MISTRAL_URL=http://127.0.0.1:8989/v2"
ACTION_LIST = "mistral action-list"
ACTION_GET = "mistral action-get acme.checksum"
RUN_ACTION = """mistral run-action acme.checksum '{"text": "abc"}'"""
CREATE_TICKETED = "mistral workflow-create examples/action-package/ticketed_change.yaml"
START_TICKETED = (
    "mistral execution-create ticketed_change "
    """'{"title": "rotate keys", "inbox": "/tmp/tickets.jsonl"}'"""
)
READ_TICKET = "tail -n 1 /tmp/tickets.jsonl"
COMPLETE = (
    "mistral action-execution-update ACTION_EXECUTION_ID --state SUCCESS "
    """--output '{"resolved_by": "ana"}'"""
)
GET_OUTPUT = "mistral execution-get-output EXECUTION_ID"
CURL = (
    "curl -X PUT http://127.0.0.1:8989/v2/action_executions/ACTION_EXECUTION_ID "
    "-H 'Content-Type: application/json' "
    """-d '{"state": "SUCCESS", "output": "{\\"resolved_by\\": \\"bo\\"}"}'"""
)
CREATE_ADHOC = "mistral action-create examples/action-package/adhoc_actions.yaml"
CREATE_DIGEST = "mistral workflow-create examples/action-package/digest_release.yaml"
START_DIGEST = """mistral execution-create digest_release '{"version": "2.4.1"}'"""

COMMANDS = (
    INSTALL,
    LIST,
    UNIT_TESTS,
    RUN_OK,
    RUN_HANDLED_ERROR,
    SERVER,
    EXPORT,
    ACTION_LIST,
    ACTION_GET,
    RUN_ACTION,
    CREATE_TICKETED,
    START_TICKETED,
    READ_TICKET,
    COMPLETE,
    GET_OUTPUT,
    CURL,
    CREATE_ADHOC,
    CREATE_DIGEST,
    START_DIGEST,
)


def page_commands() -> list[str]:
    """The lines of the page's ``sh`` blocks."""
    commands: list[str] = []
    inside = False
    for line in PAGE.read_text().splitlines():
        if line.startswith("```"):
            inside = line == "```sh"
            continue
        if inside and line.strip():
            commands.append(line.strip())
    return commands


def test_the_page_shows_only_commands_this_test_runs() -> None:
    assert page_commands() == list(COMMANDS)


# ---------------------------------------------------------------- the environment


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _throwaway_venv(folder: Path) -> Path:
    """A venv seeing this project's packages; returns its interpreter."""
    venv.EnvBuilder(with_pip=False).create(folder)
    python = folder / "bin" / "python"
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    project_site = sysconfig.get_paths()["purelib"]
    Path(site, "sirocco_project.pth").write_text(
        f"import site; site.addsitedir({project_site!r})\n"
    )
    return python


@dataclass
class Shell:
    """Runs the page's commands: placeholders replaced, programs run by the venv's python."""

    python: Path
    folder: Path
    port: int
    values: dict[str, str] = field(default_factory=dict)
    environment: dict[str, str] = field(default_factory=dict)
    ran: list[str] = field(default_factory=list)
    server: subprocess.Popen[str] | None = None

    def words(self, command: str) -> list[str]:
        text = command.replace("8989", str(self.port))
        text = text.replace("/tmp/tickets.jsonl", str(self.folder / "tickets.jsonl"))
        for name, value in self.values.items():
            text = text.replace(name, value)
        words = shlex.split(text)
        program = {
            "pip": [str(self.python), "-m", "pip"],
            "sirocco": [str(self.python), "-m", "sirocco.cli.main"],
            "python": [str(self.python)],
        }.get(words[0])
        return [*program, *words[1:]] if program else words

    def run(self, command: str, expect: int = 0) -> str:
        self.ran.append(command)
        started = time.monotonic()
        try:
            return self._run(command, expect)
        finally:
            print(f"{time.monotonic() - started:6.2f} s  {command}")

    def _run(self, command: str, expect: int) -> str:
        if command.startswith("export "):
            name, _, value = command.removeprefix("export ").partition("=")
            self.environment[name] = value.replace("8989", str(self.port))
            return ""
        if command.startswith("mistral "):
            return self._mistral(command, expect)
        if command.endswith("&"):
            self.server = subprocess.Popen(
                self.words(command.removesuffix("&")),
                cwd=ROOT,
                env=self.env(),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            return ""
        done = subprocess.run(
            self.words(command),
            cwd=ROOT,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == expect, (
            f"{command}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
        )
        return done.stdout

    def env(self) -> dict[str, str]:
        kept = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("SIROCCO_", "OS_", "PYTHON"))
        }
        return {
            **kept,
            "SIROCCO_DB": f"sqlite:///{self.folder / 'sirocco.sqlite'}",
            "PYTHONWARNINGS": "ignore",
            **self.environment,
        }

    def _mistral(self, command: str, expect: int) -> str:
        """The real ``mistral`` CLI, in this process (its start-up is slow)."""
        from mistralclient import shell

        out, err = io.StringIO(), io.StringIO()
        saved = {key: os.environ.get(key) for key in self.environment}
        os.environ.update(self.environment)
        try:
            with redirect_stdout(out), redirect_stderr(err):
                code = shell.main(self.words(command)[1:])
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        assert int(code or 0) == expect, f"{command}: exit {code}\n{out.getvalue()}{err.getvalue()}"
        return out.getvalue()

    def stop(self) -> str:
        if self.server is None:
            return ""
        self.server.terminate()
        try:
            output, _ = self.server.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.server.kill()
            output, _ = self.server.communicate()
        return output


@pytest.fixture
def shell(tmp_path: Path) -> Iterator[Shell]:
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    found = Shell(python=_throwaway_venv(tmp_path / "venv"), folder=tmp_path, port=_free_port())
    try:
        yield found
    finally:
        found.stop()


def wait_for(what: str, check: Callable[[], Any], shell: Shell) -> Any:
    """Poll ``check`` until it returns something true; fail with the server's output."""
    deadline = time.monotonic() + WAIT
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline or (shell.server and shell.server.poll() is not None):
            pytest.fail(f"{what}: not within {WAIT:g} s; the server printed:\n{shell.stop()}")
        time.sleep(0.1)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _field(table: str, name: str) -> str:
    match = re.search(rf"^\| {re.escape(name)}\s+\| (\S+)", table, re.MULTILINE)
    assert match, table
    return match.group(1)


# ---------------------------------------------------------------- the page, in order


@pytest.mark.slow
def test_the_action_package_end_to_end(shell: Shell) -> None:
    shell.run(INSTALL)
    listed = shell.run(LIST)
    assert listed.splitlines()[0] == (
        'acme.checksum(text, algorithm="sha256")  from acme-actions 1.0.0 '
        "(acme_actions.checksum:Checksum)"
    )
    assert "acme.open_ticket(title, inbox)  async  from acme-actions 1.0.0" in listed
    assert listed.splitlines()[-1] == "2 actions"
    assert "std." not in listed
    assert "3 passed" in shell.run(UNIT_TESTS)

    done = shell.run(RUN_OK)
    for text in ("hello", "world"):
        assert hashlib.sha256(text.encode()).hexdigest() in done
    assert ": SUCCESS" in done
    handled = shell.run(RUN_HANDLED_ERROR)
    assert '"unknown_algorithm": "rot13"' in handled and ": SUCCESS" in handled

    shell.run(SERVER)
    api = f"http://127.0.0.1:{shell.port}/v2"
    wait_for("sirocco server answering", lambda: _answers(api), shell)
    shell.run(EXPORT)
    names = re.findall(r"^\| \S+\s+\| (\S+)", shell.run(ACTION_LIST), re.MULTILINE)
    assert {"acme.checksum", "acme.open_ticket", "std.echo"} <= set(names)
    shown = shell.run(ACTION_GET)
    assert _field(shown, "Input") == "text,"  # the table cell: text, algorithm="sha256"
    assert 'text, algorithm="sha256"' in shown
    ran = json.loads(shell.run(RUN_ACTION))
    assert ran == {"result": {"algorithm": "sha256", "digest": hashlib.sha256(b"abc").hexdigest()}}

    # An asynchronous action, completed through the CLI, then with curl.
    shell.run(CREATE_TICKETED)
    tickets = shell.folder / "tickets.jsonl"

    def ticket_count() -> int:
        return len(tickets.read_text().splitlines()) if tickets.exists() else 0

    def start_and_read_ticket() -> tuple[str, dict[str, Any]]:
        before = ticket_count()
        execution_id = _field(shell.run(START_TICKETED), "ID")
        wait_for("the ticket", lambda: ticket_count() > before, shell)
        ticket = json.loads(shell.run(READ_TICKET))
        assert ticket["workflow_execution_id"] == execution_id
        assert ticket["callback_url"] == f"/v2/action_executions/{ticket['action_execution_id']}"
        return execution_id, ticket

    def state(execution_id: str) -> str:
        return str(httpx.get(f"{api}/executions/{execution_id}", timeout=10).json()["state"])

    first, ticket = start_and_read_ticket()
    assert state(first) == "RUNNING"
    shell.values = {
        "ACTION_EXECUTION_ID": ticket["action_execution_id"],
        "EXECUTION_ID": first,
    }
    shell.run(COMPLETE)
    wait_for("the execution to end", lambda: state(first) == "SUCCESS", shell)
    assert json.loads(shell.run(GET_OUTPUT)) == {"resolution": {"resolved_by": "ana"}}

    second, ticket = start_and_read_ticket()
    shell.values = {"ACTION_EXECUTION_ID": ticket["action_execution_id"]}
    answer = json.loads(shell.run(CURL))
    assert answer["state"] == "SUCCESS"
    wait_for("the second execution to end", lambda: state(second) == "SUCCESS", shell)
    output = httpx.get(f"{api}/executions/{second}", timeout=10).json()["output"]
    assert json.loads(output) == {"resolution": {"resolved_by": "bo"}}
    again = httpx.put(
        f"{api}/action_executions/{ticket['action_execution_id']}",
        json={"state": "SUCCESS", "output": '"twice"'},
        timeout=10,
    )
    assert again.status_code == 400
    assert "is already completed" in again.json()["faultstring"]

    # ERROR through the same call fails the task with the error data.
    third, ticket = start_and_read_ticket()
    failed = httpx.put(
        f"{api}/action_executions/{ticket['action_execution_id']}",
        json={"state": "ERROR", "output": '{"reason": "no change window"}'},
        timeout=10,
    )
    assert failed.status_code == 200, failed.text
    wait_for("the third execution to fail", lambda: state(third) == "ERROR", shell)

    # An ad-hoc action over the plugin.
    shell.run(CREATE_ADHOC)
    shell.run(CREATE_DIGEST)
    digest = _field(shell.run(START_DIGEST), "ID")
    wait_for("the digest workflow", lambda: state(digest) == "SUCCESS", shell)
    output = httpx.get(f"{api}/executions/{digest}", timeout=10).json()["output"]
    assert json.loads(output) == {"sha1": hashlib.sha1(b"release 2.4.1").hexdigest()}

    assert list(dict.fromkeys(shell.ran)) == list(COMMANDS)
