"""PostgreSQL stopped as in a crash (``pg_ctl stop -m immediate``) and started again, under
`sirocco api`, `engine`, `executor` and `scheduler`: every role says it is not ready while
the database is gone, an action result that meets the outage waits in the executor, a
start requested during the outage waits in the API's engine thread, and both executions
end as they would have without the outage.

The first action calls a local HTTP gate that the test opens once every role says the
database is gone, so its result surely meets the outage (a timed action could end before
the database stopped on a slow machine, or before the test saw it taken)."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from rolekit import Gate, PrivatePostgres, Roles, call, free_port, private_postgres, status

from sirocco.store import tables

WORKFLOWS = """
version: '2.0'
outage_chain:
  input:
    - gate
  tasks:
    first:
      action: std.http url=<% $.gate %>
      publish:
        slept: yes
      on-success: second
    second:
      action: std.echo output="after the outage" delay=0.01
      publish:
        said: <% task().result %>
  output:
    said: <% $.said %>
"""


def _post(url: str, body: dict[str, Any]) -> tuple[int, str | None, Any]:
    """(status, Retry-After, body) of a POST, whatever the status."""
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers.get("Retry-After"), json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Retry-After"), json.loads(exc.read() or b"null")


@pytest.fixture
def postgres() -> Iterator[PrivatePostgres]:
    with private_postgres() as server:
        yield server


@pytest.mark.slow
def test_roles_wait_out_a_database_outage(postgres: PrivatePostgres, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "SIROCCO_DB": postgres.url,
        "SIROCCO_HEARTBEAT_INTERVAL": "0.5",
        "SIROCCO_HEARTBEAT_MAX_MISSED": "4",
    }
    group = Roles(folder=tmp_path, env=env)
    api_port = free_port()
    health = {name: free_port() for name in ("engine", "executor", "scheduler")}
    group.start("api", "--port", str(api_port))
    base = f"http://127.0.0.1:{api_port}/v2"
    group.wait_http(base)  # the API migrated the database: the others may start now
    executor = group.start("executor", "--health-port", str(health["executor"]))
    for name in ("engine", "scheduler"):
        group.start(name, "--health-port", str(health[name]))
    ready_urls = [f"http://127.0.0.1:{api_port}/ready"] + [
        f"http://127.0.0.1:{port}/ready" for port in health.values()
    ]
    database = sa.create_engine(postgres.url)
    gate = Gate()
    start = {"workflow_name": "outage_chain", "input": json.dumps({"gate": gate.url})}
    try:
        group.wait_for(
            lambda: all(status(url)[0] == 200 for url in ready_urls), 60, "every role ready"
        )
        call(f"{base}/workflows", "POST", WORKFLOWS, text=True)
        first = call(f"{base}/executions", "POST", start)["id"]

        def taken() -> bool:
            outbox = tables.outbox
            with database.connect() as connection:
                return bool(
                    connection.execute(
                        sa.select(outbox.c.id).where(
                            outbox.c.kind == "RunAction", outbox.c.claimed_until.is_not(None)
                        )
                    ).first()
                )

        group.wait_for(
            lambda: taken() and gate.requests == 1, 30, "the executor to run the first action"
        )
        database.dispose()
        postgres.stop("immediate")

        answers = group.wait_for(
            lambda: (
                [status(url) for url in ready_urls]
                if all(status(url)[0] == 503 for url in ready_urls)
                else None
            ),
            30,
            "every role to say it is not ready",
        )
        assert all("database" in " ".join(body["reasons"]) for _, body in answers), answers
        # /health says the same of every role (a fault, not a condition); /live stays 200.
        sound = [status(url.replace("/ready", "/health")) for url in ready_urls]
        assert all(code == 503 for code, _ in sound), sound
        assert all("database" in " ".join(body["reasons"]) for _, body in sound), sound
        alive = [status(url.replace("/ready", "/live"))[0] for url in ready_urls]
        assert alive == [200] * len(ready_urls), alive
        gate.opened.set()  # the first action ends now, during the outage
        group.wait_for(
            lambda: "executor-writer failed" in executor.log.read_text(),
            30,
            "the executor's result to meet the outage",
        )
        refused = _post(f"{base}/executions", start)
        assert refused[0] == 503, refused
        assert refused[1] == "5", refused
        postgres.start()
        group.wait_for(
            lambda: all(status(url)[0] == 200 for url in ready_urls), 60, "every role ready again"
        )
        second = call(f"{base}/executions", "POST", start)["id"]

        def ended() -> list[dict[str, Any]] | None:
            found = [call(f"{base}/executions/{item}") for item in (first, second)]
            return found if all(item["state"] != "RUNNING" for item in found) else None

        for execution in group.wait_for(ended, 60, "both executions to end"):
            assert execution["state"] == "SUCCESS", execution
            assert execution["output"] == '{"said": "after the outage"}'
    finally:
        database.dispose()
        gate.close()
        problems = group.stop_all()
    assert not problems, f"{problems}\n{group.logs()}"
