"""Expressions that would hold the engine fail their task, naming the limit; others go on."""

from __future__ import annotations

import pytest

from sirocco.limits import Limits
from tests.integration import helpers

WORKFLOWS = """
version: '2.0'
huge_list:
  tasks:
    eat:
      action: std.echo output=<% len(range(1000000000).toList()) %>
huge_string:
  tasks:
    eat:
      action: std.echo
      input:
        output: "{{ 'x' * 1000000000 }}"
doubling:
  tasks:
    eat:
      action: std.echo output=<% range(100).reduce($1 + $1, 'ab') %>
endless:
  tasks:
    eat:
      action: std.echo output=<% range(100000).select(range(100000).sum()).sum() %>
endless_jinja:
  tasks:
    eat:
      action: std.echo
      input:
        output: >-
          {% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}{{ 1 }}
small:
  input:
    - n
  tasks:
    hello:
      action: std.echo output=<% range($.n).sum() %>
      publish:
        total: <% task().result %>
  output:
    total: <% $.total %>
"""

LIMITS = Limits(expression_max_items=10_000, expression_max_bytes=100_000, expression_timeout=0.2)

CASES = [
    ("huge_list", "the limit of 10000 items per collection (SIROCCO_EXPRESSION_MAX_ITEMS)"),
    ("huge_string", "the limit of 100000 bytes per value (SIROCCO_EXPRESSION_MAX_BYTES)"),
    ("doubling", "the limit of 100000 bytes per value (SIROCCO_EXPRESSION_MAX_BYTES)"),
    ("endless", "the evaluation time limit of 0.2 s per expression (SIROCCO_EXPRESSION_TIMEOUT)"),
    (
        "endless_jinja",
        "the evaluation time limit of 0.2 s per expression (SIROCCO_EXPRESSION_TIMEOUT)",
    ),
]


@pytest.mark.parametrize(("workflow", "limit"), CASES, ids=[case[0] for case in CASES])
def test_a_greedy_expression_fails_its_task_and_others_go_on(
    sqlite_url: str, workflow: str, limit: str
) -> None:
    with helpers.embedded(sqlite_url, limits=LIMITS) as app:
        helpers.deploy(app, WORKFLOWS)
        greedy = helpers.start(app, workflow)
        others = [helpers.start(app, "small", {"n": n}) for n in range(1, 6)]
        for n, execution_id in enumerate(others, start=1):
            row = helpers.wait_for(app, execution_id)
            assert row.state == "SUCCESS", row.state_info
            assert row.output == {"total": sum(range(n))}
        row = helpers.wait_for(app, greedy)
        assert row.state == "ERROR"
        task = helpers.task(app, greedy, "eat")
        assert task.state == "ERROR"
        assert f"Expression evaluation exceeded {limit}" in task.state_info
        # The service still serves after the failure too.
        after = helpers.run(app, "small", {"n": 3})
        assert after.state == "SUCCESS", after.state_info


def test_the_expressions_of_one_step_share_a_time_limit(sqlite_url: str) -> None:
    limits = Limits(expression_timeout=-1, step_expression_timeout=0.2)
    with helpers.embedded(sqlite_url, limits=limits) as app:
        helpers.deploy(app, WORKFLOWS)
        greedy = helpers.start(app, "endless")
        after = helpers.run(app, "small", {"n": 3})
        assert after.state == "SUCCESS", after.state_info
        assert helpers.wait_for(app, greedy).state == "ERROR"
        assert (
            "Expression evaluation exceeded the evaluation time limit of 0.2 s per engine step "
            "(SIROCCO_STEP_EXPRESSION_TIMEOUT)" in helpers.task(app, greedy, "eat").state_info
        )
