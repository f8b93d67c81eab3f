"""A big workflow parses completely, and a second parse of the same text is the cached one.

How fast it parses is measured by ``bench/parsing.py``, not here.
"""

from __future__ import annotations

from sirocco import lang


def big_workflow(size: int) -> str:
    lines = ["version: '2.0'", "wf:", "  input:", "    - a", "  tasks:"]
    for index in range(size):
        following = (
            f"      on-success: t{index + 1}" if index < size - 1 else "      on-error: noop"
        )
        lines += [
            f"    t{index}:",
            '      action: std.echo output="<% $.a %>"',
            "      publish:",
            f"        v{index}: <% task().result %>",
            following,
        ]
    return "\n".join(lines) + "\n"


def test_a_thousand_tasks_parse_and_the_second_parse_is_cached() -> None:
    text = big_workflow(1000)
    flow = lang.parse_workflows(text).workflows["wf"]
    assert len(flow.tasks) == 1000
    assert flow.start_tasks == ("t0",)
    assert flow.inbound["t999"] == ("t998",)
    assert lang.parse_workflows(text).workflows["wf"] is flow  # cached by text
