"""std.javascript / std.js: run a JavaScript snippet in V8 (mini-racer) and return its value.

The snippet is the body of a function, so it ends with ``return value``; the
action's ``context`` parameter is bound to ``$``. The value comes back through
``JSON.stringify``, so objects and arrays arrive as plain dicts and lists and
``undefined`` as null. ``py_mini_racer`` is imported only when the action runs.

Each call runs in a V8 isolate of its own, stopped after
``Limits.javascript_timeout`` seconds and refused more than
``Limits.javascript_max_memory_mb`` of heap; the process's registry gives the
action its limits (:func:`with_limits`).

One call at a time per process: mini-racer 0.14 crashes the whole process
(a segmentation fault inside V8) when isolates run in several threads at
once, which the executor's thread pool does. The calls wait for each other
(:data:`_ONE_AT_A_TIME`); each still stops at its own time limit, so a wait
is bounded by the calls ahead of it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from typing import Any

from sirocco import errors
from sirocco.actions.std.standard import StandardAction
from sirocco.limits import DEFAULT as DEFAULT_LIMITS
from sirocco.limits import Limits

#: Held while a V8 isolate exists (see the module's text).
_ONE_AT_A_TIME = threading.Lock()


class JavaScriptAction(StandardAction):
    """Evaluates a JavaScript function body with ``$`` bound to ``context``; returns its value."""

    names = ("std.javascript", "std.js")
    mistral_class = "JavaScriptAction"
    side_effects = False
    # It takes time and memory (limits): as in Mistral, it fails rather than runs again.
    safe_rerun = False

    @classmethod
    def runs_inline(cls, given: Mapping[str, Any], timeout: float | None) -> bool:
        return False

    #: The limits of each call (a registry with other limits uses :func:`with_limits`).
    limits: Limits = DEFAULT_LIMITS

    def __init__(self, script: str, context: Any = None) -> None:
        super().__init__()
        self.script = script
        self.js_context = context

    def run(self, context: Any) -> Any:
        try:
            return evaluate(self.script, self.js_context, self.limits)
        except Exception as error:
            raise errors.ActionError(f"JavaScriptAction failed: {error}") from error


def with_limits(limits: Limits) -> type[JavaScriptAction]:
    """The action class whose calls have ``limits`` (same name, same parameters)."""
    if limits == DEFAULT_LIMITS:
        return JavaScriptAction
    limited = type("JavaScriptAction", (JavaScriptAction,), {"limits": limits})
    limited.__module__ = JavaScriptAction.__module__
    limited.__qualname__ = JavaScriptAction.__qualname__
    return limited


def evaluate(script: str, data: Any, limits: Limits = DEFAULT_LIMITS) -> Any:
    """Run ``script`` as a function body with ``$`` set to ``data``; its value as JSON data.

    Raises:
        errors.ActionError: the script ran longer than ``limits.javascript_timeout``
            or needed more heap than ``limits.javascript_max_memory_mb``.
    """
    try:
        import py_mini_racer
    except ImportError as error:
        raise errors.ConfigurationError(
            "The JavaScript engine is not available; install the 'mini-racer' package."
        ) from error
    program = (
        f"var $ = {json.dumps(data, default=str)};\n"
        "JSON.stringify((function () {\n"
        f"{script}\n"
        "})())"
    )
    timeout = limits.javascript_timeout if limits.javascript_timeout >= 0 else None
    memory_mb = limits.javascript_max_memory_mb
    max_memory = memory_mb * 1024 * 1024 if memory_mb >= 0 else None
    with _ONE_AT_A_TIME, py_mini_racer.MiniRacer() as engine:
        try:
            text = engine.eval(program, timeout_sec=timeout, max_memory=max_memory)
        except py_mini_racer.JSTimeoutException as error:
            raise errors.ActionError(
                f"JavaScript ran longer than the limit of {limits.javascript_timeout:g} s "
                "(SIROCCO_JAVASCRIPT_TIMEOUT)"
            ) from error
        except py_mini_racer.JSOOMException as error:
            raise errors.ActionError(
                f"JavaScript needed more than the limit of {memory_mb} MiB of memory "
                "(SIROCCO_JAVASCRIPT_MAX_MEMORY_MB)"
            ) from error
    if not isinstance(text, str):
        return None  # undefined (no return, or a function) -> null
    return json.loads(text)
