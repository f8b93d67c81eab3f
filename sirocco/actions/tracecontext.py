"""The W3C trace context of the action that runs in this thread (``traceparent``).

The engine stamps each RunAction with the ``traceparent`` of its action's span when
tracing is on (``sirocco.runtime.tracing``); the runner makes it current while the
action runs, and ``std.http`` sends it as a ``traceparent`` header, so that the
service called continues the execution's trace. Plain text: no OpenTelemetry import.
"""

from __future__ import annotations

import contextvars

#: ``00-<trace id>-<span id>-<flags>`` of the running action's span, or None.
TRACEPARENT: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "sirocco_traceparent", default=None
)


def current() -> str | None:
    """The running action's ``traceparent``, if the engine traced it."""
    return TRACEPARENT.get()
