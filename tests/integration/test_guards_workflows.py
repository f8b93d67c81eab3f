"""with-items caps, sub-workflow depth and the cancel of a recursion: refused or failed
with the limit named, and the service goes on serving the others."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from sirocco import testing
from sirocco.limits import Limits
from sirocco.store import lookups, tables
from tests.integration import helpers

WORKFLOWS = """
version: '2.0'
many_items:
  tasks:
    each:
      with-items: x in <% range(1000) %>
      action: std.echo output=<% $.x %>
rec:
  input:
    - level: 0
  tasks:
    deeper:
      workflow: rec
      input:
        level: <% $.level + 1 %>
small:
  input:
    - n
  tasks:
    hello:
      with-items: x in <% range($.n) %>
      action: std.echo output=<% $.x %>
      publish:
        total: <% task().result.sum() %>
  output:
    total: <% $.total %>
"""


def _serves_others(app: helpers.Embedded) -> None:
    started = [helpers.start(app, "small", {"n": n}) for n in range(1, 6)]
    for n, execution_id in enumerate(started, start=1):
        row = helpers.wait_for(app, execution_id)
        assert row.state == "SUCCESS", row.state_info
        assert row.output == {"total": sum(range(n))}


def test_with_items_over_the_cap_fails_its_task(sqlite_url: str) -> None:
    with helpers.embedded(sqlite_url, limits=Limits(with_items_max_items=100)) as app:
        helpers.deploy(app, WORKFLOWS)
        greedy = helpers.start(app, "many_items")
        _serves_others(app)
        row = helpers.wait_for(app, greedy)
        assert row.state == "ERROR"
        task = helpers.task(app, greedy, "each")
        assert task.state == "ERROR"
        assert (
            "with-items has 1000 items, more than the limit of 100 items per task "
            "(SIROCCO_WITH_ITEMS_MAX_ITEMS)" in task.state_info
        )
        assert helpers.actions(app, task.id) == []  # no item ran


def _executions(app: helpers.Embedded) -> list[sa.Row[tuple[str, str, datetime]]]:
    table = tables.workflow_executions
    with app.parts.database.read() as connection:
        return list(
            connection.execute(sa.select(table.c.id, table.c.state, table.c.created_at)).all()
        )


def test_recursion_stops_at_the_depth_limit(sqlite_url: str) -> None:
    with helpers.embedded(sqlite_url, limits=Limits(subworkflow_max_depth=5)) as app:
        helpers.deploy(app, WORKFLOWS)
        root = helpers.start(app, "rec")
        _serves_others(app)
        row = helpers.wait_for(app, root)
        assert row.state == "ERROR"
        recursion = [found for found in _executions(app) if found.id != root]
        chain = [found for found in recursion if found.state == "ERROR"]
        # The root and 5 levels below it; the sixth level is refused, failing the fifth.
        assert len(chain) == 5, chain
        deepest = max(
            (helpers.execution(app, found.id) for found in chain),
            key=lambda execution: int(execution.input["level"]),
        )
        assert deepest.input == {"level": 5}
        task = helpers.task(app, deepest.id, "deeper")
        assert (
            "Sub-workflow rec would be nested 6 levels below the root execution, more than "
            "the limit of 5 (SIROCCO_SUBWORKFLOW_MAX_DEPTH)" in task.state_info
        )


def _running(app: helpers.Embedded) -> list[str]:
    return [found.id for found in _executions(app) if found.state == "RUNNING"]


class _TickingClock(testing.FakeClock):
    """Moves one microsecond at each reading: the order of the stored times is the order
    in which the engine did things."""

    def __call__(self) -> datetime:
        return self.advance(0.000001)


def test_a_cancelled_recursion_stops_at_once_and_after_a_restart(sqlite_url: str) -> None:
    clock = _TickingClock()
    unlimited = Limits(subworkflow_max_depth=-1)
    app = helpers.build(sqlite_url, clock=clock, limits=unlimited)
    app.parts.runtime.start()
    try:
        helpers.deploy(app, WORKFLOWS)
        root = helpers.start(app, "rec")
        helpers.wait_until(lambda: len(_executions(app)) >= 30)
        app.service.stop_workflow(root, "CANCELLED")
    finally:
        app.close()  # what was queued and not applied is left in the outbox
    cancelled = helpers.execution(app, root)
    assert cancelled.state == "CANCELLED"
    with helpers.embedded(sqlite_url, clock=clock, limits=unlimited) as again:
        _serves_others(again)
        helpers.wait_until(lambda: not _running(again))
        recursion = [
            row
            for row in _executions(again)
            if helpers.execution(again, row.id).workflow_name == "rec"
        ]
        assert len(recursion) >= 30
        assert all(row.state == "CANCELLED" for row in recursion), recursion
        late = [row for row in recursion if row.created_at > cancelled.updated_at]
        assert late == [], "sub-workflows started after the cancel"


def test_cancelling_inside_a_recursion_stops_its_whole_branch_and_after_a_restart(
    sqlite_url: str,
) -> None:
    """A cancel of an execution that is not the root reaches every execution below it in
    one batch (not one level per engine round), and nothing below it starts afterwards,
    also when what was queued is picked up again after a restart."""
    clock = _TickingClock()
    unlimited = Limits(subworkflow_max_depth=-1)
    app = helpers.build(sqlite_url, clock=clock, limits=unlimited)
    app.parts.runtime.start()
    try:
        helpers.deploy(app, WORKFLOWS)
        root = helpers.start(app, "rec")
        helpers.wait_until(lambda: len(_executions(app)) >= 30)
        by_level = {
            int(helpers.execution(app, row.id).input["level"]): row.id
            for row in _executions(app)
            if row.id != root
        }
        middle = by_level[10]
        with app.parts.database.read() as connection:
            below = lookups.unfinished_below(connection, middle, root)
        # the whole branch, found at once: every level under 10 that had not ended
        levels = sorted(int(helpers.execution(app, found).input["level"]) for found in below)
        assert levels and levels[0] == 11 and levels == list(range(11, 11 + len(levels)))
        app.service.stop_workflow(middle, "CANCELLED")
    finally:
        app.close()
    cancelled = helpers.execution(app, middle)
    assert cancelled.state == "CANCELLED"
    with helpers.embedded(sqlite_url, clock=clock, limits=unlimited) as again:
        _serves_others(again)
        helpers.wait_until(lambda: not _running(again))
        branch = [
            row
            for row in _executions(again)
            if helpers.execution(again, row.id).workflow_name == "rec"
            and int(helpers.execution(again, row.id).input.get("level", 0)) > 10
        ]
        assert len(branch) >= 19
        assert all(row.state == "CANCELLED" for row in branch), branch
        late = [row for row in branch if row.created_at > cancelled.updated_at]
        assert late == [], "sub-workflows started below the cancelled one after the cancel"
