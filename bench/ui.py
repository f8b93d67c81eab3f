"""Times of the web view: a 2,000-task execution in the browser, and the executions list
over 100,000 executions. A benchmark, not a test: it prints figures and checks nothing
but that the pages show what they should.

    .venv/bin/python bench/ui.py [--tasks 2000] [--executions 100000] [--runs 5]

It starts ``sirocco server`` on a free port over a fresh SQLite file, runs one
execution of a generated workflow (``--tasks`` tasks: a start task fanning out to
chains of 40 tasks), and loads its page ``--runs`` times in Debian's Chromium,
reporting the navigation timings of the browser (until ``load``: the page is
parsed, styled, laid out and its SVG drawn). Then it adds ``--executions`` rows
straight into the database and times the list's pages over HTTP.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import sqlalchemy as sa
from playwright.sync_api import sync_playwright

from sirocco.store import tables

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
CHAIN = 40


def workflow(tasks: int) -> str:
    """``start`` fanning out to chains of CHAIN tasks, ``tasks`` tasks in all."""
    lines = ["version: '2.0'", "big:", "  tasks:", "    start:", "      action: std.noop"]
    chains = max(-(-(tasks - 1) // CHAIN), 1)
    lines.append("      on-success: [" + ", ".join(f"c{c}_0" for c in range(chains)) + "]")
    for chain in range(chains):
        for step in range(CHAIN):
            lines += [f"    c{chain}_{step}:", "      action: std.noop"]
            if step + 1 < CHAIN:
                lines.append(f"      on-success: c{chain}_{step + 1}")
    return "\n".join(lines) + "\n"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait(condition, what: str, bound: float = 300.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + bound
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise SystemExit(f"gave up waiting for {what}")
        time.sleep(0.1)
    return value


def browser_timings(url: str, runs: int) -> list[dict[str, float]]:
    found = []
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        session = page.context.new_cdp_session(page)
        session.send("Performance.enable")
        for _ in range(runs + 1):  # the first load warms the server's caches up
            before = _metrics(session)["ProcessTime"]
            page.goto(url, wait_until="load")
            page.evaluate("() => new Promise(done => requestAnimationFrame(() => done()))")
            timing = page.evaluate(
                """() => { const n = performance.getEntriesByType('navigation')[0];
                   return {response: n.responseEnd, dom: n.domContentLoadedEventEnd,
                           load: n.loadEventEnd,
                           nodes: document.querySelectorAll('g.node').length}; }"""
            )
            after = _metrics(session)
            timing["work"] = after["TaskDuration"] * 1000  # counted per document
            timing["cpu"] = (after["ProcessTime"] - before) * 1000
            found.append(timing)
        browser.close()
    return found[1:]


def _metrics(session) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """Chromium's performance counters: ``TaskDuration`` is the main thread's work for the
    current document (parse, style, layout, paint, script); ``ProcessTime`` the renderer
    process's CPU time so far."""
    return {
        item["name"]: float(item["value"])
        for item in session.send("Performance.getMetrics")["metrics"]
    }


def add_executions(db_file: Path, count: int) -> None:
    engine = sa.create_engine(f"sqlite:///{db_file}")
    start = datetime(2026, 1, 1)
    with engine.begin() as connection:
        for first in range(0, count, 10_000):
            rows = [
                {
                    "id": str(uuid.uuid4()),
                    "workflow_name": f"wf_{index % 50}",
                    "definition": "version: '2.0'\n",
                    "state": ("SUCCESS", "ERROR", "RUNNING")[index % 3],
                    "state_info": "boom" if index % 3 == 1 else None,
                    "created_at": start + timedelta(seconds=index),
                    "updated_at": start + timedelta(seconds=index + 3),
                }
                for index in range(first, min(first + 10_000, count))
            ]
            connection.execute(sa.insert(tables.workflow_executions), rows)
    engine.dispose()


def http_time(client: httpx.Client, path: str, runs: int) -> float:
    times = []
    for _ in range(runs + 1):
        began = time.perf_counter()
        answer = client.get(path)
        times.append(time.perf_counter() - began)
        assert answer.status_code == 200, answer.text[:300]
    return statistics.median(times[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--executions", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    options = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="sirocco-bench-ui-"))
    db_file = folder / "sirocco.sqlite"
    port = free_port()
    command = [str(Path(sys.executable).parent / "sirocco"), "server", "--port", str(port),
               "--db", f"sqlite:///{db_file}"]  # fmt: skip
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    client = httpx.Client(base_url=base, timeout=120)
    try:
        wait(lambda: _answers(client), "the server")
        text = workflow(options.tasks)
        uploaded = client.post(
            "/v2/workflows", content=text, headers={"Content-Type": "text/plain"}
        )
        assert uploaded.status_code == 201, uploaded.text[:300]
        started = client.post("/v2/executions", json={"workflow_name": "big"}).json()
        execution_id = started["id"]
        wait(
            lambda: client.get(f"/v2/executions/{execution_id}").json()["state"] == "SUCCESS",
            "the execution",
        )
        timings = browser_timings(f"{base}/ui/executions/{execution_id}", options.runs)
        nodes = timings[0]["nodes"]
        print(f"execution page, {nodes} task nodes, median of {options.runs} loads in Chromium:")
        print(f"  (load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
        for key, label in (
            ("response", "HTML received"),
            ("dom", "DOM ready"),
            ("load", "loaded"),
            ("work", "main thread"),
            ("cpu", "renderer CPU"),
        ):
            value = statistics.median(timing[key] for timing in timings)
            print(f"  {label:14} {value:7.0f} ms")
        add_executions(db_file, options.executions)
        print(f"executions list over {options.executions:,} executions (median HTTP time):")
        for path in (
            "/ui/executions",
            "/ui/executions?state=ERROR",
            "/ui/executions?workflow=wf_7",
            "/ui/executions?since=2026-01-01T12:00&until=2026-01-01T13:00",
            "/ui/executions?text=boom",
        ):
            print(f"  {path:62} {http_time(client, path, options.runs) * 1000:7.0f} ms")
        page = client.get("/ui/executions").text
        marker = page.split('id="next-page" href="')[1].split('"')[0].replace("&amp;", "&")
        after_marker = http_time(client, marker, options.runs) * 1000
        print(f"  {'(a page after a marker)':62} {after_marker:7.0f} ms")
    finally:
        client.close()
        server.terminate()
        server.wait(30)


def _answers(client: httpx.Client) -> bool:
    try:
        return client.get("/v2").status_code == 200
    except httpx.TransportError:
        return False


if __name__ == "__main__":
    main()
