"""Time parsing a big workflow: 1000 chained tasks, each with an expression and a publish.

    python bench/parsing.py            # median of 5 fresh parses, and a cached one

Mistral needs about 150 ms per task to upload such a workflow; Sirocco's
target is well under a second for all 1000. (This was a unit test's timing
assertion; speed targets live here, the test checks what is parsed.)
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sirocco import lang

TARGET_SECONDS = 1.0


def big_workflow(size: int, name: str = "wf") -> str:
    lines = ["version: '2.0'", f"{name}:", "  input:", "    - a", "  tasks:"]
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


def main() -> None:
    times = []
    for run in range(5):
        text = big_workflow(1000, name=f"wf{run}")  # a new text: not served from the cache
        started = time.perf_counter()
        lang.parse_workflows(text)
        times.append(time.perf_counter() - started)
    started = time.perf_counter()
    lang.parse_workflows(text)
    cached = time.perf_counter() - started
    median = statistics.median(times)
    verdict = "ok" if median < TARGET_SECONDS else f"over the {TARGET_SECONDS:g} s target"
    print(f"1000 tasks: median {median:.3f} s of 5 parses ({verdict})")
    print(f"the same text again (cached): {cached * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
