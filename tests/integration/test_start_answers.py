"""A start is answered once its row is committed; also when the engine stops first."""

from __future__ import annotations

from pathlib import Path

import pytest

from sirocco import errors
from tests.integration import helpers
from tests.waiting import BOUND

ONE_TASK = """
version: '2.0'
one_task:
  tasks:
    only:
      action: std.async_noop
"""


def test_a_start_the_stopped_engine_never_applied_is_refused(tmp_path: Path) -> None:
    app = helpers.build(f"sqlite:///{tmp_path}/stopped.sqlite")
    try:
        helpers.deploy(app, ONE_TASK)
        # The engine thread never runs: the start stays queued until the runtime stops.
        waiting = app.service.request_start(workflow="one_task")
        app.parts.runtime.stop()
        with pytest.raises(errors.UnavailableError, match="engine stopped before the start"):
            waiting.result(BOUND)
    finally:
        app.close()


def test_the_start_answers_with_the_committed_execution(database_url: str) -> None:
    with helpers.embedded(database_url) as app:
        helpers.deploy(app, ONE_TASK)
        execution_id = app.service.request_start(workflow="one_task").result(BOUND)
        row = helpers.execution(app, execution_id)
        assert row.state == "RUNNING"  # committed; its async action waits for a result
