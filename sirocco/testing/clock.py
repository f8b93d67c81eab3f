"""A clock that moves only when the test moves it.

Pass a ``FakeClock`` wherever Sirocco takes a clock (``run_until_idle(clock=...)``,
the runtime's ``clock=``): calling it answers the time it was set to, and
``advance`` or ``move_to`` move it. Nothing in a test then waits for real time.
"""

from __future__ import annotations

from datetime import datetime, timedelta

__all__ = ["FakeClock"]


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 1, 1, 12, 0, 0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now

    def move_to(self, moment: datetime) -> datetime:
        if moment > self.now:
            self.now = moment
        return self.now
