"""Cancellation of a running action: its workflow execution was cancelled.

A Python thread can't be stopped from outside, so cancelling is cooperative: the
executor runs each action with a :class:`Token` (:func:`watching`), and an action
that waits (``std.sleep``) waits on it through :func:`sleep`, which returns early
once the token is cancelled. Other actions run to their end; their result is then
stored for an execution that is already over, as in Mistral.
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

#: ``state_info`` of an action stopped because its workflow execution was cancelled.
CANCELLED_MESSAGE = "Its workflow execution was cancelled while the action ran."


class Token:
    """Set once the workflow execution of the action that holds it is cancelled."""

    __slots__ = ("_event",)

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def wait(self, seconds: float) -> bool:
        """Wait up to ``seconds``; True when cancelled meanwhile."""
        return self._event.wait(seconds)


_current: contextvars.ContextVar[Token | None] = contextvars.ContextVar(
    "sirocco_cancellation", default=None
)


@contextmanager
def watching(token: Token) -> Iterator[Token]:
    """Run the body (an action) with ``token`` as its cancellation token."""
    reset = _current.set(token)
    try:
        yield token
    finally:
        _current.reset(reset)


def current() -> Token | None:
    """The token of the action running in this context (None outside an executor)."""
    return _current.get()


def sleep(seconds: float) -> bool:
    """Sleep ``seconds``, or less if the running action is cancelled; True if it was."""
    token = _current.get()
    if token is None:
        time.sleep(seconds)
        return False
    return token.wait(seconds)
