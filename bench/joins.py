"""How the cost of a join grows with its inbound tasks, on the pure engine (no database).

    python bench/joins.py                       # widths 100,200,400,800, join: all
    python bench/joins.py --widths 250,500,1000 --join 1 --runs 5

A task forks into N branches that all choose one join; each branch's action is held and
then completed one at a time (one ``decide`` per completion, as results arriving one by one
do), so the join is checked once per inbound task. With ``--chained`` each branch is two
tasks, so the join's inbound tasks start one at a time too. The clock counts the CPU of those N
completions (``time.process_time``) and, apart, the CPU spent in ``joins.logical_state``
(the join's check). Linear cost: the CPU per completion stays flat as N doubles; a check
that passes over every inbound task makes it double instead (N² in all).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from sirocco import testing  # noqa: E402
from sirocco.engine import joins  # noqa: E402
from sirocco.engine.states import State  # noqa: E402


def definition(width: int, join: str, chained: bool = False) -> str:
    lines = ["version: '2.0'", "wf:", "  tasks:", "    fork:", "      action: std.noop"]
    lines.append("      on-success:")
    lines += [f"        - b{i:05d}" for i in range(width)]
    for i in range(width):
        after = f"c{i:05d}" if chained else "merge"
        lines += [f"    b{i:05d}:", "      action: std.noop", f"      on-success: [{after}]"]
        if chained:
            lines += [f"    c{i:05d}:", "      action: std.noop", "      on-success: [merge]"]
    lines += ["    merge:", f"      join: {join}", "      action: std.noop"]
    return "\n".join(lines) + "\n"


class _Timed:
    """Wraps ``joins.logical_state`` to add up its CPU and calls."""

    def __init__(self) -> None:
        self.original = joins.logical_state
        self.cpu = 0.0
        self.calls = 0

    def __call__(self, *args: Any) -> Any:
        started = time.process_time()
        try:
            return self.original(*args)
        finally:
            self.cpu += time.process_time() - started
            self.calls += 1


def one(width: int, join: str, chained: bool = False) -> dict[str, float]:
    spec = next(iter(testing.load_workflows(definition(width, join, chained)).values()))
    names = [f"b{i:05d}" for i in range(width)]
    run = testing.run_until_idle(spec, script={name: [testing.Hold()] for name in names})
    driver = run.driver
    assert driver is not None
    held = [run.actions_of(run.task(name))[0].id for name in names]
    timed = _Timed()
    joins.logical_state = timed  # type: ignore[assignment]
    try:
        started = time.process_time()
        for action_id in held:
            driver.complete_action(action_id, None)
        cpu = time.process_time() - started
    finally:
        joins.logical_state = timed.original  # type: ignore[assignment]
    if run.workflow.state != State.SUCCESS:
        raise RuntimeError(f"width {width}: the workflow ended {run.workflow.state}")
    return {"cpu": cpu, "check_cpu": timed.cpu, "checks": timed.calls}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--widths", default="100,200,400,800")
    parser.add_argument("--join", default="all", help="all, one or a number")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--chained",
        action="store_true",
        help="each branch is two tasks: the join's inbound tasks start one at a time",
    )
    args = parser.parse_args()
    shape = "chained branches" if args.chained else "branches"
    print(f"join: {args.join}, {shape}; medians of {args.runs} runs; CPU of the N completions")
    print(f"{'N':>6} {'total ms':>9} {'us/completion':>14} {'check ms':>9} {'checks':>7}")
    for width in (int(item) for item in args.widths.split(",")):
        runs = [one(width, args.join, args.chained) for _ in range(args.runs)]
        cpu = statistics.median(run["cpu"] for run in runs)
        check = statistics.median(run["check_cpu"] for run in runs)
        checks = int(runs[0]["checks"])
        print(
            f"{width:>6} {cpu * 1e3:>9.1f} {cpu / width * 1e6:>14.1f}"
            f" {check * 1e3:>9.1f} {checks:>7}"
        )


if __name__ == "__main__":
    main()
