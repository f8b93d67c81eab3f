"""What ``sirocco run`` and ``resume`` print at the end without ``--json``.

The state, then why it failed (once, condensed: ``engine.reasons``), then the
output when there is one that says more than the failure: Mistral's output of
a failed workflow is ``{"result": state_info}``, the same text again, and a
paused workflow has none (``null``). Values under secret-looking keys are masked
(:mod:`sirocco.masking`). ``--json`` prints the report whole.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, TextIO

from sirocco import masking
from sirocco.engine import reasons

#: Characters of one failure message shown before it is cut (``--json`` has it whole).
MESSAGE_LIMIT = 600


def print_summary(report: Mapping[str, Any], *, tasks: bool, out: TextIO) -> None:
    """Print the end of a run.

    Args:
        report: the execution as ``running.read_report`` gives it.
        tasks: also print one line per task (when no live view showed them).
        out: where to print.
    """
    if tasks:
        for task in report["tasks"]:
            out.write(f"{task['name']}: {task['state']}\n")
    out.write(f"execution {report['id']}: {report['state']}\n")
    parts = masking.configured_parts()
    state_info = report["state_info"]
    lines = reasons.condensed(
        masking.mask_text(state_info, parts) if state_info else state_info, limit=MESSAGE_LIMIT
    )
    if lines:
        out.write(f"state info: {lines[0].strip()}\n")
        for line in lines[1:]:
            out.write(f"{line}\n")
    if report["state"] == "PAUSED":
        out.write(f"resume it with: sirocco resume {report['id']} (and the same --db)\n")
    if _worth_printing(report):
        output = masking.mask(report["output"], parts)
        out.write(json.dumps(output, indent=4, default=str, ensure_ascii=False) + "\n")


def _worth_printing(report: Mapping[str, Any]) -> bool:
    output = report["output"]
    if output is None:
        return False
    return not (report["state"] == "ERROR" and output == {"result": report["state_info"]})
