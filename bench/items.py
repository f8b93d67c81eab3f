"""A with-items task of N ``std.echo`` items embedded, and one-task executions beside it.

    python bench/items.py                        # 10k, 100k and 1M items
    python bench/items.py --sizes 10000,100000

Each size runs in a fresh process on a fresh SQLite file (so the peak RSS is
that run's own): one execution of a workflow whose only task is a with-items
over ``range(N)`` (the list made by the expression, not passed as input), each
item ``std.echo output=<% $.x %>``, publishing ``len(task().result)``. While it
runs, a one-task workflow (``std.noop``) is started every 0.2 s and timed from
its start until the engine has ended it: the latency another user sees while
the big task runs. Reported per size: wall and CPU seconds of the process, CPU
per item, peak RSS, the median and slowest latency beside, and the longest
engine steps in CPU of the engine thread (``time.thread_time``, little moved
by the load): what an execution beside can wait behind, and what they applied.

The load average is printed first: on a machine shared with others the wall
time follows the load, the CPU time much less.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

BIG = """\
version: '2.0'
big:
  input:
    - n
  output:
    count: <% $.count %>
  tasks:
    echo_each:
      with-items: x in <% range($.n) %>
      action: std.echo output=<% $.x %>
      publish:
        count: <% len(task().result) %>
small:
  tasks:
    only:
      action: std.noop
"""

#: Seconds between two one-task executions started beside the big one.
BESIDE_EVERY = 0.2
#: The longest engine steps (CPU of the engine thread) kept and reported.
LONGEST_KEPT = 5


def run_one(size: int) -> dict[str, Any]:
    """Run the big execution in this process, with the small ones beside it."""
    from sirocco import lang
    from sirocco.cli.embedded import open_embedded
    from sirocco.cli.process import settle_process
    from sirocco.limits import Limits
    from sirocco.settings import Settings
    from sirocco.store import rows, sources

    longest = _time_steps()
    folder = tempfile.mkdtemp(prefix="sirocco-items-")
    url = f"sqlite:///{os.path.join(folder, 'items.sqlite')}"
    settings = Settings.load({"db": url})
    app = open_embedded(url, settings=settings)
    settle_process()
    limits: Limits = settings.limits()
    if limits.with_items_max_items < size:
        raise SystemExit(f"SIROCCO_WITH_ITEMS_MAX_ITEMS is {limits.with_items_max_items}")
    try:
        document = lang.parse_workflows(BIG)
        sources.save_for_run(
            app.parts.database,
            [
                (spec.name, spec.definition, spec.input_text(), None)
                for spec in document.workflows.values()
            ],
            [],
        )
        ended: dict[str, float] = {}
        done = threading.Event()

        def on_state(execution_id: str, state: str) -> None:
            ended[execution_id] = time.perf_counter()
            if execution_id == big_id[0]:
                done.set()

        app.parts.runtime.on_state(on_state)
        big_id = [""]
        cpu_before = _cpu()
        began = time.perf_counter()
        big_id[0] = app.service.start_workflow(workflow="big", input={"n": size})
        beside: dict[str, float] = {}
        while not done.wait(BESIDE_EVERY):
            asked = time.perf_counter()
            beside[app.service.start_workflow(workflow="small")] = asked
        wall = time.perf_counter() - began
        cpu = _cpu() - cpu_before
        deadline = time.monotonic() + 60
        while any(execution_id not in ended for execution_id in beside):
            if time.monotonic() > deadline:
                raise SystemExit("a one-task execution did not end")
            time.sleep(0.05)
        found = rows.workflow_execution(app.parts.database, big_id[0])
        if found is None or str(found.state) != "SUCCESS" or found.output != {"count": size}:
            raise SystemExit(
                f"the big execution ended {found and found.state}: {found and found.output}"
            )
        latencies = sorted(ended[key] - value for key, value in beside.items())
        return {
            "size": size,
            "wall_s": round(wall, 3),
            "cpu_s": round(cpu, 3),
            "cpu_us_per_item": round(cpu / size * 1e6, 1),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "beside": len(latencies),
            "beside_median_ms": round(statistics.median(latencies) * 1000, 1)
            if latencies
            else None,
            "beside_max_ms": round(latencies[-1] * 1000, 1) if latencies else None,
            "longest_steps_ms": [
                [round(seconds * 1000, 1), what] for seconds, what in sorted(longest)[::-1][:5]
            ],
        }
    finally:
        app.close()
        shutil.rmtree(folder, ignore_errors=True)


def _time_steps() -> list[tuple[float, str]]:
    """Time each engine step's CPU (``time.thread_time`` of the engine thread).

    Returns the list it keeps the longest steps in, (seconds, what the step
    applied), at most ``LONGEST_KEPT`` of them.
    """
    import heapq

    from sirocco.runtime import steps

    longest: list[tuple[float, str]] = []
    run_batch = steps.Stepper.run_batch

    def timed_batch(self: Any, starts: Any, groups: Any, **options: Any) -> Any:
        began = time.thread_time()
        try:
            return run_batch(self, starts, groups, **options)
        finally:
            spent = time.thread_time() - began
            if len(longest) < LONGEST_KEPT or spent > longest[0][0]:
                what = _applied(starts, groups)
                if len(longest) < LONGEST_KEPT:
                    heapq.heappush(longest, (spent, what))
                else:
                    heapq.heapreplace(longest, (spent, what))

    steps.Stepper.run_batch = timed_batch  # type: ignore[method-assign]
    return longest


def _applied(starts: Any, groups: Any) -> str:
    """What one step applied, by kind: ``1 x start big, 100 x ActionCompleted``."""
    from collections import Counter

    kinds: Counter[str] = Counter(f"start {item.spec_name}" for item in starts)
    for envelopes in groups.values():
        for envelope in envelopes:
            event = envelope.event
            purpose = getattr(event, "purpose", None)
            kinds[type(event).__name__ + (f" {purpose}" if purpose else "")] += 1
    return ", ".join(f"{count} x {kind}" for kind, count in kinds.most_common())


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one)))
        return
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print("items     wall s    cpu s  cpu µs/item  peak RSS MB  beside: n  median ms  max ms")
    for size in (int(text) for text in args.sizes.split(",")):
        answer = subprocess.run(
            [sys.executable, __file__, "--one", str(size)],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "SIROCCO_WITH_ITEMS_MAX_ITEMS": str(max(size, 100_000))},
        )
        if answer.returncode != 0:
            print(f"{size:>9}  failed: {answer.stderr.strip().splitlines()[-1:]}")
            continue
        figures = json.loads(answer.stdout.strip().splitlines()[-1])
        print(
            f"{size:>9} {figures['wall_s']:8.2f} {figures['cpu_s']:8.2f} "
            f"{figures['cpu_us_per_item']:12.1f} {figures['peak_rss_mb']:12.1f} "
            f"{figures['beside']:10} {figures['beside_median_ms']!s:>10} "
            f"{figures['beside_max_ms']!s:>7}"
        )
        for milliseconds, what in figures["longest_steps_ms"]:
            print(f"          longest step {milliseconds:8.1f} ms CPU: {what}")


if __name__ == "__main__":
    main()
