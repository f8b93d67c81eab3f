"""CPU per request of the API itself, in one process: no sockets, no uvicorn.

    python bench/api_inprocess.py                       # 5 rounds of 300 requests of each kind
    python bench/api_inprocess.py --source ../baseline  # another source tree, to compare

Builds the embedded service on a fresh SQLite file and its FastAPI application,
uploads two one-task workflows and calls the application as uvicorn would
(ASGI), one request at a time from this thread's event loop. For each kind of
request it reads the CPU time of that thread (the request through Starlette,
FastAPI, the route and its reads) and of the whole process (the engine's
thread and the executor's included):

- ``floor``: ``GET /v2``, the API root;
- ``POST``: ``POST /v2/executions`` of a workflow whose one task waits for an
  asynchronous action (``std.async_noop``): the start committed and the
  action handed over;
- ``GET``: ``GET /v2/executions/{id}``.

Each start is alone in its engine batch here, so the process figure is a
start's whole cost without the group commit a busy server gets. The figures
are the fastest round (the least disturbed by other work on the machine) and
the median; they are much steadier than ``bench/api_path.py``'s on a loaded
machine, and leave out what the socket and uvicorn cost.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

WORKFLOWS = """\
version: '2.0'
one_task:
  tasks:
    only:
      action: std.noop
waits:
  tasks:
    only:
      action: std.async_noop
"""


def _warmup_module() -> Any:
    """``sirocco/api/warmup.py`` of this bench's own tree, loaded by path: its ASGI
    ``request`` calls the application, whichever tree ``--source`` imports Sirocco from."""
    path = Path(__file__).resolve().parent.parent / "sirocco" / "api" / "warmup.py"
    spec = importlib.util.spec_from_file_location("_bench_warmup", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_warmup = _warmup_module()


async def call(app: Any, method: str, path: str, body: bytes = b"", kind: bytes = b"") -> bytes:
    """One request to ``app``; its body (SystemExit unless it succeeded)."""
    status, answer = await _warmup.request(
        app, method, path, body=body, content_type=kind or b"application/json"
    )
    if status >= 300:
        raise SystemExit(f"{method} {path}: HTTP {status}: {answer[:300]!r}")
    return answer


async def measure(requests: int, rounds: int) -> dict[str, list[float]]:
    from sirocco.api.app import create_app
    from sirocco.cli.embedded import open_embedded
    from sirocco.cli.process import settle_process

    with tempfile.TemporaryDirectory(prefix="sirocco-api-inprocess-") as folder:
        embedded = open_embedded(f"sqlite:///{Path(folder) / 'bench.sqlite'}")
        try:
            app = create_app(embedded.service)
            await call(app, "POST", "/v2/workflows", WORKFLOWS.encode(), b"text/plain")
            start = json.dumps({"workflow_name": "waits"}).encode()
            ids = [
                json.loads(await call(app, "POST", "/v2/executions", start))["id"]
                for _ in range(50)
            ]
            for execution_id in ids:  # warm-up
                await call(app, "GET", f"/v2/executions/{execution_id}")
                await call(app, "GET", "/v2")
            settle_process()
            figures: dict[str, list[float]] = {}
            for _ in range(rounds):
                for kind in ("floor", "POST", "GET"):
                    thread, process = time.thread_time(), time.process_time()
                    for number in range(requests):
                        if kind == "floor":
                            await call(app, "GET", "/v2")
                        elif kind == "POST":
                            await call(app, "POST", "/v2/executions", start)
                        else:
                            await call(app, "GET", f"/v2/executions/{ids[number % len(ids)]}")
                    per_thread = (time.thread_time() - thread) * 1000 / requests
                    per_process = (time.process_time() - process) * 1000 / requests
                    figures.setdefault(f"{kind} (API thread)", []).append(per_thread)
                    figures.setdefault(f"{kind} (process)", []).append(per_process)
            return figures
        finally:
            embedded.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300, help="requests of each kind a round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--source", help="import Sirocco from this source tree instead")
    args = parser.parse_args()
    if args.source:
        sys.path.insert(0, str(Path(args.source).resolve()))
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    figures = asyncio.run(measure(args.requests, args.rounds))
    print(f"CPU per request, ms (fastest and median of {args.rounds} rounds of {args.requests}):")
    for name, values in figures.items():
        print(f"  {name:22} {min(values):6.3f}  {statistics.median(values):6.3f}")


if __name__ == "__main__":
    main()
