"""Sirocco roles as real processes for acceptance tests: start, SIGKILL, restart, read
their logs, and wait on a condition with a bound that reports what the processes printed."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.waiting import BOUND

SIROCCO = str(Path(sys.executable).parent / "sirocco")

Value = TypeVar("Value")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def call(
    url: str, method: str = "GET", body: Any = None, *, text: bool = False, timeout: float = BOUND
) -> Any:
    """One HTTP request; the decoded JSON body (HTTPError for a status >= 400). It may take
    the suite's bound: on a loaded machine an answer can take longer than ten seconds."""
    data = None
    if body is not None:
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    headers = {"Content-Type": "text/plain" if text else "application/json", "Accept": "*/*"}
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read() or b"null")


def status(url: str, timeout: float = 5) -> tuple[int, Any]:
    """(HTTP status, decoded body) of a GET, whatever the status; (0, reason) if unreachable."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        body = exc.read()
        try:
            return exc.code, json.loads(body or b"null")
        except ValueError:
            return exc.code, body.decode(errors="replace")
    except OSError as exc:
        return 0, str(exc)


@dataclass
class Role:
    name: str
    args: list[str]
    log: Path
    process: subprocess.Popen[bytes]


@dataclass
class Roles:
    """Role processes on one database, their logs under ``folder``."""

    folder: Path
    env: dict[str, str]
    running: list[Role] = field(default_factory=list)
    _count: int = 0

    def start(self, name: str, *args: str) -> Role:
        self._count += 1
        log = self.folder / f"{name}-{self._count}.log"
        process = subprocess.Popen(
            [SIROCCO, name, *args],
            env=self.env,
            stdout=open(log, "w"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
        )
        role = Role(name=name, args=list(args), log=log, process=process)
        self.running.append(role)
        return role

    def kill(self, role: Role) -> None:
        """SIGKILL: the process gets no chance to clean up."""
        role.process.send_signal(signal.SIGKILL)
        role.process.wait(10)
        self.running.remove(role)

    def stop_all(self, timeout: float = 20) -> list[str]:
        """SIGTERM every role; the problems (a non-zero exit, a hang) as text."""
        problems = []
        for role in self.running:
            role.process.send_signal(signal.SIGTERM)
        for role in self.running:
            try:
                code = role.process.wait(timeout)
            except subprocess.TimeoutExpired:
                role.process.kill()
                problems.append(f"{role.name} did not stop on SIGTERM")
                continue
            if code != 0:
                problems.append(f"{role.name} exited {code}")
        self.running = []
        return problems

    def wait_started(self, bound: float = BOUND) -> None:
        """Wait until every running role has said it runs (a role stopped while it still
        starts up dies of the signal instead of stopping cleanly)."""

        def started() -> bool:
            return all(
                "sirocco API on" in role.log.read_text(errors="replace")
                or f"sirocco {role.name} running" in role.log.read_text(errors="replace")
                for role in self.running
            )

        self.wait_for(started, bound, "every role to finish starting")

    def logs(self, tail: int = 3000) -> str:
        parts = []
        for log in sorted(self.folder.glob("*.log")):
            text = log.read_text(errors="replace")
            parts.append(f"--- {log.name}\n{text[-tail:]}")
        return "\n".join(parts)

    def wait_for(self, condition: Callable[[], Value | None], bound: float, what: str) -> Value:
        """Wait until ``condition()`` is truthy (at most ``bound`` seconds, and never less than
        the suite's bound, ``tests.waiting.BOUND``: a loaded machine is slow, not wrong)."""
        deadline = time.monotonic() + max(bound, BOUND)
        while True:
            value = condition()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}\n{self.logs()}")
            time.sleep(0.05)

    def wait_http(self, url: str, bound: float = BOUND) -> None:
        self.wait_for(lambda: status(url)[0] != 0, bound, f"{url} to answer")


class PrivatePostgres:
    """A PostgreSQL server of the test's own (``initdb`` and ``pg_ctl`` on a free port),
    never the machine's shared one, so that the test may stop and restart it."""

    def __init__(self) -> None:
        found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
        if not found:
            raise FileNotFoundError("no PostgreSQL binaries under /usr/lib/postgresql")
        self.bin = found[-1].parent
        self.folder = Path(tempfile.mkdtemp(prefix="sirocco-pg-"))
        self.data = self.folder / "data"
        self.port = free_port()
        # PostgreSQL refuses to run as root: run its tools as the postgres user then.
        self._as: list[str] = []
        if os.geteuid() == 0:
            self._as = ["runuser", "-u", "postgres", "--"]
            shutil.chown(self.folder, "postgres")
        self._tool(
            "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync", "-E",
            "UTF8",
        )  # fmt: skip

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _tool(self, name: str, *args: str) -> None:
        subprocess.run(
            [*self._as, str(self.bin / name), *args],
            check=True,
            capture_output=True,
            cwd=self.folder,
        )

    def start(self, *settings: str) -> None:
        """``settings``: more ``name=value`` of the server's, each given as ``-c``."""
        # fsync off: an OS crash is not what the tests simulate; synchronous_commit stays on,
        # or a stop as in a crash would lose transactions that were reported committed.
        options = (
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c full_page_writes=off -c max_connections=200"
        ) + "".join(f" -c {setting}" for setting in settings)
        self._tool(
            "pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.folder / "log"), "-w",
            "start",
        )  # fmt: skip

    def stop(self, mode: str = "immediate") -> None:
        """``immediate``: as a crash, no shutdown checkpoint, clients cut off."""
        self._tool("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def destroy(self) -> None:
        try:
            self.stop("immediate")
        except subprocess.CalledProcessError:
            pass  # not running
        shutil.rmtree(self.folder, ignore_errors=True)


class PrivateRabbit:
    """A RabbitMQ node of the test's own (free ports, files in a temporary folder, no
    plugins), never the machine's shared broker, so that the test may SIGKILL it."""

    def __init__(self) -> None:
        script = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")
        if not script.exists():
            raise FileNotFoundError(f"RabbitMQ is not installed ({script} is missing)")
        self.script = script
        self.folder = Path(tempfile.mkdtemp(prefix="sirocco-rabbit-"))
        self.port = free_port()
        plugins = self.folder / "enabled_plugins"
        plugins.write_text("[].\n")
        self.env = {
            **os.environ,
            # Its Erlang cookie lives here too, not in the user's home.
            "HOME": str(self.folder),
            "RABBITMQ_NODENAME": f"sirocco-chaos-{os.getpid()}-{self.port}@localhost",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(free_port()),
            "RABBITMQ_MNESIA_BASE": str(self.folder / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.folder / "log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(plugins),
            "RABBITMQ_PID_FILE": str(self.folder / "pid"),
            "RABBITMQ_CONFIG_FILE": str(self.folder / "rabbitmq"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(self.folder / "advanced.config"),
        }
        self._process: subprocess.Popen[bytes] | None = None
        self.restarts = 0

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"

    def start(self) -> None:
        """Start the node (not waiting for it: see :meth:`wait_up`)."""
        log = open(self.folder / "server.log", "ab")  # noqa: SIM115
        self._process = subprocess.Popen(
            [str(self.script)],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.folder,
            start_new_session=True,  # its own process group: killed together
        )

    def up(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False

    def wait_up(self, bound: float = BOUND) -> None:
        deadline = time.monotonic() + max(bound, BOUND)
        while not self.up():
            if self._process is not None and self._process.poll() is not None:
                raise RuntimeError(f"RabbitMQ exited at start:\n{self.log()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"RabbitMQ did not start\n{self.log()}")
            time.sleep(0.2)

    def kill(self) -> None:
        """SIGKILL the node's whole process group (start script, Erlang VM and its
        helpers), as a crash."""
        process, self._process = self._process, None
        if process is None:
            return
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(30)

    def log(self, tail: int = 3000) -> str:
        path = self.folder / "server.log"
        return path.read_text(errors="replace")[-tail:] if path.exists() else ""

    def destroy(self) -> None:
        self.kill()
        shutil.rmtree(self.folder, ignore_errors=True)


class Gate:
    """A local HTTP service (``url``) that counts its requests and answers none of them
    before the test opens it: an action calling it surely runs while the test acts (a
    timed action could end first on a slow machine)."""

    def __init__(self) -> None:
        self.requests = 0
        self.opened = threading.Event()
        lock = threading.Lock()
        gate = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with lock:
                    gate.requests += 1
                gate.opened.wait(BOUND)
                try:
                    self.send_response(200)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:
                    pass  # the caller was killed meanwhile

            def log_message(self, format: str, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/gate"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.opened.set()
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def private_postgres(*settings: str) -> Iterator[PrivatePostgres]:
    """A PostgreSQL server of the test's own, started with ``settings``, destroyed after
    (the test is skipped where no PostgreSQL server binaries are installed)."""
    try:
        server = PrivatePostgres()
    except FileNotFoundError as exc:
        pytest.skip(str(exc))
    try:
        server.start(*settings)
        yield server
    finally:
        server.destroy()


@contextmanager
def api_and_engine(
    postgres_url: str, folder: Path, env: dict[str, str]
) -> Iterator[tuple[Roles, str, str]]:
    """``sirocco api`` and one engine on ``postgres_url`` (with ``env`` over this process's
    environment): the roles, the API's base URL and the database URL. Every role must stop
    cleanly at the end."""
    group = Roles(folder=folder, env={**os.environ, "SIROCCO_DB": postgres_url, **env})
    port = free_port()
    group.start("api", "--port", str(port))
    group.start("engine")
    base = f"http://127.0.0.1:{port}/v2"
    try:
        group.wait_http(base)
        yield group, base, postgres_url
    finally:
        problems = group.stop_all()
        assert not problems, f"{problems}\n{group.logs()}"
