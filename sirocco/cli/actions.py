"""``sirocco actions``: the Python actions this installation can run, and where each comes from."""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Sequence

from sirocco.actions.registry import ActionDescriptor, ActionRegistry


def list_actions(patterns: Sequence[str]) -> list[ActionDescriptor]:
    """The registry's actions (std, then ``mistral.actions`` entry points) matching any pattern.

    Args:
        patterns: shell-style patterns (``acme.*``); none means every action.
    """
    found = ActionRegistry().list()
    if not patterns:
        return found
    return [
        item
        for item in found
        if any(fnmatch.fnmatchcase(item.name, pattern) for pattern in patterns)
    ]


def as_json(descriptors: Sequence[ActionDescriptor]) -> str:
    """One JSON list: name, input, description, is_sync, source per action."""
    return json.dumps(
        [
            {
                "name": item.name,
                "input": item.input_text,
                "description": item.description,
                "is_sync": item.is_sync,
                "source": item.source,
            }
            for item in descriptors
        ],
        indent=2,
    )


def as_text(descriptors: Sequence[ActionDescriptor]) -> str:
    """Two lines per action: ``name(input)  [async]  source``, then its description's first line."""
    lines: list[str] = []
    for item in descriptors:
        kind = "" if item.is_sync else "  async"
        lines.append(f"{item.name}({item.input_text}){kind}  from {item.source}")
        summary = item.description.strip().splitlines()[0] if item.description.strip() else ""
        if summary:
            lines.append(f"    {summary}")
    count = len(descriptors)
    lines.append(f"{count} action{'' if count == 1 else 's'}")
    return "\n".join(lines)
