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
per item, peak RSS, the median, 99th percentile and slowest latency beside (and how
many took 100 ms or more: the issue's bound for every one), and the longest
engine steps in CPU of the engine thread (``time.thread_time``, little moved
by the load): what an execution beside can wait behind, and what they applied.

``--trace`` also reports the cyclic GC's collections (count, total and longest
pause per generation), the spread of commit times, and what overlapped the three
slowest executions beside (steps with their wall and CPU time, collections and
commits of 3 ms and more): what a slow one waited for. A commit that changed the
database file checkpointed the WAL (or a checkpoint on another thread wrote it
meanwhile).

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


def run_one(size: int, *, tracing: bool = False) -> dict[str, Any]:
    """Run the big execution in this process, with the small ones beside it."""
    from sirocco import lang
    from sirocco.cli.embedded import open_embedded
    from sirocco.cli.process import settle_process
    from sirocco.limits import Limits
    from sirocco.settings import Settings
    from sirocco.store import rows, sources

    longest = _time_steps()
    timeline = _Timeline() if tracing else None
    folder = tempfile.mkdtemp(prefix="sirocco-items-")
    url = f"sqlite:///{os.path.join(folder, 'items.sqlite')}"
    settings = Settings.load({"db": url})
    app = open_embedded(url, settings=settings)
    settle_process()
    if timeline is not None:
        timeline.attach(app.parts.database)
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
            if timeline is not None:
                timeline.look_at_wal(os.path.join(folder, "items.sqlite-wal"))
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
        traced = {}
        if timeline is not None:
            timeline.detach()
            slowest = sorted(((ended[key] - value, value) for key, value in beside.items()))
            traced = timeline.report(began, [(asked, asked + took) for took, asked in slowest[-3:]])
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
            "beside_p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 1)
            if latencies
            else None,
            "beside_max_ms": round(latencies[-1] * 1000, 1) if latencies else None,
            "beside_over_100_ms": sum(1 for took in latencies if took >= 0.1),
            "longest_steps_ms": [
                [round(seconds * 1000, 1), what] for seconds, what in sorted(longest)[::-1][:5]
            ],
            **traced,
        }
    finally:
        app.close()
        shutil.rmtree(folder, ignore_errors=True)


class _Timeline:
    """What happened when (``--trace``): every step's wall window, collections, commits.

    Kept to find what a slow one-task execution beside waited for: a long step, a
    collection of the cyclic GC (stops every thread), a commit that checkpoints the WAL.
    """

    #: Windows shorter than this (seconds) are not kept.
    SHORTEST = 0.003

    def __init__(self) -> None:
        self.windows: list[tuple[float, float, str]] = []
        self.collections: dict[int, list[float]] = {0: [], 1: [], 2: []}
        self.commits: list[float] = []
        self.checkpointing: list[float] = []
        self.wal_peak = 0
        #: The checkpoint thread's passes: (start, seconds, WAL pages, pages copied, locked).
        self.passes: list[tuple[float, float, int, int, bool]] = []
        self._gc_began = 0.0
        self._undo: list[Any] = []

    def attach(self, database: Any) -> None:
        import gc

        from sirocco.runtime import steps

        def on_gc(phase: str, info: dict[str, int]) -> None:
            now = time.perf_counter()
            if phase == "start":
                self._gc_began = now
                return
            spent = now - self._gc_began
            self.collections[info["generation"]].append(spent)
            if spent >= self.SHORTEST:
                self._keep(self._gc_began, now, f"gc gen {info['generation']}")

        gc.callbacks.append(on_gc)
        self._undo.append(lambda: gc.callbacks.remove(on_gc))
        run_batch = steps.Stepper.run_batch

        def windowed(stepper: Any, starts: Any, groups: Any, **options: Any) -> Any:
            began, cpu = time.perf_counter(), time.thread_time()
            try:
                return run_batch(stepper, starts, groups, **options)
            finally:
                spent = time.thread_time() - cpu
                what = f"step ({spent * 1000:.1f} ms CPU): {_applied(starts, groups)}"
                self._keep(began, time.perf_counter(), what)

        steps.Stepper.run_batch = windowed  # type: ignore[method-assign,assignment]
        self._undo.append(lambda: setattr(steps.Stepper, "run_batch", run_batch))
        dialect = database.engine.dialect
        do_commit = dialect.do_commit
        file = str(database.engine.url.database)
        checkpoints = getattr(database, "checkpoints", None)
        if checkpoints is not None:
            # A thread checkpoints (store/checkpoints.py): its passes are timed there, and
            # the file changes under any commit, so no commit is said to checkpoint.
            self.passes = checkpoints.passes = []
            self._undo.append(lambda: setattr(checkpoints, "passes", None))
            file = ""

        def timed_commit(connection: Any) -> None:
            # A commit that changed the database file checkpointed the WAL into it.
            before = _stamp(file) if file else None
            began = time.perf_counter()
            try:
                do_commit(connection)
            finally:
                ended = time.perf_counter()
                if file and _stamp(file) != before:
                    self.checkpointing.append(ended - began)
                    self._keep(began, ended, "commit (checkpointed)")
                else:
                    self.commits.append(ended - began)
                    self._keep(began, ended, "commit")

        dialect.do_commit = timed_commit
        self._undo.append(lambda: setattr(dialect, "do_commit", do_commit))

    def look_at_wal(self, path: str) -> None:
        """Keep the WAL file's largest size seen (it grows while no checkpoint empties it)."""
        try:
            self.wal_peak = max(self.wal_peak, os.path.getsize(path))
        except OSError:
            pass

    def detach(self) -> None:
        for undo in self._undo:
            undo()

    def _keep(self, began: float, ended: float, what: str) -> None:
        if ended - began >= self.SHORTEST:
            self.windows.append((began, ended, what))

    def report(self, origin: float, slow: list[tuple[float, float]]) -> dict[str, Any]:
        """The collections' counts and pauses, and what overlapped each slow window."""
        answer: dict[str, Any] = {
            "gc": {
                str(generation): [
                    len(pauses),
                    round(sum(pauses) * 1000, 1),
                    round(max(pauses, default=0) * 1000, 1),
                ]
                for generation, pauses in self.collections.items()
            },
            "slow_beside": [],
            "commits": _spread(self.commits),
            "checkpointing_commits": _spread(self.checkpointing),
            "wal_peak_mb": round(self.wal_peak / 2**20, 1),
            "passes_beside": _spread([took for _, took, _, _, locked in self.passes if not locked]),
            "passes_locked": _spread([took for _, took, _, _, locked in self.passes if locked]),
            "wal_pages_at_pass": max((pages for _, _, pages, _, _ in self.passes), default=0),
        }
        for start, took, pages, _, locked in self.passes:
            kind = "under the write lock" if locked else "beside the writers"
            self._keep(start, start + took, f"checkpoint pass {kind} (WAL {pages} pages)")
        for began, ended in slow:
            overlapping = [
                [round((start - began) * 1000, 1), round((end - start) * 1000, 1), what]
                for start, end, what in self.windows
                if start < ended and end > began
            ]
            answer["slow_beside"].append(
                {
                    "at_s": round(began - origin, 2),
                    "ms": round((ended - began) * 1000, 1),
                    "overlapping": overlapping,
                }
            )
        return answer


def _stamp(file: str) -> tuple[int, int]:
    found = os.stat(file)
    return found.st_size, found.st_mtime_ns


def _spread(seconds: list[float]) -> list[Any]:
    """Count, median, 99th percentile and the five longest, in ms, and the count >= 3 ms."""
    if not seconds:
        return [0]
    ordered = sorted(seconds)
    return [
        len(ordered),
        round(ordered[len(ordered) // 2] * 1000, 2),
        round(ordered[int(len(ordered) * 0.99)] * 1000, 2),
        [round(item * 1000, 1) for item in ordered[-5:]],
        sum(1 for item in ordered if item >= 0.003),
    ]


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
    parser.add_argument(
        "--trace",
        action="store_true",
        help="also report the collections of the GC, and what overlapped the slowest "
        "executions beside (steps, collections, commits of 3 ms and more)",
    )
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, tracing=args.trace)))
        return
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(
        "items     wall s    cpu s  cpu µs/item  peak RSS MB  beside: n  median ms"
        "  p99 ms  max ms  n >= 100 ms"
    )
    for size in (int(text) for text in args.sizes.split(",")):
        answer = subprocess.run(
            [sys.executable, __file__, "--one", str(size), *(["--trace"] if args.trace else [])],
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
            f"{figures['beside_p99_ms']!s:>7} {figures['beside_max_ms']!s:>7} "
            f"{figures['beside_over_100_ms']:12}"
        )
        for milliseconds, what in figures["longest_steps_ms"]:
            print(f"          longest step {milliseconds:8.1f} ms CPU: {what}")
        if "gc" in figures:
            for generation, (count, total, longest) in figures["gc"].items():
                print(
                    f"          gc gen {generation}: {count} collections, {total} ms, "
                    f"longest {longest} ms"
                )
            print(
                f"          commits: n, median ms, p99 ms, longest ms, n >= 3 ms: "
                f"{figures['commits']}; of those that checkpointed: "
                f"{figures['checkpointing_commits']}; WAL at most {figures['wal_peak_mb']} MB"
            )
            if figures["passes_beside"] != [0]:
                print(
                    f"          checkpoint passes beside the writers: {figures['passes_beside']}"
                    f"; under the write lock: {figures['passes_locked']}; WAL at most "
                    f"{figures['wal_pages_at_pass']} pages at a pass"
                )
            for slow in figures["slow_beside"]:
                print(f"          beside at {slow['at_s']} s took {slow['ms']} ms; overlapping:")
                for offset, took, what in slow["overlapping"]:
                    print(f"            +{offset:7.1f} ms  {took:7.1f} ms  {what}")


if __name__ == "__main__":
    main()
