"""std.javascript that never ends or eats memory fails its task, naming the limit; the
executor's threads are free again and the others go on."""

from __future__ import annotations

import pytest

from sirocco.limits import Limits
from tests.integration import helpers

WORKFLOWS = """
version: '2.0'
endless:
  tasks:
    spin:
      action: std.javascript script="while (true) {}"
hungry:
  tasks:
    spin:
      action: std.javascript
      input:
        script: "var kept = []; while (true) { kept.push(new Array(1000000).fill(1)); }"
sums:
  input:
    - n
  tasks:
    add:
      action: std.javascript
      input:
        context: <% $.n %>
        script: "return $ + 1"
      publish:
        total: <% task().result %>
  output:
    total: <% $.total %>
"""

CASES = [
    (
        "endless",
        Limits(javascript_timeout=0.5),
        "JavaScript ran longer than the limit of 0.5 s (SIROCCO_JAVASCRIPT_TIMEOUT)",
    ),
    (
        "hungry",
        # Time enough to reach the memory limit on a busy machine.
        Limits(javascript_timeout=300, javascript_max_memory_mb=32),
        "JavaScript needed more than the limit of 32 MiB of memory "
        "(SIROCCO_JAVASCRIPT_MAX_MEMORY_MB)",
    ),
]


@pytest.mark.parametrize(("workflow", "limits", "limit"), CASES, ids=[case[0] for case in CASES])
def test_javascript_over_its_limits_fails_the_task(
    sqlite_url: str, workflow: str, limits: Limits, limit: str
) -> None:
    with helpers.embedded(sqlite_url, limits=limits) as app:
        helpers.deploy(app, WORKFLOWS)
        greedy = [helpers.start(app, workflow) for _ in range(3)]
        others = [helpers.start(app, "sums", {"n": n}) for n in range(3)]
        for n, execution_id in enumerate(others):
            row = helpers.wait_for(app, execution_id)
            assert row.state == "SUCCESS", row.state_info
            assert row.output == {"total": n + 1}
        for execution_id in greedy:
            row = helpers.wait_for(app, execution_id)
            assert row.state == "ERROR"
            task = helpers.task(app, execution_id, "spin")
            assert limit in task.state_info
