"""Back-pressure: a new execution is refused (``OverloadedError``, HTTP 429 with
``Retry-After``) while too much work is in flight, instead of queueing without bound.

The counts are read from the database (so every API process sees the work of all
engines and executors), at most once per ``REFRESH`` seconds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sirocco import errors
from sirocco.store import load
from sirocco.store.database import Database

#: Seconds a count is trusted before it is read again.
REFRESH = 0.25
#: What ``Retry-After`` says to a refused client, in seconds.
RETRY_AFTER = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class InFlightLimits:
    """At most this many executions RUNNING, or actions queued or running (None: no limit)."""

    executions: int | None = None
    actions: int | None = None


class Admission:
    """Decides whether a new execution may start now."""

    def __init__(
        self,
        database: Database,
        limits: InFlightLimits,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._database = database
        self.limits = limits
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._read_at = float("-inf")
        self._counts = load.InFlight(executions=0, actions=0)

    def check(self) -> None:
        """Raise OverloadedError when a limit is reached."""
        if self.limits.executions is None and self.limits.actions is None:
            return
        counts = self._current()
        if self.limits.executions is not None and counts.executions >= self.limits.executions:
            raise errors.OverloadedError(
                f"Too many executions in flight ({counts.executions}, the limit is "
                f"{self.limits.executions}); try again later.",
                retry_after=RETRY_AFTER,
            )
        if self.limits.actions is not None and counts.actions >= self.limits.actions:
            raise errors.OverloadedError(
                f"Too many actions in flight ({counts.actions}, the limit is "
                f"{self.limits.actions}); try again later.",
                retry_after=RETRY_AFTER,
            )

    def _current(self) -> load.InFlight:
        with self._lock:
            now = self._monotonic()
            if now - self._read_at >= REFRESH:
                with self._database.read() as connection:
                    self._counts = load.in_flight(connection)
                self._read_at = now
            return self._counts
