"""The health of one process: its long-running threads, what they failed to reach, and
the loop that keeps each of them alive through any failure (log, back off, go on).

``/live`` says the process is alive; ``/ready`` asks :meth:`Health.report`, which is ready
only while every watched thread is alive, no thread is failing, every probe (the database,
the broker) passes and no condition (maintenance) holds the process back; ``/health``
answers 503 for the faults alone (the first three), not for a condition.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from sirocco.store.database import is_outage as is_outage  # the threads of every role ask it

T = TypeVar("T")

log = logging.getLogger("sirocco.health")

#: Back-off after a failure: first wait, and the longest.
FIRST_BACKOFF = 0.1
MAX_BACKOFF = 5.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Report:
    """Whether the process is ready, and why not."""

    reasons: tuple[str, ...]
    #: The reasons that are faults (a dead or failing thread, a database or broker out of
    #: reach), not conditions such as maintenance: what ``/health`` answers 503 for.
    faults: tuple[str, ...] = ()

    @property
    def ready(self) -> bool:
        return not self.reasons

    def answer(self, *, faults_only: bool) -> tuple[int, dict[str, object]]:
        """What ``/health`` (``faults_only``) or ``/ready`` answers: its status and body."""
        reasons = self.faults if faults_only else self.reasons
        if not reasons:
            return 200, {"status": "ok"}
        return 503, {"status": "unavailable", "reasons": list(reasons)}


class Health:
    """Threads to watch and the failures they report, shared by the threads of a process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._threads: dict[str, threading.Thread] = {}
        self._failing: dict[str, str] = {}
        self._probes: dict[str, Callable[[], None]] = {}
        self._conditions: dict[str, Callable[[], str | None]] = {}

    def watch(self, thread: threading.Thread) -> None:
        """``thread`` must stay alive while the process runs."""
        with self._lock:
            self._threads[thread.name] = thread

    def forget(self, thread: threading.Thread | None) -> None:
        """``thread`` stopped on purpose."""
        if thread is None:
            return
        with self._lock:
            if self._threads.get(thread.name) is thread:
                del self._threads[thread.name]
            self._failing.pop(thread.name, None)

    def probe(self, name: str, check: Callable[[], None]) -> None:
        """``check()`` raises while the service ``name`` (database, broker) can't be reached."""
        with self._lock:
            self._probes[name] = check

    def condition(self, name: str, check: Callable[[], str | None]) -> None:
        """``check()`` says why the process should take no work now (maintenance mode), or
        None; a check that fails to answer is left to the probes."""
        with self._lock:
            self._conditions[name] = check

    def failing(self, name: str, reason: str) -> None:
        with self._lock:
            self._failing[name] = reason

    def recovered(self, name: str) -> None:
        with self._lock:
            self._failing.pop(name, None)

    def report(self) -> Report:
        """Ready when every watched thread lives, none fails, every probe passes and no
        condition holds the process back."""
        with self._lock:
            threads = dict(self._threads)
            failing = dict(self._failing)
            probes = dict(self._probes)
            conditions = dict(self._conditions)
        reasons = [
            f"thread {name} is dead" for name, thread in threads.items() if not thread.is_alive()
        ]
        reasons.extend(f"{name}: {reason}" for name, reason in sorted(failing.items()))
        for name, check in probes.items():
            try:
                check()
            except Exception as exc:
                reasons.append(f"{name} can't be reached: {first_line(exc)}")
        faults = tuple(reasons)
        for condition in conditions.values():
            try:
                holding = condition()
            except Exception:
                continue  # the database probe above says why it could not answer
            if holding:
                reasons.append(holding)
        return Report(reasons=tuple(reasons), faults=faults)


def first_line(exc: BaseException) -> str:
    """An error's first line (a driver's message without its SQL and links)."""
    original = getattr(exc, "orig", None) or exc
    lines = str(original).strip().splitlines()
    return f"{type(original).__name__}: {lines[0]}" if lines else type(original).__name__


class Guard:
    """Runs one step of a thread's work again and again; a failure is logged (once per
    outage), reported to :class:`Health`, and followed by a growing pause."""

    def __init__(self, name: str, health: Health | None) -> None:
        self.name = name
        self._health = health
        self._backoff = 0.0
        self._since: float | None = None

    def call(self, step: Callable[[], object]) -> bool:
        """Run ``step()``; True when it succeeded."""
        try:
            step()
        except Exception as exc:
            self.failed(exc)
            return False
        self.succeeded()
        return True

    def outlast(self, step: Callable[[], T], stopping: threading.Event) -> T:
        """Run ``step()`` until it succeeds, waiting out a database or broker outage with
        growing pauses; any other error, or one met while ``stopping`` is set, is raised."""
        while True:
            try:
                result = step()
            except Exception as exc:
                if not is_outage(exc) or stopping.is_set():
                    self.succeeded()
                    raise
                self.failed(exc)
                time.sleep(self.backoff)
                continue
            self.succeeded()
            return result

    def failed(self, exc: BaseException) -> None:
        reason = first_line(exc)
        if self._since is None:
            self._since = time.monotonic()
            log.warning(
                "%s failed; retrying with back-off: %s",
                self.name,
                reason,
                exc_info=not is_outage(exc),  # a bug's traceback, not an outage's
                extra={"role_thread": self.name},
            )
        self._backoff = min(MAX_BACKOFF, max(FIRST_BACKOFF, self._backoff * 2))
        if self._health is not None:
            self._health.failing(self.name, reason)

    def succeeded(self) -> None:
        if self._since is not None:
            log.warning(
                "%s works again after %.1f s",
                self.name,
                time.monotonic() - self._since,
                extra={"role_thread": self.name},
            )
            self._since = None
            if self._health is not None:
                self._health.recovered(self.name)
        self._backoff = 0.0

    @property
    def backoff(self) -> float:
        """Seconds to wait before the next try (0 when the last one succeeded)."""
        return self._backoff

    @property
    def in_outage(self) -> bool:
        return self._since is not None
