"""Time Sirocco's start-up as a user meets it: whole processes, several runs, the median.

    python bench/startup.py                 # 7 runs of each measurement
    python bench/startup.py --runs 15

Measurements:

- ``run (up-to-date db)``: ``sirocco run`` of a one-task workflow (``std.echo``)
  on a SQLite database already at the newest schema revision, from the process
  being started until it has exited (the output printed);
- ``run (new db)``: the same on a database file that does not exist yet (the
  schema is created);
- ``server answers``: ``sirocco server`` on a fresh SQLite file, from the
  process being started until ``GET /v2/`` answers.

Each line gives the median wall time, the fastest and slowest run, and the
median CPU time (user + system) of the process: on a loaded machine the wall
time grows with the load, the CPU time much less. The load average is printed
first, so a figure can be read with the state of the machine it came from.
"""

from __future__ import annotations

import argparse
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

SIROCCO = str(Path(sys.executable).parent / "sirocco")

TRIVIAL = """\
version: '2.0'
trivial:
  tasks:
    hello:
      action: std.echo output="hi"
"""

#: Load average under which the machine counts as idle, and the targets are judged.
IDLE_LOAD = 1.0

#: Targets of issue 13 (seconds, idle machine).
TARGETS = {"run (up-to-date db)": 0.5, "server answers": 2.0}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _environment() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if not key.startswith("SIROCCO_")}


def time_run(folder: Path, database: Path) -> tuple[float, float]:
    """One ``sirocco run``: (wall seconds, CPU seconds)."""
    workflow = folder / "trivial.yaml"
    workflow.write_text(TRIVIAL)
    cpu = _children_cpu()
    started = time.perf_counter()
    done = subprocess.run(
        [SIROCCO, "run", str(workflow), "--db", f"sqlite:///{database}", "--json"],
        capture_output=True,
        text=True,
        env=_environment(),
        check=False,
    )
    wall = time.perf_counter() - started
    if done.returncode != 0 or '"SUCCESS"' not in done.stdout:
        raise SystemExit(f"sirocco run failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return wall, _children_cpu() - cpu


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


def time_server(folder: Path, database: Path) -> tuple[float, float]:
    """One ``sirocco server`` until ``GET /v2/`` answers: (wall seconds, CPU seconds)."""
    port = _free_port()
    log = (folder / "server.log").open("w")
    cpu = _children_cpu()
    started = time.perf_counter()
    server = subprocess.Popen(
        [SIROCCO, "server", "--port", str(port), "--db", f"sqlite:///{database}"],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=_environment(),
    )
    try:
        while not _answers(f"http://127.0.0.1:{port}/v2/"):
            if server.poll() is not None:
                raise SystemExit(f"sirocco server ended:\n{(folder / 'server.log').read_text()}")
            time.sleep(0.005)
        wall = time.perf_counter() - started
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait()
        log.close()
    # The CPU time is the whole process's, its shutdown included (counted once it ended).
    return wall, _children_cpu() - cpu


def measure(
    name: str,
    runs: int,
    prepare: Callable[[Path], Path],
    once: Callable[[Path, Path], tuple[float, float]],
) -> None:
    walls, cpus = [], []
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="sirocco-startup-") as text:
            folder = Path(text)
            database = prepare(folder)
            wall, cpu = once(folder, database)
            walls.append(wall)
            cpus.append(cpu)
    median = statistics.median(walls)
    target = TARGETS.get(name)
    verdict = ""
    if target is not None and os.getloadavg()[0] < IDLE_LOAD:
        verdict = f"  (target {target:g} s: {'met' if median <= target else 'missed'})"
    elif target is not None:
        verdict = f"  (target {target:g} s on an idle machine: not judged at this load)"
    print(
        f"{name:22} median {median:6.3f} s  [{min(walls):.3f} .. {max(walls):.3f}]"
        f"  CPU {statistics.median(cpus):.3f} s{verdict}"
    )


def _up_to_date(folder: Path) -> Path:
    database = folder / "sirocco.sqlite"
    time_run(folder, database)  # creates the schema; the measured run finds it up to date
    return database


def _new(folder: Path) -> Path:
    return folder / "new.sqlite"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=7)
    options = parser.parse_args()
    loads = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"{os.cpu_count()} cores, load average {loads}; {options.runs} runs each")
    measure("run (up-to-date db)", options.runs, _up_to_date, time_run)
    measure("run (new db)", options.runs, _new, time_run)
    measure("server answers", options.runs, _new, time_server)


if __name__ == "__main__":
    main()
