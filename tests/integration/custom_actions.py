"""Custom Python actions the runtime tests register: a nap, a flaky call, a side effect,
a large result from a small input."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, ClassVar

from mistral_lib import actions

from tests.waiting import BOUND


class Nap(actions.Action):  # type: ignore[misc]
    """Sleeps a fraction of a second and returns ``value``."""

    def __init__(self, seconds: float = 0.05, value: Any = None) -> None:
        super().__init__()
        self.seconds = float(seconds)
        self.value = value

    def run(self, context: Any) -> Any:
        time.sleep(self.seconds)
        return self.value


class Big(actions.Action):  # type: ignore[misc]
    """Returns ``text`` repeated ``times``: a result far larger than the action's input."""

    def __init__(self, text: str = "ab", times: int = 1) -> None:
        super().__init__()
        self.text = text
        self.times = int(times)

    def run(self, context: Any) -> Any:
        return self.text * self.times


class Flaky(actions.Action):  # type: ignore[misc]
    """Fails the first ``failures`` calls with the same ``key``, then returns the call number."""

    calls: ClassVar[dict[str, int]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, key: str, failures: int = 1) -> None:
        super().__init__()
        self.key = key
        self.failures = int(failures)

    def run(self, context: Any) -> Any:
        with self._lock:
            number = self.calls.get(self.key, 0) + 1
            self.calls[self.key] = number
        if number <= self.failures:
            return actions.Result(error=f"call {number} failed")
        return number


class AppendLine(actions.Action):  # type: ignore[misc]
    """Appends ``line`` to the file at ``path`` (a side effect a test can count)."""

    def __init__(self, path: str, line: str, seconds: float = 0.0) -> None:
        super().__init__()
        self.path = path
        self.line = line
        self.seconds = float(seconds)

    def run(self, context: Any) -> Any:
        with Path(self.path).open("a") as handle:
            handle.write(self.line + "\n")
        if self.seconds:
            time.sleep(self.seconds)
        return self.line


class Hold(actions.Action):  # type: ignore[misc]
    """Blocks until the test releases ``Hold.gate`` (or the tests' bound passes)."""

    gate: ClassVar[threading.Event] = threading.Event()

    def __init__(self, value: Any = None) -> None:
        super().__init__()
        self.value = value

    def run(self, context: Any) -> Any:
        self.gate.wait(BOUND)
        return self.value


REGISTERED: dict[str, type] = {
    "test.nap": Nap,
    "test.big": Big,
    "test.flaky": Flaky,
    "test.append": AppendLine,
    "test.hold": Hold,
}
