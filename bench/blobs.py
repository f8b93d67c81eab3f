"""Large values by reference (claim check): what a large value costs a task, and the memory
a 100 MB action result takes through a 3-task workflow, embedded on SQLite.

    python bench/blobs.py                      # both parts
    python bench/blobs.py --part publish --runs 5
    python bench/blobs.py --part big --mb 100

``publish``: the publish_big workflow (50 tasks, each echoes the input and
publishes the result) with an input of 10 bytes (the small-value chain),
10 KB and 100 KB, each with the claim check off (``SIROCCO_BLOB_THRESHOLD=-1``,
every value in its rows, as before it existed) and on (10 KB: a 4 KiB
threshold, and the default 64 KiB, under which a value over the 4 KiB repeat
threshold written again is stored once; 100 KB: the default 64 KiB). Prints
the CPU and wall time per task, and each one's ratio to the small-value chain; runs are interleaved
and the median is taken.

``big``: an action makes a string of ``--mb`` MB, a second task's action gets
it as input and gives it back, a third gets its length. Prints the peak RSS
of the process (``ru_maxrss``), what it was before the run, and both as
ratios to the value's size. The field size limit and the expression size
limit are lifted for it (``-1``).

Each run is a fresh subprocess on a fresh SQLite file.

``split``: the same 3-task workflow through split roles (``sirocco api``,
``engine`` and ``executor`` processes) on a fresh PostgreSQL database, the
roles handing work over through the database alone and over RabbitMQ
(``--transports``); the two actions are dynamic actions, so the value is made
on the executor. Prints each role's peak RSS (``VmHWM``) as a ratio to the
value's size, and the time the execution took.
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
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import workloads  # noqa: E402

TASKS = 50

#: (label, input size in bytes, SIROCCO_BLOB_THRESHOLD)
PUBLISH_CASES = [
    ("small 10 B", 10, "-1"),
    ("10 KB, off", 10_240, "-1"),
    ("10 KB, on (4 KiB)", 10_240, "4096"),
    ("10 KB, default", 10_240, "65536"),
    ("100 KB, off", 102_400, "-1"),
    ("100 KB, on (64 KiB)", 102_400, "65536"),
]

BIG_WORKFLOW = """
version: '2.0'
big:
  input:
    - size
  tasks:
    make:
      action: bench.make size=<% $.size %>
      publish:
        value: <% task().result %>
      on-success: echo
    echo:
      action: std.echo output=<% $.value %>
      publish:
        again: <% task().result %>
      on-success: measure
    measure:
      action: bench.length value=<% $.again %>
      publish:
        length: <% task().result %>
  output:
    length: <% $.length %>
"""


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _run_workflow(text: str, workflow_input: dict[str, Any], register: Any = None) -> Any:
    """Run one execution of the workflow in ``text`` embedded; its row and the timings."""
    import sqlalchemy as sa

    from sirocco import lang
    from sirocco.cli.embedded import open_embedded
    from sirocco.cli.process import settle_process
    from sirocco.store import sources, tables

    folder = tempfile.mkdtemp(prefix="sirocco-bench-blobs-")
    app = open_embedded(f"sqlite:///{os.path.join(folder, 'bench.sqlite')}")
    settle_process()
    try:
        if register is not None:
            register(app.parts.registry)
        document = lang.parse_workflows(text)
        workflow = next(iter(document.workflows.values()))
        sources.save_for_run(
            app.parts.database,
            [(workflow.name, workflow.definition, workflow.input_text(), None)],
            [],
        )
        # Warm up once on the same workflow with a small input (connections, caches).
        warm_input = {key: (10 if key == "size" else "w") for key in workflow_input}
        warm = app.service.start_workflow(workflow=workflow.name, input=warm_input)
        app.service.wait(warm, 120)
        before_mb = _peak_mb()
        ended = threading.Event()
        app.parts.runtime.on_state(lambda _id, state: ended.set() if _id != warm else None)
        started = time.perf_counter()
        cpu_started = time.process_time()
        execution_id = app.service.start_workflow(workflow=workflow.name, input=workflow_input)
        if not ended.wait(3600):
            raise RuntimeError(f"{workflow.name} did not finish")
        wall = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        app.service.wait(execution_id, 60)
        table = tables.workflow_executions
        with app.parts.database.read() as connection:
            row = connection.execute(sa.select(table).where(table.c.id == execution_id)).one()
        if row.state != "SUCCESS":
            raise RuntimeError(f"{workflow.name} ended {row.state}: {row.state_info}")
        return row, wall, cpu, before_mb
    finally:
        app.close()
        shutil.rmtree(folder, ignore_errors=True)  # a 100 MB run leaves a 100 MB file


def one_publish(size: int) -> dict[str, Any]:
    row, wall, cpu, _ = _run_workflow(workloads.publish_big(TASKS), {"blob": "x" * size})
    if row.output != {"vars": TASKS, "last_len": size}:
        raise RuntimeError(f"unexpected output {row.output!r}")
    return {"wall_ms_per_task": wall * 1000 / TASKS, "cpu_ms_per_task": cpu * 1000 / TASKS}


def one_big(megabytes: int) -> dict[str, Any]:
    from mistral_lib import actions

    size = megabytes * 1_000_000

    class Make(actions.Action):  # type: ignore[misc]
        def __init__(self, size: int) -> None:
            super().__init__()
            self.size = size

        def run(self, context: Any) -> str:
            return "x" * self.size

    class Length(actions.Action):  # type: ignore[misc]
        def __init__(self, value: str) -> None:
            super().__init__()
            self.value = value

        def run(self, context: Any) -> int:
            return len(self.value)

    def register(registry: Any) -> None:
        registry.register("bench.make", Make)
        registry.register("bench.length", Length)

    row, wall, cpu, before_mb = _run_workflow(BIG_WORKFLOW, {"size": size}, register)
    if row.output != {"length": size}:
        raise RuntimeError(f"unexpected output {row.output!r}")
    peak_mb = _peak_mb()
    value_mb = size / 2**20
    return {
        "value_mb": round(value_mb, 1),
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "rss_before_mb": round(before_mb, 1),
        "peak_rss_mb": round(peak_mb, 1),
        "peak_over_value": round(peak_mb / value_mb, 2),
        "growth_over_value": round((peak_mb - before_mb) / value_mb, 2),
    }


def _child(arguments: list[str], env: dict[str, str]) -> dict[str, Any]:
    completed = subprocess.run(
        [sys.executable, __file__, *arguments],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **env},
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{arguments} failed:\n{completed.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def publish_part(runs: int) -> list[dict[str, Any]]:
    samples: dict[str, list[dict[str, Any]]] = {label: [] for label, _, _ in PUBLISH_CASES}
    for _ in range(runs):  # interleaved: a busy moment hits every case alike
        for label, size, threshold in PUBLISH_CASES:
            samples[label].append(
                _child(["--one-publish", str(size)], {"SIROCCO_BLOB_THRESHOLD": threshold})
            )
    rows = []
    for label, _, _ in PUBLISH_CASES:
        rows.append(
            {
                "case": label,
                "cpu_ms_per_task": statistics.median(s["cpu_ms_per_task"] for s in samples[label]),
                "wall_ms_per_task": statistics.median(
                    s["wall_ms_per_task"] for s in samples[label]
                ),
            }
        )
    base = rows[0]
    print(
        f"{'publish_big, 50 tasks':<24}{'cpu ms/task':>12}{'x small':>9}"
        f"{'wall ms/task':>14}{'x small':>9}"
    )
    for row in rows:
        row["cpu_ratio"] = round(row["cpu_ms_per_task"] / base["cpu_ms_per_task"], 2)
        row["wall_ratio"] = round(row["wall_ms_per_task"] / base["wall_ms_per_task"], 2)
        print(
            f"{row['case']:<24}{row['cpu_ms_per_task']:>12.3f}{row['cpu_ratio']:>9.2f}"
            f"{row['wall_ms_per_task']:>14.3f}{row['wall_ratio']:>9.2f}"
        )
    return rows


def big_part(megabytes: int, threshold: str) -> dict[str, Any]:
    env = {
        "SIROCCO_FIELD_SIZE_LIMIT_KB": "-1",
        "SIROCCO_EXPRESSION_MAX_BYTES": "-1",
        "SIROCCO_BLOB_THRESHOLD": threshold,
    }
    result = _child(["--one-big", str(megabytes)], env)
    result["threshold"] = threshold
    print(
        f"{megabytes} MB result through 3 tasks (threshold {threshold}): peak RSS "
        f"{result['peak_rss_mb']} MB = {result['peak_over_value']}x the value "
        f"(before the run {result['rss_before_mb']} MB; growth "
        f"{result['growth_over_value']}x), {result['wall_s']} s"
    )
    return result


SPLIT_MODULE = """from mistral_lib import actions


class Make(actions.Action):
    def __init__(self, size):
        self.size = size

    def run(self, context):
        return "x" * self.size


class Length(actions.Action):
    def __init__(self, value):
        self.value = value

    def run(self, context):
        return len(self.value)
"""
SPLIT_ROLES = ("api", "engine", "executor")
#: Ports of this benchmark's API (the blobs engineer's range).
SPLIT_PORT = 18250
PG_SERVER = os.environ.get("SIROCCO_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")
AMQP = os.environ.get("SIROCCO_BENCH_AMQP", "amqp://guest:guest@127.0.0.1:5672//")


def _http(url: str, method: str = "GET", body: Any = None, text: bool = False) -> Any:
    import urllib.request

    data = None if body is None else (body if text else json.dumps(body)).encode()
    headers = {"Content-Type": "text/plain" if text else "application/json"}
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    with urllib.request.urlopen(request, timeout=600) as response:
        return json.loads(response.read() or b"null")


def _peak_of(pid: int) -> float:
    """A process's peak resident set (``VmHWM``), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for {pid}")


def _until(condition: Any, bound: float, what: str) -> Any:
    deadline = time.monotonic() + bound
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.2)


def _finished(base: str, execution_id: str) -> dict[str, Any] | None:
    found: dict[str, Any] = _http(f"{base}/executions/{execution_id}")
    return found if found["state"] in ("SUCCESS", "ERROR") else None


def one_split(megabytes: int, transport: str) -> dict[str, Any]:
    """One run of the 3-task workflow through split roles on a fresh PostgreSQL database."""
    import sqlalchemy as sa

    size = megabytes * 1_000_000
    name = f"blobs_bench_{os.getpid()}"
    server = sa.create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.execute(sa.text(f"CREATE DATABASE {name}"))
    folder = Path(tempfile.mkdtemp(prefix="sirocco-bench-split-"))
    env = {
        **os.environ,
        "SIROCCO_DB": f"{PG_SERVER}/{name}",
        "SIROCCO_TRANSPORT": AMQP if transport == "amqp" else "",
        "SIROCCO_FIELD_SIZE_LIMIT_KB": "-1",
        "SIROCCO_EXPRESSION_MAX_BYTES": "-1",
    }
    sirocco = str(Path(sys.executable).parent / "sirocco")
    base = f"http://127.0.0.1:{SPLIT_PORT}/v2"
    started: dict[str, subprocess.Popen[bytes]] = {}
    try:
        started["api"] = subprocess.Popen(
            [sirocco, "api", "--port", str(SPLIT_PORT)],
            env=env,
            stdout=open(folder / "api.log", "wb"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
        )
        _until(lambda: _answers(base), 120, "the API")
        for role in SPLIT_ROLES[1:]:
            started[role] = subprocess.Popen(
                [sirocco, role],
                env=env,
                stdout=open(folder / f"{role}.log", "wb"),  # noqa: SIM115
                stderr=subprocess.STDOUT,
            )
        _http(f"{base}/code_sources?name=bench_mod", "POST", SPLIT_MODULE, text=True)
        for action, class_name in (("bench.make", "Make"), ("bench.length", "Length")):
            _http(
                f"{base}/dynamic_actions",
                "POST",
                {"name": action, "class_name": class_name, "code_source_name": "bench_mod"},
            )
        _http(f"{base}/workflows", "POST", BIG_WORKFLOW, text=True)
        warm = _http(
            f"{base}/executions", "POST", {"workflow_name": "big", "input": '{"size": 10}'}
        )
        _until(lambda: _finished(base, warm["id"]), 300, "the warm-up run")
        before = {role: _peak_of(process.pid) for role, process in started.items()}
        began = time.perf_counter()
        body = {"workflow_name": "big", "input": json.dumps({"size": size})}
        execution = _http(f"{base}/executions", "POST", body)
        found = _until(lambda: _finished(base, execution["id"]), 3600, "the 100 MB run")
        wall = time.perf_counter() - began
        if found["state"] != "SUCCESS" or json.loads(found["output"]) != {"length": size}:
            raise RuntimeError(f"ended {found['state']}: {found['state_info']}")
        peaks = {role: _peak_of(process.pid) for role, process in started.items()}
        with sa.create_engine(env["SIROCCO_DB"]).connect() as connection:
            from sirocco.store import blobs

            stored = blobs.count(connection)
    finally:
        for process in started.values():
            process.terminate()
        for process in started.values():
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
        with server.connect() as connection:
            connection.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        server.dispose()
        shutil.rmtree(folder, ignore_errors=True)
    value_mb = size / 2**20
    return {
        "transport": transport,
        "value_mb": round(value_mb, 1),
        "wall_s": round(wall, 2),
        "blobs_and_refs": list(stored),
        "rss_before_mb": {role: round(mb, 1) for role, mb in before.items()},
        "peak_rss_mb": {role: round(mb, 1) for role, mb in peaks.items()},
        "peak_over_value": {role: round(mb / value_mb, 2) for role, mb in peaks.items()},
        "growth_over_value": {
            role: round((mb - before[role]) / value_mb, 2) for role, mb in peaks.items()
        },
    }


def _answers(base: str) -> bool:
    try:
        _http(f"{base}/workflows")
    except OSError:
        return False
    return True


def split_part(megabytes: int, transports: list[str]) -> list[dict[str, Any]]:
    results = []
    for transport in transports:
        result = one_split(megabytes, transport)
        results.append(result)
        ratios = ", ".join(f"{role} {ratio}x" for role, ratio in result["peak_over_value"].items())
        print(
            f"{megabytes} MB result through 3 tasks, split roles on PostgreSQL ({transport}): "
            f"peak RSS {ratios} the value (growth {result['growth_over_value']}); "
            f"{result['wall_s']} s; blobs, refs "
            f"{result['blobs_and_refs']} (before the run {result['rss_before_mb']} MB)"
        )
    return results


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--part", choices=["publish", "big", "split", "all"], default="all")
    parser.add_argument("--transports", default="database,amqp")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--mb", type=int, default=100)
    parser.add_argument("--json", dest="json_out")
    parser.add_argument("--one-publish", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--one-big", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one_publish is not None:
        print(json.dumps(one_publish(args.one_publish)))
        return 0
    if args.one_big is not None:
        print(json.dumps(one_big(args.one_big)))
        return 0
    results: dict[str, Any] = {}
    if args.part in ("publish", "all"):
        results["publish"] = publish_part(args.runs)
    if args.part in ("big", "all"):
        results["big"] = [big_part(args.mb, "65536"), big_part(args.mb, "-1")]
    if args.part in ("split", "all"):
        results["split"] = split_part(args.mb, args.transports.split(","))
    if args.json_out:
        with open(args.json_out, "a") as handle:
            handle.write(json.dumps(results) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
