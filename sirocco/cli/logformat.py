"""How a ``sirocco`` process writes its log: one text line, or one JSON object, per record.

The JSON form (``--log-format json``, ``SIROCCO_LOG_FORMAT=json`` or ``[logging]
format = "json"``) gives each record's time (UTC, ISO 8601), level, logger and
message, then its structured ``extra`` (execution ids, states, ...) as fields of
their own, and ``exception`` with the traceback when there is one. Secrets are
masked before formatting, by the masking filter on the handler.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

#: Attributes every record has, and uvicorn's copy of its message with terminal colours:
#: not ``extra``.
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {
    "message", "asctime", "taskName", "color_message",
}  # fmt: skip
#: Loggers that say, at INFO, what only a developer of Sirocco needs (alembic lists its
#: plugins each time the schema is checked); quiet below WARNING unless DEBUG is asked.
_CHATTY = ("alembic.runtime.plugins",)


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, value in record.__dict__.items():
            if name not in _STANDARD and not name.startswith("_") and name not in entry:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class _Handler(logging.StreamHandler):  # type: ignore[type-arg]
    """The stderr handler this module installs (told apart from a host's own, such as
    pytest's, which are left alone)."""


def configure(level: str, form: str) -> None:
    """Log records at ``level`` and above to stderr in ``form`` (``text`` or ``json``).

    As :func:`logging.basicConfig`, it does nothing when the root logger already has
    handlers it did not install (a program embedding Sirocco's command line).
    """
    root = logging.getLogger()
    ours = [handler for handler in root.handlers if isinstance(handler, _Handler)]
    if root.handlers and not ours:
        return
    if not ours:
        ours = [_Handler()]
        root.addHandler(ours[0])
    ours[0].setFormatter(JsonFormatter() if form == "json" else logging.Formatter(TEXT_FORMAT))
    root.setLevel(level.upper())
    for name in _CHATTY:
        logging.getLogger(name).setLevel(logging.DEBUG if level.upper() == "DEBUG" else "WARNING")


def is_json() -> bool:
    """Whether this process logs JSON (so that uvicorn's loggers go through the root's
    handler instead of their own text ones)."""
    return any(isinstance(handler.formatter, JsonFormatter) for handler in logging.root.handlers)
