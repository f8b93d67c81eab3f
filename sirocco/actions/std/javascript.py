"""std.javascript / std.js: run a JavaScript snippet in V8 (mini-racer) and return its value.

The snippet is the body of a function, so it ends with ``return value``; the
action's ``context`` parameter is bound to ``$``. The value comes back through
``JSON.stringify``, so objects and arrays arrive as plain dicts and lists and
``undefined`` as null. ``py_mini_racer`` is imported only when the action runs.
"""

from __future__ import annotations

import json
from typing import Any

from mistral_lib import actions

from sirocco import errors


class JavaScriptAction(actions.Action):  # type: ignore[misc]
    """Evaluates a JavaScript function body with ``$`` bound to ``context``; returns its value."""

    def __init__(self, script: str, context: Any = None) -> None:
        super().__init__()
        self.script = script
        self.js_context = context

    def run(self, context: Any) -> Any:
        try:
            return evaluate(self.script, self.js_context)
        except Exception as error:
            raise errors.ActionError(f"JavaScriptAction failed: {error}") from error


def evaluate(script: str, data: Any) -> Any:
    """Run ``script`` as a function body with ``$`` set to ``data``; its value as JSON data."""
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
    with py_mini_racer.MiniRacer() as engine:
        text = engine.eval(program)
    if not isinstance(text, str):
        return None  # undefined (no return, or a function) -> null
    return json.loads(text)
