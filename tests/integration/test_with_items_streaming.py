"""with-items over more items than one step starts, through the runtime (SQLite, PostgreSQL)."""

from __future__ import annotations

import pytest

from sirocco.engine import with_items
from tests.integration import helpers

ITEMS = """
version: '2.0'
many:
  input:
    - n
    - concurrency: 0
  output:
    results: <% $.results %>
  tasks:
    each:
      with-items: x in <% range($.n) %>
      concurrency: <% $.concurrency %>
      action: std.echo output=<% $.x * 2 %>
      publish:
        results: <% task().result %>
"""


@pytest.mark.parametrize("concurrency", [0, 150])
def test_items_of_several_steps_end_with_every_result_in_order(
    database_url: str, concurrency: int
) -> None:
    count = 2 * with_items.ITEMS_PER_STEP + 50
    with helpers.embedded(database_url) as app:
        helpers.deploy(app, ITEMS)
        execution_id = helpers.start(app, "many", {"n": count, "concurrency": concurrency})
        row = helpers.wait_for(app, execution_id)

        assert row.state == "SUCCESS", row.state_info
        assert row.output == {"results": [2 * x for x in range(count)]}
        [task] = helpers.tasks(app, execution_id)
        assert [action.index for action in helpers.actions(app, task.id)] == list(range(count))
