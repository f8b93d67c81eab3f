"""The engine thread through database outages and bugs: a batch that meets an outage is
tried again (nothing dropped) and reported to ``/ready``; an unexpected error in a batch
does not end the thread."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.integration import helpers
from tests.waiting import BOUND

WORKFLOW = """
version: '2.0'
outage:
  tasks:
    nap:
      action: std.sleep seconds=2
      on-success: say
    say:
      action: std.echo output="done" delay=0.01
      publish:
        said: <% task().result %>
  output:
    said: <% $.said %>
"""


def _make_flaky(monkeypatch: pytest.MonkeyPatch, app: Any) -> threading.Event:
    """While the returned event is set, every write transaction fails as a dead server does
    (the database's, and the engine's steps' on their kept connection)."""
    down = threading.Event()
    for owner in (app.parts.database, app.parts.runtime.stepper.connection):
        monkeypatch.setattr(owner, "transaction", _failing_while(down, owner.transaction))
    return down


def _failing_while(down: threading.Event, original: Any) -> Any:
    @contextmanager
    def transaction() -> Iterator[sa.Connection]:
        if down.is_set():
            raise sa.exc.OperationalError("BEGIN", {}, ConnectionRefusedError("server is down"))
        with original() as connection:
            yield connection

    return transaction


def _reasons(app: Any) -> str:
    return " ".join(app.parts.runtime.health.report().reasons)


def _wait(condition: Any, what: str, bound: float = BOUND) -> None:
    import time

    deadline = time.monotonic() + bound
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def test_a_batch_that_meets_an_outage_waits_for_the_database(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with helpers.embedded(f"sqlite:///{tmp_path}/outage.sqlite") as app:
        helpers.deploy(app, WORKFLOW)
        down = _make_flaky(monkeypatch, app)
        down.set()
        started: dict[str, Any] = {}
        starter = threading.Thread(
            target=lambda: started.setdefault("id", helpers.start(app, "outage"))
        )
        starter.start()
        _wait(lambda: "engine" in _reasons(app), "the engine to report the outage")
        assert starter.is_alive()  # the start waits; it is not refused
        down.clear()
        starter.join(BOUND)
        assert not starter.is_alive(), "the start did not finish after the outage"
        execution_id = started["id"]
        # The action's hand-over or its result meets a second outage: it waits again.
        down.set()
        _wait(lambda: "engine" in _reasons(app), "the result's batch to meet the outage")
        down.clear()
        row = helpers.wait_for(app, execution_id)
        assert (row.state, row.output) == ("SUCCESS", {"said": "done"})


def test_an_unexpected_error_does_not_end_the_engine_thread(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with helpers.embedded(f"sqlite:///{tmp_path}/bug.sqlite") as app:
        helpers.deploy(app, WORKFLOW)
        runtime = app.parts.runtime
        original = runtime.process
        failures: list[int] = []

        def process_with_a_bug(batch: list[Any]) -> None:
            if not failures:
                failures.append(1)
                raise RuntimeError("a bug in the batch")
            original(batch)

        monkeypatch.setattr(runtime, "process", process_with_a_bug)
        runtime.intake.barrier()  # this batch meets the bug (its barrier never resolves)
        _wait(lambda: failures, "the batch with the bug")
        execution_id = helpers.start(app, "outage")
        row = helpers.wait_for(app, execution_id)
        assert row.state == "SUCCESS"
        assert failures == [1]
        assert runtime.health.report().ready


def test_a_start_whose_recovery_meets_an_outage_waits_for_the_database(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A role restarted during a database outage got past building its parts, then met the
    outage in the recovery its start runs, and ended with 'internal error: OperationalError'
    (found by the chaos test); now the start waits the outage out and the engine runs."""
    from sirocco.runtime import loop

    with helpers.embedded(f"sqlite:///{tmp_path}/recover.sqlite", start=False) as app:
        helpers.deploy(app, WORKFLOW)
        original = loop.recovery.recover
        met: list[str] = []

        def recover_during_an_outage(*args: Any, **kwargs: Any) -> None:
            if len(met) < 2:
                met.append(_reasons(app))
                raise sa.exc.OperationalError("SELECT", {}, ConnectionRefusedError("down"))
            original(*args, **kwargs)

        monkeypatch.setattr(loop.recovery, "recover", recover_during_an_outage)
        app.parts.runtime.start()
        # The second try saw the first one's failure reported, then the third one passed.
        assert len(met) == 2 and "recovery" in met[1]
        assert "recovery" not in _reasons(app)
        row = helpers.wait_for(app, helpers.start(app, "outage"))
        assert row.state == "SUCCESS"
