"""Why an execution failed, in a few readable lines: Mistral's ``state_info`` condensed.

Mistral's failure text (``completion.failure_message``) names each failed
task with its id and then repeats the same message for each of its failed
actions; an ``std.http`` error message is the whole response dict. That is
kept as it is in the database and the API (clients compare it); people
reading a terminal or a log get this shorter form instead: one line per
task, ids left out, a message said once, an HTTP response shown as its
status, long messages cut.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Mapping
from typing import Any

#: Characters of one message that are shown before it is cut.
MESSAGE_LIMIT = 300

_TASK_LINE = re.compile(r"^(?P<indent>\s*)(?P<name>\S+) \[task_ex_id=[^\]]*\] -> (?P<message>.*)$")
_ITEM_LINE = re.compile(
    r"^(?P<indent>\s*)\[(?:action_ex_id|wf_ex_id)=[^\]]*, idx=(?P<index>\d+)\]: (?P<message>.*)$"
)
#: Beyond this size a message is not parsed as a response dict (it is only cut).
_PARSE_LIMIT = 200_000


def condensed(
    state_info: str | None, *, limit: int = MESSAGE_LIMIT, content: bool = True
) -> list[str]:
    """The lines to show for ``state_info``: tasks and their messages, each message once.

    Args:
        state_info: a workflow's, task's or action's ``state_info``.
        limit: characters of one message shown before it is cut.
        content: show the start of an HTTP response's content (not in logs: a payload).
    """
    if not state_info:
        return []
    lines: list[str] = []
    seen: set[str] = set()
    for line in state_info.splitlines():
        shown = _condensed_line(line, seen, limit, content)
        if shown is not None:
            lines.append(shown)
    return lines


def one_line(state_info: str | None, *, limit: int = MESSAGE_LIMIT) -> str:
    """``state_info`` condensed to one line (for a log record), at most about ``limit`` * 2."""
    lines = condensed(state_info, limit=limit, content=False)
    text = "; ".join(line.strip() for line in lines)
    return cut(text, 2 * limit)


def cut(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """``text`` on one line, cut to ``limit`` characters with a note of how much is left out."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    return f"{flat[:limit].rstrip()}… ({len(flat) - limit} more characters)"


def _condensed_line(line: str, seen: set[str], limit: int, content: bool) -> str | None:
    if not line.strip():
        return None
    task = _TASK_LINE.match(line)
    if task is not None:
        message = readable(task["message"], limit, content=content)
        # A failed sub-workflow's text is quoted again under its parent task: said once.
        shown = f"{task['name']}: {message}"
        if shown in seen:
            return None
        seen.update((message, shown))
        return f"{task['indent']}{shown}"
    item = _ITEM_LINE.match(line)
    if item is not None:
        message = readable(item["message"], limit, content=content)
        if message in seen:
            return None
        seen.add(message)
        return f"{item['indent']}#{item['index']}: {message}"
    indent = line[: len(line) - len(line.lstrip())]
    return indent + readable(line.strip(), limit, content=content)


def readable(message: str, limit: int = MESSAGE_LIMIT, *, content: bool = True) -> str:
    """One message: an HTTP response dict as its status (and the start of its content),
    anything else cut to ``limit``."""
    response = _response(message)
    if response is None:
        return cut(message, limit)
    text = f"HTTP {response.get('status')} {response.get('reason') or ''}".rstrip()
    if response.get("url"):
        text += f" from {str(response['url']).split('?', 1)[0]}"
    body = response.get("content")
    if content and body not in (None, ""):
        text += f": {body if isinstance(body, str) else json.dumps(body, default=str)}"
    return cut(text, limit)


def _response(message: str) -> Mapping[str, Any] | None:
    """The response dict that ``std.http`` gives as its error, if ``message`` is one."""
    text = message.strip()
    if not (text.startswith("{") and "'status'" in text) or len(text) > _PARSE_LIMIT:
        return None
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    if isinstance(value, dict) and isinstance(value.get("status"), int) and "content" in value:
        return value
    return None
