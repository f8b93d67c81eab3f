"""Task policies through the runtime: retry, wait-before, wait-after, timeout, pause-before.

Mistral's delays are whole seconds, so most tests run the runtime on a fake
clock that the test moves (``helpers.run_on_clock``; the timer thread polls
often); one test keeps the real clock to show the real timer thread's waiting.
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from sirocco import testing
from sirocco.runtime import timers
from sirocco.store import tables
from tests.integration import helpers
from tests.waiting import BOUND


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[testing.FakeClock]:
    """A clock the test moves (``helpers.run_on_clock``), and a timer thread that looks at
    the timers table every 20 ms."""
    monkeypatch.setattr(timers, "IDLE_POLL", 0.02)
    yield testing.FakeClock(datetime.now(UTC).replace(tzinfo=None, microsecond=0))


RETRY = """
version: '2.0'
retry_then_succeed:
  input: [key]
  tasks:
    call:
      action: test.flaky key=<% $.key %> failures=2
      retry:
        count: 3
        delay: 2
      publish:
        calls: <% task().result %>
  output:
    calls: <% $.calls %>

retry_exhausted:
  input: [key]
  tasks:
    call:
      action: test.flaky key=<% $.key %> failures=10
      retry: count=2 delay=1
"""


def test_retry_with_delay_until_success(database_url: str, clock: testing.FakeClock) -> None:
    with helpers.embedded(database_url, clock=clock) as app:
        helpers.deploy(app, RETRY)
        execution_id = helpers.start(app, "retry_then_succeed", {"key": uuid.uuid4().hex})
        delayed = helpers.wait_task(app, execution_id, "call", {"DELAYED"})
        assert delayed.state_info == "Delayed by 'retry' policy [delay=2]"
        row = helpers.run_on_clock(app, execution_id, clock)
        assert row.state == "SUCCESS", row.state_info
        assert row.output == {"calls": 3}
        call = helpers.task(app, execution_id, "call")
        attempts = helpers.actions(app, call.id)
        assert [(action.state, action.accepted) for action in attempts] == [
            ("ERROR", False),
            ("ERROR", False),
            ("SUCCESS", True),
        ]
        gaps = [
            (later.created_at - earlier.created_at).total_seconds()
            for earlier, later in itertools.pairwise(attempts)
        ]
        assert all(gap >= 2 for gap in gaps), gaps


def test_retry_exhausted_fails_the_task(database_url: str, clock: testing.FakeClock) -> None:
    with helpers.embedded(database_url, clock=clock) as app:
        helpers.deploy(app, RETRY)
        execution_id = helpers.start(app, "retry_exhausted", {"key": uuid.uuid4().hex})
        row = helpers.run_on_clock(app, execution_id, clock)
        assert row.state == "ERROR"
        call = helpers.task(app, row.id, "call")
        assert call.state == "ERROR"
        assert call.state_info == "call 3 failed"
        assert [action.state for action in helpers.actions(app, call.id)] == ["ERROR"] * 3
        # as in Mistral 23 (read from the oracle), the count stays once no retry remains
        assert call.runtime["retry_task_policy"] == {"retry_no": 2}


WAITS = """
version: '2.0'
waits:
  tasks:
    first:
      action: std.echo output="one"
      wait-before: 2
      wait-after: 3
      on-success: [second]
    second:
      action: std.echo output="two"
      publish:
        done: <% task().result %>
  output:
    done: <% $.done %>
"""


def test_wait_before_and_wait_after(database_url: str, clock: testing.FakeClock) -> None:
    with helpers.embedded(database_url, clock=clock) as app:
        helpers.deploy(app, WAITS)
        execution_id = helpers.start(app, "waits")
        before = helpers.wait_task(app, execution_id, "first", {"DELAYED"})
        assert before.state_info == "Delayed by 'wait-before' policy [delay=2]"
        assert not helpers.actions(app, before.id)
        row = helpers.run_on_clock(app, execution_id, clock)
        assert row.state == "SUCCESS", row.state_info
        assert row.output == {"done": "two"}
        first = helpers.task(app, execution_id, "first")
        second = helpers.task(app, execution_id, "second")
        (first_action,) = helpers.actions(app, first.id)
        assert (first_action.created_at - first.created_at).total_seconds() >= 2
        # wait-after holds the transition: the next task starts 3 s after the action ended
        assert (second.created_at - first_action.updated_at).total_seconds() >= 3


def test_wait_before_on_the_real_clock(database_url: str) -> None:
    text = """
version: '2.0'
waits_once:
  tasks:
    only:
      action: std.noop
      wait-before: 1
"""
    with helpers.embedded(database_url) as app:
        helpers.deploy(app, text)
        started = time.monotonic()
        row = helpers.run(app, "waits_once")
        elapsed = time.monotonic() - started
        assert row.state == "SUCCESS", row.state_info
        assert elapsed >= 1.0
        assert helpers.count_rows(app, tables.timers) == 0


TIMEOUT = """
version: '2.0'
slow:
  tasks:
    nap:
      action: test.hold value="late"
      timeout: 2
      on-error: [after]
    after:
      action: std.echo output="handled"
      publish:
        note: <% task().result %>
  output:
    note: <% $.note %>
"""


def test_timeout_fails_the_task(
    database_url: str, clock: testing.FakeClock, gate: threading.Event
) -> None:
    with helpers.embedded(database_url, clock=clock) as app:
        helpers.deploy(app, TIMEOUT)
        execution_id = helpers.start(app, "slow")
        row = helpers.run_on_clock(app, execution_id, clock)  # the action is held meanwhile
        gate.set()
        assert row.state == "SUCCESS", row.state_info
        assert row.output == {"note": "handled"}
        nap = helpers.task(app, row.id, "nap")
        assert nap.state == "ERROR"
        assert nap.state_info == "Task timed out [timeout(s)=2]."  # the timer: the action is held
        assert len(helpers.wait_for_actions(app, nap.id, {"SUCCESS"})) == 1
        app.parts.runtime.intake.barrier().result(BOUND)
        # the action's late success changes nothing
        assert helpers.task(app, row.id, "nap").state == "ERROR"
        assert helpers.execution(app, row.id).state == "SUCCESS"


PAUSE_BEFORE = """
version: '2.0'
careful:
  tasks:
    prepare:
      action: std.echo output="ready"
      publish:
        status: <% task().result %>
      on-success: [deploy]
    deploy:
      pause-before: true
      action: std.echo output="<% $.status %> and deployed"
      publish:
        status: <% task().result %>
  output:
    status: <% $.status %>
"""


def test_pause_before_then_resume(database_url: str) -> None:
    with helpers.embedded(database_url) as app:
        helpers.deploy(app, PAUSE_BEFORE)
        execution_id = helpers.start(app, "careful")
        paused = helpers.wait_for(app, execution_id, {"PAUSED"})
        assert paused.state == "PAUSED"
        deploy = helpers.task(app, execution_id, "deploy")
        assert deploy.state == "IDLE"
        assert deploy.state_info == "Set by 'pause-before' policy"
        assert not helpers.actions(app, deploy.id)
        app.service.resume_workflow(execution_id)
        row = helpers.wait_for(app, execution_id)
        assert row.state == "SUCCESS", row.state_info
        assert row.output == {"status": "ready and deployed"}
        assert helpers.task_states(app, execution_id) == {"prepare": "SUCCESS", "deploy": "SUCCESS"}
