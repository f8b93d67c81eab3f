"""``GET /metrics`` after a run: counters, histograms and gauges with the right values."""

from __future__ import annotations

from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from sirocco.api.app import create_app
from sirocco.runtime import metrics
from tests.integration import helpers

WORKFLOWS = """
version: '2.0'
counted:
  tasks:
    one:
      action: std.noop
      on-success: [two]
    two:
      action: std.echo
      input:
        output: 2
counted_failure:
  tasks:
    broken:
      action: std.fail
"""


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_metrics_after_a_run(tmp_path: Path, monkeypatch: object) -> None:
    fresh = metrics.Metrics(max_label_values=100)
    monkeypatch.setattr(metrics, "METRICS", fresh)  # type: ignore[attr-defined]
    with helpers.embedded(f"sqlite:///{tmp_path}/metrics.sqlite") as app:
        helpers.deploy(app, WORKFLOWS)
        runs = [helpers.start(app, "counted") for _ in range(3)]
        failed = helpers.start(app, "counted_failure")
        for execution_id in runs:
            assert helpers.wait_for(app, execution_id).state == "SUCCESS"
        assert helpers.wait_for(app, failed).state == "ERROR"
        response = TestClient(create_app(app.service)).get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    values = _samples(response.text)
    assert values[("sirocco_executions_started_total", (("workflow", "counted"),))] == 3
    assert values[("sirocco_executions_started_total", (("workflow", "counted_failure"),))] == 1
    finished = "sirocco_executions_finished_total"
    assert values[(finished, (("state", "SUCCESS"), ("workflow", "counted")))] == 3
    assert values[(finished, (("state", "ERROR"), ("workflow", "counted_failure")))] == 1
    assert values[("sirocco_tasks_finished_total", (("state", "SUCCESS"),))] == 6
    assert values[("sirocco_tasks_finished_total", (("state", "ERROR"),))] == 1
    actions = "sirocco_actions_finished_total"
    assert values[(actions, (("action", "std.noop"), ("state", "SUCCESS")))] == 3
    assert values[(actions, (("action", "std.echo"), ("state", "SUCCESS")))] == 3
    assert values[(actions, (("action", "std.fail"), ("state", "ERROR")))] == 1
    assert values[("sirocco_action_duration_seconds_count", (("action", "std.echo"),))] == 3
    assert values[("sirocco_step_duration_seconds_count", ())] >= 4
    assert values[("sirocco_seconds_since_last_step", ())] >= 0
    assert values[("sirocco_timers_due", ())] == 0
    label_names = {label for _, labels in values for label, _ in labels}
    assert label_names <= {"workflow", "state", "action", "kind", "le"}
    assert not any(runs[0] in value for _, labels in values for _, value in labels)


def test_label_values_are_capped() -> None:
    names = metrics.CappedNames(2)
    assert [names(name) for name in ("a", "b", "c", "a")] == ["a", "b", metrics.OTHER, "a"]


def test_roles_without_an_api_serve_metrics_on_their_health_port() -> None:
    import httpx

    from sirocco.cli.health_port import HealthListener

    listener = HealthListener("127.0.0.1", 0, lambda: None)  # type: ignore[arg-type,return-value]
    listener.start()
    try:
        port = listener._server.server_address[1]
        response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=30.0)
    finally:
        listener.stop()
    assert response.status_code == 200
    assert "sirocco_step_duration_seconds_count" in response.text


HOLDING = """
version: '2.0'
holding:
  tasks:
    work:
      action: test.hold
"""


def test_gauges_name_the_executor_running_actions_and_the_pool(
    tmp_path: Path, monkeypatch: object, gate: object
) -> None:
    """While two actions run: the running-actions gauge names the process that holds
    them, the hand-off histogram counted their start, the pool gauge its limit; once
    they ended, nothing is held any more."""
    fresh = metrics.Metrics(max_label_values=100)
    monkeypatch.setattr(metrics, "METRICS", fresh)  # type: ignore[attr-defined]
    with helpers.embedded(f"sqlite:///{tmp_path}/gauges.sqlite") as app:
        fresh.watch(app.parts.database, app.parts.runtime.clock)
        helpers.deploy(app, HOLDING)
        runs = [helpers.start(app, "holding") for _ in range(2)]
        client = TestClient(create_app(app.service))
        holder = app.parts.runtime.name
        running = ("sirocco_running_actions", (("executor", holder),))

        def both_running() -> dict[tuple[str, tuple[tuple[str, str], ...]], float] | None:
            values = _samples(client.get("/metrics").text)
            return values if values.get(running) == 2 else None

        values = helpers.waiting.wait_for(both_running, what="two running actions", interval=0.05)
        assert values[("sirocco_handoff_latency_seconds_count", ())] == 2
        assert values[("sirocco_handoff_latency_seconds_sum", ())] >= 0
        assert values[("sirocco_db_pool_connections", (("state", "limit"),))] == 24
        in_use = values[("sirocco_db_pool_connections", (("state", "in_use"),))]
        idle = values[("sirocco_db_pool_connections", (("state", "idle"),))]
        assert 0 <= in_use <= 24 and in_use + idle >= 1  # the steps opened some
        assert values[("sirocco_outbox_depth", (("kind", "RunAction"),))] == 2
        gate.set()  # type: ignore[attr-defined]
        for execution_id in runs:
            assert helpers.wait_for(app, execution_id).state == "SUCCESS"
        values = _samples(client.get("/metrics").text)
    assert running not in values
    assert values[("sirocco_seconds_since_last_step", ())] >= 0


def test_an_executor_worker_is_named_in_the_gauge_and_times_its_hand_off(
    tmp_path: Path, monkeypatch: object, gate: object
) -> None:
    """Roles apart: the engine leaves the RunAction in the outbox, an executor worker
    (as ``sirocco executor`` runs it) takes it: the gauge names that worker, and the
    hand-off from the row's creation to the start of the run is observed once."""
    from sirocco.clock import utcnow
    from sirocco.executor.worker import ExecutorWorker

    fresh = metrics.Metrics(max_label_values=100)
    monkeypatch.setattr(metrics, "METRICS", fresh)  # type: ignore[attr-defined]
    app = helpers.build(f"sqlite:///{tmp_path}/worker.sqlite")
    app.parts.runtime.attach_executor(None, app.pool.run_inline)
    app.parts.service.attach_executor(None)
    app.parts.runtime.start()
    fresh.watch(app.parts.database, utcnow)
    worker = ExecutorWorker(app.parts.database, app.parts.registry, clock=utcnow)
    try:
        helpers.deploy(app, HOLDING)
        helpers.start(app, "holding")
        helpers.wait_until(
            lambda: (
                _samples(fresh.exposition().decode()).get(
                    ("sirocco_outbox_depth", (("kind", "RunAction"),))
                )
                == 1
            ),
            what="the queued RunAction",
        )
        values = _samples(fresh.exposition().decode())
        assert values[("sirocco_handoff_latency_seconds_count", ())] == 0
        assert not any(name == "sirocco_running_actions" for name, _ in values)
        assert worker.take() == 1
        running = ("sirocco_running_actions", (("executor", worker.name),))

        def observed() -> dict[tuple[str, tuple[tuple[str, str], ...]], float] | None:
            found = _samples(fresh.exposition().decode())
            started = found[("sirocco_handoff_latency_seconds_count", ())] == 1
            return found if started and found.get(running) == 1 else None

        values = helpers.waiting.wait_for(observed, what="the worker's run", interval=0.05)
        assert values[("sirocco_handoff_latency_seconds_sum", ())] >= 0
    finally:
        gate.set()  # type: ignore[attr-defined]
        worker.stop(timeout=5)
        app.close()
