"""with-items over more items than one step starts, through the runtime (SQLite, PostgreSQL)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from sirocco.engine import evaluation, with_items
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


VARIED = """
version: '2.0'
varied:
  input:
    - values
  output:
    results: <% $.results %>
  tasks:
    each:
      with-items: x in <% $.values %>
      action: std.echo output=<% $.x %>
      publish:
        results: <% task().result %>
"""


def _many(database_url: str, count: int) -> Any:
    """The execution row of ``many`` over ``count`` items, run to its end embedded."""
    with helpers.embedded(database_url) as app:
        helpers.deploy(app, ITEMS)
        return helpers.wait_for(app, helpers.start(app, "many", {"n": count}))


def test_results_gathered_over_several_steps_keep_their_values_and_order(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(with_items, "GATHER_PER_STEP", 7)
    shapes: list[object] = [None, 'text, with "quotes"', {"k": [1, None]}, [], {}, 1.5, True]
    values = [shapes[index % len(shapes)] for index in range(30)]
    with helpers.embedded(database_url) as app:
        helpers.deploy(app, VARIED)
        execution_id = helpers.start(app, "varied", {"values": values})
        row = helpers.wait_for(app, execution_id)

        assert row.state == "SUCCESS", row.state_info
        assert row.output == {"results": values}
        [task] = helpers.tasks(app, execution_id)
        # Every chunk read (the last from 28) in steps before the one that completes.
        assert task.runtime["with_items"]["gathered"] == 30
        assert task.result == values  # written from the chunks' stored texts, joined


def test_the_list_is_evaluated_once_over_all_the_steps(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    evaluated: list[object] = []
    original = evaluation.evaluate

    def counting(draft: Any, value: Any, data: Any, task: Any) -> Any:
        if value == "<% range($.n) %>":
            evaluated.append(value)
        return original(draft, value, data, task)

    monkeypatch.setattr(evaluation, "evaluate", counting)
    count = 3 * with_items.ITEMS_PER_STEP
    row = _many(database_url, count)
    assert row.state == "SUCCESS", row.state_info
    assert len(row.output["results"]) == count
    # Once in the start's step; the snapshot kept for the next steps holds it.
    assert len(evaluated) == 1


def test_the_list_is_let_go_once_every_item_has_started(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    held: list[tuple[int, bool]] = []
    original = with_items._start_more

    def watching(draft: Any, task: Any) -> None:
        original(draft, task)
        counters = draft.current(task).runtime.with_items
        held.append((counters.next, task.id in draft.snapshot.item_values))

    monkeypatch.setattr(with_items, "_start_more", watching)
    count = 3 * with_items.ITEMS_PER_STEP
    row = _many(database_url, count)
    assert row.state == "SUCCESS", row.state_info
    assert row.output == {"results": [2 * x for x in range(count)]}
    # Kept while items are left to start; not in the steps that follow the last chunk
    # (the last gather step would free a million elements otherwise).
    assert held == [(100, True), (200, True), (300, False)]


ZIPPED = """
version: '2.0'
zipped:
  input:
    - n
  output:
    results: <% $.results %>
  tasks:
    each:
      with-items:
        - x in <% range($.n) %>
        - y in <% range($.n).select($ * 10) %>
      concurrency: 150
      action: std.echo output=<% $.x + $.y %>
      publish:
        results: <% task().result %>
"""


def test_zipped_lists_over_several_steps_pair_their_items_by_index(database_url: str) -> None:
    count = 2 * with_items.ITEMS_PER_STEP + 50
    with helpers.embedded(database_url) as app:
        helpers.deploy(app, ZIPPED)
        execution_id = helpers.start(app, "zipped", {"n": count})
        row = helpers.wait_for(app, execution_id)

        assert row.state == "SUCCESS", row.state_info
        assert row.output == {"results": [11 * x for x in range(count)]}
        [task] = helpers.tasks(app, execution_id)
        actions = helpers.actions(app, task.id)
        assert sorted(action.index for action in actions) == list(range(count))
        assert all(action.input == {"output": 11 * action.index} for action in actions)


RETRIED = """
version: '2.0'
retried:
  input:
    - n
    - key
  output:
    results: <% $.results %>
  tasks:
    each:
      with-items: x in <% range($.n) %>
      concurrency: 150
      action: test.flaky
      input:
        key: <% $.key %>-<% $.x %>
        failures: <% switch($.x in [7, 240] => 1, true => 0) %>
      retry:
        count: 1
        delay: 0
      publish:
        results: <% task().result %>
"""


def test_a_retry_over_several_steps_runs_every_item_again(database_url: str) -> None:
    count = 2 * with_items.ITEMS_PER_STEP + 50
    with helpers.embedded(database_url) as app:
        helpers.deploy(app, RETRIED)
        key = uuid.uuid4().hex
        execution_id = helpers.start(app, "retried", {"n": count, "key": key})
        row = helpers.wait_for(app, execution_id)

        assert row.state == "SUCCESS", row.state_info
        # As in Mistral, a task's retry runs all its items again: each was called twice.
        assert row.output == {"results": [2] * count}
        [task] = helpers.tasks(app, execution_id)
        actions = helpers.actions(app, task.id)
        assert len(actions) == 2 * count
        assert sorted(action.index for action in actions if action.accepted) == list(range(count))
