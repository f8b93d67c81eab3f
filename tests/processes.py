"""Sirocco commands as subprocesses in tests: started with their output in a file, awaited on a
condition, stopped with SIGTERM; a module's server that failed to start is reported once."""

from __future__ import annotations

import signal
import socket
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn, TypeVar

import pytest

from tests.waiting import BOUND, wait_for

T = TypeVar("T")

#: Exit statuses of a process stopped with SIGTERM: its handler ran (0), or the signal
#: arrived before the handler was installed (still importing) and ended it (-15).
STOPPED = frozenset({0, -signal.SIGTERM})

#: How much of a process's output a failure message shows (the end of it).
SHOWN = 8000


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def answers(url: str) -> bool:
    """Whether an HTTP server answers ``url`` (with any status)."""
    try:
        with urllib.request.urlopen(url, timeout=10):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


class ProcessEnded(AssertionError):
    """The process ended while a test waited for it to do something."""


class Process:
    """A command running in the background, stdout and stderr into ``log``."""

    def __init__(
        self, args: Sequence[str], *, log: Path, env: Mapping[str, str] | None = None
    ) -> None:
        self.args = [str(arg) for arg in args]
        self.log = log
        self._output = log.open("w")
        self.popen = subprocess.Popen(
            self.args,
            stdout=self._output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=None if env is None else dict(env),
        )

    def __str__(self) -> str:
        return " ".join(self.args[1:3]) or self.args[0]

    def output(self) -> str:
        """What the process printed so far (its end), with how it is doing."""
        if not self._output.closed:
            self._output.flush()
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        code = self.popen.poll()
        status = "still running" if code is None else f"exit status {code}"
        if len(text) > SHOWN:
            text = "[...]\n" + text[-SHOWN:]
        return f"--- `{' '.join(self.args)}` ({status}) printed:\n{text}--- end of output"

    def wait_until(self, condition: Callable[[], T | None], what: str) -> T:
        """The first true value of ``condition()``; fails at once if the process ends first."""

        def check() -> T | None:
            value = condition()
            if value:
                return value
            if self.popen.poll() is not None:
                raise ProcessEnded(f"{self} ended while waiting for {what}\n{self.output()}")
            return None

        return wait_for(check, what=what, seen=self.output)

    def wait_answering(self, url: str) -> None:
        """Wait until the process's HTTP server answers ``url``."""
        self.wait_until(lambda: answers(url), f"{url} to answer")

    def stop(self) -> int:
        """SIGTERM, then its exit status (SIGKILL if it has not ended within the bound)."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(BOUND)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()
        self._output.close()
        return int(self.popen.returncode)

    def kill(self) -> int:
        """SIGKILL, then its exit status."""
        if self.popen.poll() is None:
            self.popen.kill()
        self.popen.wait()
        self._output.close()
        return int(self.popen.returncode)

    def assert_stopped_cleanly(self) -> None:
        code = self.stop()
        assert code in STOPPED, f"{self} exited {code} after SIGTERM\n{self.output()}"


def run(
    args: Sequence[str], *, env: Mapping[str, str] | None = None, bound: float = BOUND
) -> subprocess.CompletedProcess[str]:
    """Run a command to its end and capture its output; at the bound, fail showing it."""
    try:
        return subprocess.run(
            [str(arg) for arg in args],
            capture_output=True,
            text=True,
            timeout=bound,
            env=None if env is None else dict(env),
            check=False,
        )
    except subprocess.TimeoutExpired as timeout:
        raise AssertionError(
            f"`{' '.join(map(str, args))}` did not end within {bound:g} s; it printed:\n"
            f"{_text(timeout.stdout)}\n--- stderr:\n{_text(timeout.stderr)}"
        ) from None


def _text(output: bytes | str | None) -> str:
    if isinstance(output, bytes):
        return output.decode(errors="replace")
    return output or ""


@dataclass
class StartFailure:
    """A module-scoped server that did not start: the first test using it fails with the
    reason (the server's output); every other test of the module is skipped, pointing there."""

    message: str
    reported: bool = False

    def report(self) -> NoReturn:
        if self.reported:
            pytest.skip("the module's server did not start; the module's first test says why")
        self.reported = True
        pytest.fail(self.message, pytrace=False)
