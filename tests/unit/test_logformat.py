"""JSON log records: the standard fields, the record's own, the traceback; nothing else."""

from __future__ import annotations

import json
import logging
import sys

from sirocco.cli.logformat import JsonFormatter


def _record(**extra: object) -> logging.LogRecord:
    record = logging.LogRecord(
        "sirocco.executions", logging.WARNING, __file__, 1, "execution %s failed", ("e1",), None
    )
    record.__dict__.update(extra)
    return record


def test_a_record_is_one_json_object_with_its_extra_fields() -> None:
    line = JsonFormatter().format(
        _record(workflow_execution_id="e1", state="ERROR", color_message="\x1b[36mx")
    )
    assert "\n" not in line
    entry = json.loads(line)
    assert entry.pop("time").endswith("+00:00")
    assert entry == {
        "level": "WARNING",
        "logger": "sirocco.executions",
        "message": "execution e1 failed",
        "workflow_execution_id": "e1",
        "state": "ERROR",
    }


def test_a_traceback_is_one_field() -> None:
    try:
        raise ValueError("broken")
    except ValueError:
        record = _record()
        record.exc_info = sys.exc_info()
    entry = json.loads(JsonFormatter().format(record))
    assert entry["exception"].startswith("Traceback") and "ValueError: broken" in entry["exception"]
