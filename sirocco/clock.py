"""The one clock: what time it is, as Sirocco stores and compares times.

``utcnow()`` is the wall clock as the store writes it (naive UTC);
``utcnow_seconds()`` the same without the fraction (Mistral's API shows whole
seconds); ``monotonic()`` measures how long something took or waits for a
deadline, immune to the wall clock being set. The engine never calls this
module: the shell passes ``now`` into ``decide``, and components that need a
clock take a callable (tests pass ``sirocco.testing``'s fake clock).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime


def utcnow() -> datetime:
    """Now, as the store writes times: naive UTC."""
    return datetime.now(UTC).replace(tzinfo=None)


def utcnow_seconds() -> datetime:
    """Now in naive UTC, whole seconds (Mistral drops microseconds)."""
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


#: Seconds from a fixed origin that never go back: for durations and deadlines.
monotonic = time.monotonic
