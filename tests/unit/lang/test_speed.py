"""A big workflow parses quickly (Mistral needs about 150 ms per task to upload one)."""

from __future__ import annotations

import time

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


def test_a_thousand_tasks_parse_in_well_under_a_second() -> None:
    text = big_workflow(1000)
    started = time.perf_counter()
    flow = lang.parse_workflows(text).workflows["wf"]
    elapsed = time.perf_counter() - started
    assert len(flow.tasks) == 1000
    assert flow.start_tasks == ("t0",)
    assert flow.inbound["t999"] == ("t998",)
    assert elapsed < 1.0, f"parsing took {elapsed:.2f} s"
    started = time.perf_counter()
    assert lang.parse_workflows(text).workflows["wf"] is flow  # cached by text
    assert time.perf_counter() - started < 0.01
