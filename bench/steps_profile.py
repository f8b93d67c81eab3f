"""Where the embedded engine's CPU goes, step by step, for each bench/run.py workload.

    python bench/steps_profile.py                          # every workload, 3 runs each
    python bench/steps_profile.py --workloads chain100 --runs 5

Each run is a fresh process and SQLite file, as in ``bench/run.py``. The
parts of a step are timed in the engine thread with ``time.thread_time`` (the
CPU of that thread only; a busy machine stretches the wall time, much less
this): deciding (``engine.decide`` and ``engine.start_workflow``, of which
expression evaluation), writing the rows (``Writes.flush``), the SQLite
commit (the dialect's ``do_commit``), the actions run inline in the step
(``std.noop``, ``std.echo``) and the step metrics; what is left of the step
(locking the row, deleting the outbox and timer rows that carried the events,
the snapshot, reading actions) is "rest of the step". The process's CPU
outside the steps (the clients' starts, the loop that claims outbox rows and
timers, the callbacks) is shown beside. Printed per workload: medians over the
runs, in milliseconds per run and as shares of the process CPU, and the
number of steps and commits with the floor of those commits (~20 µs each
with ``synchronous=NORMAL``, ``shared/peers/floors.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import workloads  # noqa: E402

#: The SQLite commit floor measured on this machine (WAL, synchronous=NORMAL), seconds.
COMMIT_FLOOR_S = 20e-6
PARTS = ("decide", "expressions", "write", "commit", "inline", "metrics")


class _Clock:
    """CPU of the engine thread, by part (nested parts are not subtracted)."""

    def __init__(self) -> None:
        self.spent = dict.fromkeys(PARTS, 0.0)
        self.steps_cpu = 0.0
        self.steps = 0
        self.commits = 0
        self.measuring = False

    def reset(self) -> None:
        """Forget what was counted so far: the measured run starts."""
        self.spent = dict.fromkeys(PARTS, 0.0)
        self.steps_cpu = 0.0
        self.steps = 0
        self.commits = 0
        self.measuring = True

    def wrap(self, part: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            began = time.thread_time()
            try:
                return function(*args, **kwargs)
            finally:
                self.spent[part] += time.thread_time() - began

        return timed


def run_one(name: str) -> dict[str, Any]:
    """Run ``name`` once through bench/run.py's harness with the parts timed."""
    import run as bench_run  # bench/run.py

    from sirocco import engine, expressions
    from sirocco.runtime import metrics, steps
    from sirocco.store import database, writer

    clock = _Clock()
    engine.decide = clock.wrap("decide", engine.decide)  # type: ignore[assignment]
    engine.start_workflow = clock.wrap("decide", engine.start_workflow)  # type: ignore[assignment]
    expressions.evaluate = clock.wrap("expressions", expressions.evaluate)  # type: ignore[assignment]
    writer.Writes.flush = clock.wrap("write", writer.Writes.flush)  # type: ignore[method-assign]
    metrics.tally = clock.wrap("metrics", metrics.tally)  # type: ignore[assignment]
    record_step = metrics.Metrics.record_step
    metrics.Metrics.record_step = clock.wrap("metrics", record_step)  # type: ignore[method-assign]

    run_batch = steps.Stepper.run_batch

    def timed_batch(self: Any, *args: Any, **kwargs: Any) -> Any:
        starts = args[0] if args else kwargs.get("starts", ())
        if not clock.measuring and any(item.spec_name != "warmup" for item in starts):
            clock.reset()  # the warm-up execution (not in bench/run.py's CPU) is over
        if self.run_inline is not None and not getattr(self.run_inline, "_timed", False):
            inline = clock.wrap("inline", self.run_inline)
            inline._timed = True  # type: ignore[attr-defined]
            self.run_inline = inline
        began = time.thread_time()
        try:
            return run_batch(self, *args, **kwargs)
        finally:
            clock.steps_cpu += time.thread_time() - began
            clock.steps += 1

    steps.Stepper.run_batch = timed_batch  # type: ignore[method-assign]

    opened = database.Database.__init__

    def opening(self: Any, *args: Any, **kwargs: Any) -> None:
        opened(self, *args, **kwargs)
        dialect = self.engine.dialect
        commit = dialect.do_commit

        def counted(connection: Any) -> None:
            began = time.thread_time()
            try:
                commit(connection)
            finally:
                clock.spent["commit"] += time.thread_time() - began
                clock.commits += 1

        dialect.do_commit = counted

    database.Database.__init__ = opening  # type: ignore[method-assign]
    figures = bench_run.run_one(name, 1)
    return {
        "workload": name,
        "cpu_s": figures["cpu_s"],
        "steps_cpu_s": clock.steps_cpu,
        "steps": clock.steps,
        "commits": clock.commits,
        **{part: seconds for part, seconds in clock.spent.items()},
    }


def _row(name: str, runs: list[dict[str, Any]]) -> str:
    def median(key: str) -> float:
        return statistics.median(run[key] for run in runs)

    cpu = median("cpu_s")
    inside = median("steps_cpu_s")
    parts = {part: median(part) for part in PARTS}
    rest = inside - sum(parts[part] for part in PARTS if part != "expressions")
    commits = median("commits")
    cells = [name, f"{cpu * 1000:.0f}", f"{median('steps'):.0f}", f"{commits:.0f}"]
    for value in (
        parts["decide"],
        parts["expressions"],
        parts["write"],
        parts["commit"],
        parts["inline"],
        parts["metrics"],
        rest,
        cpu - inside,
    ):
        cells.append(f"{value * 1000:.1f} ({value / cpu:.0%})")
    cells.append(f"{commits * COMMIT_FLOOR_S * 1000:.1f} ({commits * COMMIT_FLOOR_S / cpu:.1%})")
    return "| " + " | ".join(cells) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workloads", default=",".join(workloads.NAMES))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one)))
        return
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    header = (
        "| workload | CPU ms | steps | commits | decide | of which expressions | write rows "
        "| commit | actions inline | metrics | rest of the step | outside the steps "
        "| commit floor |"
    )
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    names = args.workloads.split(",")
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    for _ in range(args.runs):
        for name in names:  # interleaved: each round runs every workload once
            answer = subprocess.run(
                [sys.executable, __file__, "--one", name],
                capture_output=True,
                text=True,
                check=False,
            )
            if answer.returncode != 0:
                print(f"{name} failed: {answer.stderr.strip().splitlines()[-1:]}")
                continue
            results[name].append(json.loads(answer.stdout.strip().splitlines()[-1]))
    for name in names:
        if results[name]:
            print(_row(name, results[name]))
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
