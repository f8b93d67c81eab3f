"""Split roles against the embedded server on PostgreSQL: throughput, latency, CPU per task.

    python bench/scaleout.py                                   # every configuration, both workloads
    python bench/scaleout.py --configs server,split1 --transports database,amqp --n 200
    python bench/scaleout.py --json results.jsonl
    python bench/scaleout.py --baseline /tmp/base --rounds 3   # before/after, interleaved

Configurations (each on a fresh PostgreSQL database):
  server  ``sirocco server`` (every role in one process, hand-over in memory)
  split1  ``sirocco api`` + 1 engine + 1 executor (+ a scheduler)
  split2  ``sirocco api`` + 2 engines + 2 executors (+ a scheduler)
Transports of the split configurations: ``database`` (the outbox, woken by LISTEN/NOTIFY)
and ``amqp`` (RabbitMQ at $SIROCCO_BENCH_AMQP, default guest@127.0.0.1:5672).

Workloads:
  noop    N executions of a 5-task chain of ``std.sleep seconds=0`` (each task goes to an
          executor), posted by T client threads
  sleep   N executions of a 5-task chain of ``std.echo delay=0.2`` on executors with
          ``--workers 4`` each, so that executors are the bottleneck (2 executors should
          do twice the work of 1)
  handoff 30 one-task executions of ``std.sleep seconds=0``, one after the other: the time
          from create to SUCCESS in the engine's own timestamps (one hand-off there and back)

``--baseline DIR`` measures every configuration twice in turn, with the code of DIR (a
checkout of an older commit, put first on the roles' PYTHONPATH) and with this one, and
``--rounds`` repeats the whole pass: on a loaded machine, compare within a round.

Throughput = executions / (last update - first create) in the database's timestamps;
CPU per task = CPU seconds of every role process (/proc) over the run / tasks; deadlocks =
those PostgreSQL broke in the run's database (each one a wait of ``deadlock_timeout``). One
JSON line per measurement; a table at the end. ``SIROCCO_BENCH_DB_PREFIX`` names the
databases (default ``bench_scaleout``).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SIROCCO = str(Path(sys.executable).parent / "sirocco")
PG = os.environ.get("SIROCCO_BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
AMQP = os.environ.get("SIROCCO_BENCH_AMQP", "amqp://guest:guest@127.0.0.1:5672//")
#: How the bench's databases are named (each run's: PREFIX_pid_time), so that engineers
#: sharing a server tell theirs apart.
PREFIX = os.environ.get("SIROCCO_BENCH_DB_PREFIX", "bench_scaleout")


def _chain(name: str, action: str) -> str:
    tasks = "".join(
        f"    t{index}:\n      action: {action}\n"
        + (f"      on-success: [t{index + 1}]\n" if index < 5 else "")
        for index in range(1, 6)
    )
    return f"{name}:\n  tasks:\n{tasks}"


WORKFLOWS = (
    "version: '2.0'\n"
    + _chain("chain_noop", "std.sleep seconds=0")
    # std.sleep counts whole seconds (as Mistral's does): 200 ms is std.echo's delay.
    + _chain("chain_sleep", "std.echo\n      input: {output: x, delay: 0.2}")
    + "one_sleep:\n  tasks:\n    t1:\n      action: std.sleep seconds=0\n"
)


def psql(sql: str, database: str = "postgres") -> str:
    host = PG.split("@", 1)[1].split(":")[0]
    return subprocess.run(
        ["psql", "-h", host, "-U", "postgres", "-d", database, "-Atqc", sql],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Client:
    def __init__(self, port: int) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def call(self, method: str, path: str, body: Any = None, text: bool = False) -> Any:
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = body if isinstance(body, str) else json.dumps(body)
            headers["Content-Type"] = "text/plain" if text else "application/json"
        self.connection.request(method, "/v2" + path, body=data, headers=headers)
        response = self.connection.getresponse()
        raw = response.read()
        if response.status >= 300:
            raise RuntimeError(f"{method} {path} -> {response.status} {raw[:300]!r}")
        return json.loads(raw) if raw else None


def start(
    config: str,
    transport: str,
    database: str,
    port: int,
    workers: int,
    logs: Path,
    source: str | None = None,
) -> list[subprocess.Popen[bytes]]:
    env = {**os.environ, "SIROCCO_DB": f"{PG}/{database}"}
    if source is not None:
        env["PYTHONPATH"] = source
    if transport == "amqp":
        env["SIROCCO_TRANSPORT"] = AMQP
    processes: list[subprocess.Popen[bytes]] = []

    def spawn(*args: str) -> None:
        log = open(logs / f"{args[0]}-{len(processes)}.log", "w")  # noqa: SIM115
        processes.append(subprocess.Popen([SIROCCO, *args], env=env, stdout=log, stderr=log))

    if config == "server":
        env["SIROCCO_EXECUTOR_WORKERS"] = str(workers)
        spawn("server", "--port", str(port), "--log-level", "WARNING")
    else:
        subprocess.run([SIROCCO, "db", "upgrade"], env=env, check=True, capture_output=True)
        count = int(config.removeprefix("split"))
        spawn("api", "--port", str(port), "--log-level", "WARNING")
        for _ in range(count):
            spawn("engine", "--log-level", "WARNING")
        for _ in range(count):
            spawn("executor", "--workers", str(workers), "--log-level", "WARNING")
        spawn("scheduler", "--log-level", "WARNING")
    deadline = time.monotonic() + 180
    while True:
        for process in processes:
            if process.poll() is not None:
                raise RuntimeError(f"a role exited: {process.args}; see {logs}")
        try:
            Client(port).call("GET", "/workflows")
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    time.sleep(2.0)  # let engines and executors connect and settle
    return processes


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()


def cpu_by_role(processes: list[subprocess.Popen[bytes]]) -> dict[str, float]:
    """CPU seconds (user + system) spent so far, per role (``server``, ``api``, ...)."""
    spent: dict[str, float] = {}
    for process in processes:
        try:
            fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        role = str(process.args[1])  # type: ignore[index]
        seconds = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        spent[role] = spent.get(role, 0.0) + seconds
    return spent


def cpu_seconds(processes: list[subprocess.Popen[bytes]]) -> float:
    return sum(cpu_by_role(processes).values())


def load(port: int, database: str, workflow: str, n: int, threads: int, tag: str) -> dict[str, Any]:
    counter = iter(range(n))
    lock = threading.Lock()
    failures: list[str] = []

    def post() -> None:
        client = Client(port)
        while True:
            with lock:
                index = next(counter, None)
            if index is None:
                return
            try:
                client.call("POST", "/executions", {"workflow_name": workflow, "description": tag})
            except Exception as exc:  # counted and reported
                failures.append(str(exc))
                client = Client(port)

    began = time.monotonic()
    posting = [threading.Thread(target=post) for _ in range(threads)]
    for thread in posting:
        thread.start()
    for thread in posting:
        thread.join()
    done_query = (
        f"select count(*) from workflow_executions where description='{tag}' "
        "and state in ('SUCCESS','ERROR')"
    )
    while int(psql(done_query, database)) < n - len(failures):
        if time.monotonic() - began > 900:
            break
        time.sleep(0.1)
    rows = psql(
        "select state, extract(epoch from created_at), extract(epoch from updated_at) "
        f"from workflow_executions where description='{tag}'",
        database,
    ).splitlines()
    states: dict[str, int] = {}
    latencies, created, updated = [], [], []
    for row in rows:
        state, first, last = row.split("|")
        states[state] = states.get(state, 0) + 1
        latencies.append(float(last) - float(first))
        created.append(float(first))
        updated.append(float(last))
    latencies.sort()
    span = max(updated) - min(created)
    tasks = int(
        psql(
            "select count(*) from task_executions t join workflow_executions w on "
            f"t.workflow_execution_id = w.id where w.description='{tag}' and t.state='SUCCESS'",
            database,
        )
    )
    return {
        "executions": len(rows),
        "states": states,
        "tasks": tasks,
        "span_s": round(span, 2),
        "executions_per_s": round(len(rows) / span, 1),
        "tasks_per_s": round(tasks / span, 1),
        "p50_ms": round(1000 * latencies[len(latencies) // 2], 1),
        "p99_ms": round(1000 * latencies[max(0, int(len(latencies) * 0.99) - 1)], 1),
        "post_errors": len(failures),
    }


def handoff(port: int, database: str, count: int = 30) -> dict[str, Any]:
    client = Client(port)
    for _ in range(count):
        execution = client.call(
            "POST", "/executions", {"workflow_name": "one_sleep", "description": "handoff"}
        )
        while client.call("GET", f"/executions/{execution['id']}")["state"] not in (
            "SUCCESS",
            "ERROR",
        ):
            time.sleep(0.002)
        time.sleep(0.02)
    rows = psql(
        "select extract(epoch from updated_at) - extract(epoch from created_at) "
        "from workflow_executions where description='handoff'",
        database,
    ).splitlines()
    values = sorted(float(row) * 1000 for row in rows)
    return {
        "handoff_p50_ms": round(statistics.median(values), 1),
        "handoff_min_ms": round(values[0], 1),
    }


def _commits(database: str) -> tuple[int, int]:
    """Transactions committed in ``database`` so far, and deadlocks PostgreSQL broke there
    (each one a wait of ``deadlock_timeout``, a second by default), from PostgreSQL's
    statistics. A busy backend reports its counts at most once a second and an idle one
    may keep them for up to 10 s: read after the roles stopped (their backends report as
    they exit)."""
    time.sleep(0.6)
    found = psql(
        f"select xact_commit, deadlocks from pg_stat_database where datname = '{database}'"
    )
    commits, deadlocks = found.split("|")
    return int(commits), int(deadlocks)


def load_average() -> float:
    return round(os.getloadavg()[0], 1)


def measure(
    config: str,
    transport: str,
    workload: str,
    n: int,
    threads: int,
    logs: Path,
    source: str | None = None,
) -> dict[str, Any]:
    database = f"{PREFIX}_{os.getpid()}_{int(time.time() * 1000) % 10**8}"
    psql(f'create database "{database}"')
    port = free_port()
    workers = 4 if workload == "sleep" else 32
    processes = start(config, transport, database, port, workers, logs, source)
    result: dict[str, Any] = {"load_before": load_average()}
    try:
        Client(port).call("POST", "/workflows", WORKFLOWS, text=True)
        before = cpu_by_role(processes)
        commits_before, deadlocks_before = _commits(database)
        if workload == "handoff":
            result.update(handoff(port, database))
        else:
            workflow = "chain_noop" if workload == "noop" else "chain_sleep"
            result.update(load(port, database, workflow, n, threads, f"{workload}-{config}"))
            after = cpu_by_role(processes)
            tasks = max(1, result["tasks"])
            result["cpu_ms_per_task"] = round(
                1000 * (sum(after.values()) - sum(before.values())) / tasks, 2
            )
            result["cpu_ms_per_task_by_role"] = {
                role: round(1000 * (after[role] - before.get(role, 0.0)) / tasks, 2)
                for role in after
            }
    finally:
        stop(processes)
    try:
        if "tasks" in result:
            commits, deadlocks = _commits(database)
            tasks = max(1, result["tasks"])
            result["commits_per_task"] = round((commits - commits_before) / tasks, 2)
            result["deadlocks"] = deadlocks - deadlocks_before
    finally:
        psql(f'drop database if exists "{database}" with (force)')
    result["load_after"] = load_average()
    return {"config": config, "transport": transport if config != "server" else "memory",
            "workload": workload, "code": "baseline" if source else "current",
            **result}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--configs", default="server,split1,split2")
    parser.add_argument("--transports", default="database,amqp")
    parser.add_argument("--workloads", default="noop,sleep,handoff")
    parser.add_argument("--n", type=int, default=200, help="executions of the noop workload")
    parser.add_argument("--n-sleep", type=int, default=40, help="executions of the sleep workload")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--json", dest="json_out")
    parser.add_argument("--logs", default="/tmp/sirocco-bench-scaleout")
    parser.add_argument(
        "--baseline", help="a checkout of older code, measured in turn with this one"
    )
    parser.add_argument("--rounds", type=int, default=1, help="passes over everything")
    options = parser.parse_args()
    logs = Path(options.logs)
    logs.mkdir(parents=True, exist_ok=True)
    sources: list[str | None] = [None]
    if options.baseline:
        sources = [str(Path(options.baseline).resolve()), None]
    results = []
    for round_number in range(options.rounds):
        for workload in options.workloads.split(","):
            for config in options.configs.split(","):
                transports = ["memory"] if config == "server" else options.transports.split(",")
                for transport in transports:
                    for source in sources:
                        n = options.n_sleep if workload == "sleep" else options.n
                        result = measure(
                            config, transport, workload, n, options.threads, logs, source
                        )
                        result["round"] = round_number + 1
                        print(json.dumps(result), flush=True)
                        results.append(result)
                        if options.json_out:
                            with open(options.json_out, "a") as out:
                                out.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
