"""Time the six workloads on Sirocco's engine embedded on SQLite (no HTTP).

    python bench/run.py                       # every workload at size 1x
    python bench/run.py --scales 1,10,100 --workloads chain100,items1000
    python bench/run.py --json results.jsonl

Each workload runs in a fresh subprocess on a fresh SQLite file, so peak
memory (ru_maxrss) is that workload's own. The clock runs from just before
the first execution is started until every execution is SUCCESS; the
results (task count, states, output) are checked after the clock stops.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import workloads  # noqa: E402

#: Real Mistral 23 on this machine (shared/oracle/RESULTS.md, fastfake median of 2 runs), seconds.
MISTRAL_SECONDS = {
    "chain100": 6.6,
    "items1000": 21.4,
    "items1000_c10": 205.0,
    "fanout200": 308.0,
    "par100": 33.8,
    "publish_big": 3.2,
}


def run_one(name: str, scale: int) -> dict[str, Any]:
    """Run one workload in this process and return its figures."""
    import sqlalchemy as sa

    from sirocco import lang
    from sirocco.cli.embedded import open_embedded
    from sirocco.cli.process import settle_process
    from sirocco.store import sources, tables

    spec = workloads.workload(name, scale)
    folder = tempfile.mkdtemp(prefix="sirocco-bench-")
    db_path = os.path.join(folder, "bench.sqlite")
    app = open_embedded(f"sqlite:///{db_path}")
    settle_process()  # as sirocco server and sirocco run do once started
    try:
        document = lang.parse_workflows(spec["text"])
        workflow = next(iter(document.workflows.values()))
        sources.save_for_run(
            app.parts.database,
            [(workflow.name, workflow.definition, workflow.input_text(), None)],
            [],
        )
        # Warm up (as a server that has been serving is): connections, WAL, caches.
        warm = lang.parse_workflows(workloads.chain(2).replace("chain2", "warmup"))
        warm_spec = next(iter(warm.workflows.values()))
        sources.save_for_run(
            app.parts.database, [(warm_spec.name, warm_spec.definition, "", None)], []
        )
        warm_id = app.service.start_workflow(workflow=warm_spec.name)
        app.service.wait(warm_id, 30)
        ended: dict[str, str] = {}
        done = threading.Event()
        runs = spec["runs"]

        def on_end(execution_id: str, state: str) -> None:
            if execution_id == warm_id:
                return  # a warm-up slower than its 30 s wait (a busy machine) is not a run
            ended[execution_id] = state
            if len(ended) >= runs:
                done.set()

        app.parts.runtime.on_state(on_end)
        started = time.perf_counter()
        cpu_started = time.process_time()
        # Like shared/oracle/bench.py: many executions are started by 10 client threads.
        with concurrent.futures.ThreadPoolExecutor(max_workers=min(10, runs)) as clients:
            ids = list(
                clients.map(
                    lambda _: app.service.start_workflow(
                        workflow=workflow.name, input=spec["input"]
                    ),
                    range(runs),
                )
            )
        if not done.wait(3600):
            raise RuntimeError(f"{name} did not finish")
        wall = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        # Checks, after the clock stopped.
        with app.parts.database.read() as connection:
            wf = tables.workflow_executions
            task = tables.task_executions
            for execution_id in ids:
                row = connection.execute(sa.select(wf).where(wf.c.id == execution_id)).one()
                if row.state != "SUCCESS":
                    raise RuntimeError(
                        f"{name}: {execution_id} ended {row.state}: {row.state_info}"
                    )
                if spec["output"] is not None and row.output != spec["output"]:
                    raise RuntimeError(f"{name}: unexpected output {row.output!r}")
                count = connection.execute(
                    sa.select(sa.func.count()).where(
                        task.c.workflow_execution_id == execution_id, task.c.state == "SUCCESS"
                    )
                ).scalar()
                if count != spec["tasks"]:
                    raise RuntimeError(
                        f"{name}: {count} successful tasks, expected {spec['tasks']}"
                    )
    finally:
        app.close()
    size = sum(
        os.path.getsize(os.path.join(folder, item))
        for item in os.listdir(folder)
        if item.startswith("bench.sqlite")
    )
    return {
        "workload": name,
        "scale": scale,
        "wall_s": round(wall, 4),
        "cpu_s": round(cpu, 4),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "db_mb": round(size / 1e6, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--workloads", default=",".join(workloads.NAMES))
    parser.add_argument("--scales", default="1")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--json", dest="json_out")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        name, scale = args.one.split(":")
        print(json.dumps(run_one(name, int(scale))))
        return 0
    results = []
    print(
        f"{'workload':<16}{'scale':>6}{'wall s':>10}{'cpu s':>9}{'RSS MB':>9}{'DB MB':>8}"
        f"{'vs Mistral':>12}"
    )
    for name in args.workloads.split(","):
        for scale in (int(item) for item in args.scales.split(",")):
            for _ in range(args.runs):
                completed = subprocess.run(
                    [sys.executable, __file__, "--one", f"{name}:{scale}"],
                    capture_output=True,
                    text=True,
                    check=False,
                )
                if completed.returncode != 0:
                    print(f"{name} x{scale}: FAILED\n{completed.stderr[-2000:]}", file=sys.stderr)
                    return 1
                result = json.loads(completed.stdout.strip().splitlines()[-1])
                mistral = MISTRAL_SECONDS.get(name) if scale == 1 else None
                ratio = f"{mistral / result['wall_s']:.0f}x" if mistral else ""
                result["mistral_s"] = mistral
                results.append(result)
                print(
                    f"{name:<16}{scale:>6}{result['wall_s']:>10.3f}{result['cpu_s']:>9.2f}"
                    f"{result['peak_rss_mb']:>9.1f}{result['db_mb']:>8.2f}{ratio:>12}"
                )
    if args.json_out:
        with open(args.json_out, "a") as handle:
            for result in results:
                handle.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
