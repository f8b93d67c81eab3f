"""Waiting in tests: on a condition, with a generous bound, saying what was seen at the bound.

Nothing in the suite waits a fixed time for something it can observe. Each
wait polls its condition until it holds; the bound only stops a test that
would otherwise hang, so it is minutes, not seconds: a loaded machine (two
cores shared by many processes) makes everything slower, never wrong. When
the bound is hit, the failure shows what the condition saw last and, for a
process, what the process printed.

``SIROCCO_TEST_BOUND`` (seconds) changes the bound for a whole run.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

#: How long any wait may take before the test fails (seconds).
BOUND = float(os.environ.get("SIROCCO_TEST_BOUND", "300"))

#: Pause between two looks at the condition (seconds).
INTERVAL = 0.02


class WaitTimedOut(AssertionError):
    """A condition did not come true within the bound."""


def wait_for(
    condition: Callable[[], T | None],
    *,
    what: str,
    bound: float = BOUND,
    interval: float = INTERVAL,
    seen: Callable[[], object] | None = None,
) -> T:
    """The first true value ``condition()`` returns; polls until then, for ``bound`` seconds.

    Args:
        condition: called until it returns something true, which is returned.
        what: what is awaited, for the failure message ("the server to answer").
        bound: seconds before the test fails.
        interval: seconds between two calls.
        seen: called at the bound; its value goes into the failure message (the state
            last read, a process's output...).

    Raises:
        WaitTimedOut: at the bound, with ``what`` and what ``seen`` returned.
    """
    deadline = time.monotonic() + bound
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            detail = "" if seen is None else f"\n{seen()}"
            raise WaitTimedOut(f"waited {bound:g} s for {what}{detail}")
        time.sleep(interval)
