"""Every workflow in ``examples/`` runs as it is with ``sirocco run`` and gives the output shown.

The examples that call HTTP services run against :mod:`scripted_http` servers
on 127.0.0.1. Mistral's documentation snippets that need OpenStack services
or actions of your own sit in ``examples/reference/`` and are only validated
(``tests/unit/lang/test_examples.py``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from scripted_http import Reply, scripted_server

from sirocco.cli.main import main

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

#: The example files each test below runs; a new example needs a test.
COVERED = {
    "hello.yaml",
    "deploy_with_rollback.yaml",
    "etl_fan_out_fan_in.yaml",
    "change_approval.yaml",
    "cron_report.yaml",
    "incident_runbook.yaml",
    "doc_dynamic_subworkflow.yaml",
    "doc_namespaces.yaml",
    "doc_tasks_function.yaml",
    "doc_executions_function.yaml",
}


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'examples.sqlite'}"


def run(db: str, name: str, *arguments: str, expect_exit: int = 0) -> dict[str, Any]:
    """``sirocco run examples/NAME ... --json`` in this process; its report."""
    result = CliRunner().invoke(
        main,
        ["run", str(EXAMPLES / name), *arguments, "--db", db, "--json"],
        catch_exceptions=False,
    )
    assert result.exit_code == expect_exit, f"exit {result.exit_code}: {result.stdout}"
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def resume(db: str, execution_id: str, *arguments: str) -> dict[str, Any]:
    result = CliRunner().invoke(
        main, ["resume", execution_id, *arguments, "--db", db, "--json"], catch_exceptions=False
    )
    assert result.exit_code == 0, f"exit {result.exit_code}: {result.stdout}"
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def tasks(report: dict[str, Any]) -> list[tuple[str, str]]:
    return [(task["name"], task["state"]) for task in report["tasks"]]


def test_every_example_runs_in_a_test_and_is_in_the_readme() -> None:
    assert {path.name for path in EXAMPLES.glob("*.yaml")} == COVERED
    readme = (EXAMPLES / "README.md").read_text()
    assert {name for name in COVERED if f"`{name}`" not in readme} == set()


def test_hello(db: str) -> None:
    report = run(db, "hello.yaml", "--input", '{"name": "Sirocco"}')
    assert report["output"] == {
        "greeting": "Hello, Sirocco!",
        "friends": [
            "Hello, Ann, friend of Sirocco.",
            "Hello, Bob, friend of Sirocco.",
            "Hello, Chloé, friend of Sirocco.",
        ],
        "summary": "3 friends greeted",
    }


# ---------------------------------------------------------------- deployment

HOSTS = ["web-1", "web-2"]


def _deployment(health: list[Reply]) -> dict[tuple[str, str], list[Reply]]:
    routes: dict[tuple[str, str], list[Reply]] = {
        ("GET", "/release"): [Reply(200, {"release": "2.4.0"})],
        ("GET", "/health"): health,
    }
    for host in HOSTS:
        # web-2 refuses the first call; the retry runs the with-items task again, as
        # Mistral does: every host is sent the (idempotent) PUT once more.
        first = [Reply(502, {"error": "busy"})] if host == "web-2" else []
        routes[("PUT", f"/hosts/{host}/release")] = [*first, Reply(200, {"ok": True})]
    return routes


def test_deployment_retries_until_healthy(db: str) -> None:
    health = [Reply(503, {"status": "starting"})] * 2 + [Reply(200, {"status": "ok"})]
    with scripted_server(_deployment(health)) as api:
        report = run(
            db,
            "deploy_with_rollback.yaml",
            "--input",
            json.dumps({"api": api.url, "release": "2.4.1", "hosts": HOSTS, "check_delay": 0}),
        )
    assert report["state"] == "SUCCESS"
    assert report["output"] == {
        "release": "2.4.1",
        "previous_release": "2.4.0",
        "hosts": HOSTS,
        "health": "ok",
    }
    assert api.calls("PUT", "/hosts/web-1/release") == [{"release": "2.4.1"}] * 2
    assert api.calls("PUT", "/hosts/web-2/release") == [{"release": "2.4.1"}] * 2
    assert len(api.calls("GET", "/health")) == 3
    assert "roll_back" not in dict(tasks(report))


def test_deployment_rolls_back_when_the_service_stays_down(db: str) -> None:
    with scripted_server(_deployment([Reply(503, {"status": "crashing"})])) as api:
        report = run(
            db,
            "deploy_with_rollback.yaml",
            "--input",
            json.dumps(
                {
                    "api": api.url,
                    "release": "2.4.1",
                    "hosts": HOSTS,
                    "attempts": 3,
                    "check_delay": 0,
                }
            ),
            expect_exit=1,
        )
    assert report["state"] == "ERROR"
    message = "release 2.4.1 did not come up; rolled back to 2.4.0"
    assert report["state_info"] == message
    assert report["output"] == {
        "result": message,
        "failed_release": "2.4.1",
        "rolled_back_to": "2.4.0",
        "rolled_back_hosts": HOSTS,
    }
    assert len(api.calls("GET", "/health")) == 3
    assert api.calls("PUT", "/hosts/web-1/release") == [
        {"release": "2.4.1"},
        {"release": "2.4.1"},
        {"release": "2.4.0"},
    ]
    assert dict(tasks(report))["roll_back"] == "SUCCESS"


# ---------------------------------------------------------------- ETL


def test_etl_fans_out_and_in(db: str) -> None:
    orders = {
        "north": [{"amount": 100, "currency": "EUR"}, {"amount": 50, "currency": "USD"}],
        "south": [{"amount": 20.5, "currency": "GBP"}],
        "west": [],
    }
    routes = {
        ("GET", f"/orders/{region}"): [Reply(200, {"region": region, "orders": items})]
        for region, items in orders.items()
    }
    routes[("GET", "/rates")] = [Reply(200, {"EUR": 1.0, "USD": 0.5, "GBP": 1.2})]
    routes[("POST", "/loads")] = [Reply(201, {"load_id": "load-42"})]
    with scripted_server(routes) as services:
        report = run(
            db,
            "etl_fan_out_fan_in.yaml",
            "--input",
            json.dumps(
                {"sales_api": services.url, "warehouse_api": services.url, "day": "2026-12-06"}
            ),
        )
    summary = [
        {"region": "north", "orders": 2, "revenue_eur": 125.0},
        {"region": "south", "orders": 1, "revenue_eur": 24.6},
        {"region": "west", "orders": 0, "revenue_eur": 0},
    ]
    assert report["state"] == "SUCCESS"
    assert report["output"] == {"load_id": "load-42", "summary": summary}
    assert services.calls("POST", "/loads") == [{"day": "2026-12-06", "regions": summary}]
    assert tasks(report)[-2:] == [("transform", "SUCCESS"), ("load", "SUCCESS")]


# ---------------------------------------------------------------- approval


@pytest.mark.parametrize(
    ("decision", "expected"),
    [
        (
            {"approved": True, "approver": "ana"},
            {"decision": "approved", "approver": "ana", "outcome": "applied by ana"},
        ),
        (
            {"approved": False, "approver": "bo"},
            {"decision": "rejected", "approver": "bo", "outcome": "dropped"},
        ),
    ],
    ids=["approved", "rejected"],
)
def test_change_waits_for_approval(db: str, decision: dict[str, Any], expected: Any) -> None:
    paused = run(
        db,
        "change_approval.yaml",
        "--input",
        '{"change": "resize db-1 to 8 GB"}',
        expect_exit=3,
    )
    assert paused["state"] == "PAUSED"
    assert tasks(paused) == [("plan", "SUCCESS"), ("approve", "IDLE")]
    final = resume(db, paused["id"], "--env", json.dumps(decision))
    assert final["state"] == "SUCCESS"
    assert final["output"] == {"change": "resize db-1 to 8 GB", **expected}


# ---------------------------------------------------------------- cron report


def test_cron_report(db: str) -> None:
    figures = {
        "week": "2026-W49",
        "services": [
            {"name": "checkout", "requests": 12000, "errors": 360, "p95_ms": 420},
            {"name": "search", "requests": 50000, "errors": 20, "p95_ms": 95},
        ],
    }
    routes = {
        ("GET", "/weekly"): [Reply(200, figures)],
        ("POST", "/hooks/ops"): [Reply(200, {"ok": True})],
    }
    with scripted_server(routes) as services:
        report = run(
            db,
            "cron_report.yaml",
            "--input",
            json.dumps({"metrics_api": services.url, "webhook": f"{services.url}/hooks/ops"}),
        )
    text = (
        "Week 2026-W49: 62000 requests over 2 services.\n"
        "- checkout: 12000 requests, 360 errors, p95 420 ms\n"
        "- search: 50000 requests, 20 errors, p95 95 ms\n"
        "Over the error budget: checkout"
    )
    assert report["state"] == "SUCCESS"
    assert report["output"] == {"week": "2026-W49", "flagged": ["checkout"], "report": text}
    assert services.calls("POST", "/hooks/ops") == [{"text": text}]


# ---------------------------------------------------------------- incident runbook


def _incident_input(url: str) -> str:
    return json.dumps(
        {
            "service": "checkout",
            "service_url": f"{url}/checkout",
            "chat_webhook": f"{url}/chat",
            "pager_url": f"{url}/pager",
            "checks": 3,
            "check_delay": 0,
        }
    )


def test_runbook_restarts_and_verifies(db: str) -> None:
    routes = {
        ("GET", "/checkout/health"): [Reply(503), Reply(503), Reply(200, {"status": "ok"})],
        ("GET", "/checkout/diagnostics"): [Reply(200, {"open_connections": 1024})],
        ("POST", "/checkout/restart"): [Reply(202, {"restarting": True})],
        ("POST", "/chat"): [Reply(200, {"ok": True})],
    }
    with scripted_server(routes) as services:
        report = run(db, "incident_runbook.yaml", "--input", _incident_input(services.url))
    assert report["state"] == "SUCCESS"
    assert report["output"] == {
        "service": "checkout",
        "outcome": "recovered after a restart",
        "diagnostics": {"open_connections": 1024},
    }
    assert services.calls("POST", "/chat") == [
        {"text": "checkout was down and is healthy again after a restart."}
    ]
    assert services.calls("POST", "/pager") == []


def test_runbook_pages_when_the_restart_fails(db: str) -> None:
    routes = {
        ("GET", "/checkout/health"): [Reply(503)],
        ("GET", "/checkout/diagnostics"): [Reply(500)],
        ("POST", "/checkout/restart"): [Reply(500, {"error": "no capacity"})],
        ("POST", "/pager"): [Reply(200, {"incident": 7})],
    }
    with scripted_server(routes) as services:
        report = run(
            db, "incident_runbook.yaml", "--input", _incident_input(services.url), expect_exit=1
        )
    assert report["state"] == "ERROR"
    assert report["state_info"] == "checkout is down; on-call paged"
    assert report["output"] == {
        "result": "checkout is down; on-call paged",
        "service": "checkout",
        "outcome": "paged on-call",
    }
    assert services.calls("POST", "/pager") == [
        {
            "summary": "checkout is down and a restart did not bring it back",
            "diagnostics": "unavailable",
        }
    ]
    assert services.calls("POST", "/chat") == []


def test_runbook_does_nothing_when_healthy(db: str) -> None:
    with scripted_server({("GET", "/checkout/health"): [Reply(200)]}) as services:
        report = run(db, "incident_runbook.yaml", "--input", _incident_input(services.url))
    assert report["output"]["outcome"] == "healthy, nothing to do"
    assert tasks(report) == [("check_health", "SUCCESS")]


# ---------------------------------------------------------------- Mistral's documentation


def test_documentation_dynamic_subworkflow(db: str) -> None:
    report = run(db, "doc_dynamic_subworkflow.yaml", "--workflow", "framework")
    assert report["output"] == {"weather_data": {"location": "wherever", "temperature": "22C"}}
    assert tasks(report) == [("weather_data", "SUCCESS"), ("do_magic", "SUCCESS")]


def test_documentation_namespaces(db: str) -> None:
    report = run(db, "doc_namespaces.yaml", "--workflow", "wf1")
    assert tasks(report) == [("t1", "SUCCESS")]


def test_documentation_tasks_function(db: str) -> None:
    output = run(db, "doc_tasks_function.yaml")["output"]
    assert [task["name"] for task in output["all_tasks_in_this_wf_yaql"]] == ["task"]
    assert output["all_tasks_in_error_yaql"] == []
    assert output["all_tasks_in_error_jinja_with_kw"] == []


def test_documentation_executions_function(db: str) -> None:
    run(db, "doc_namespaces.yaml", "--workflow", "wf1")
    output = run(db, "doc_executions_function.yaml")["output"]
    names = sorted(item["name"] for item in output["all_executions_yaql"])
    assert names == ["wf", "wf1", "wf2"]
    assert output["all_executions_in_error_yaql"] == []
