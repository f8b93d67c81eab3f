"""Real workflows through the embedded runtime on SQLite and PostgreSQL: data flow and errors."""

from __future__ import annotations

import pytest

from sirocco.store import executions, tables
from tests.integration import helpers
from tests.waiting import BOUND

SEQUENCE = """
version: '2.0'
sequence:
  input:
    - name
    - greeting: Hello
  vars:
    punctuation: "!"
  tasks:
    first:
      action: std.echo output="<% $.greeting %>, <% $.name %>"
      publish:
        sentence: <% task().result %>
      on-success: [second]
    second:
      action: std.echo
      input:
        output: "<% $.sentence %><% $.punctuation %>"
      publish:
        shout: <% task().result.toUpper() %>
        length: <% len(task().result) %>
  output:
    sentence: <% $.sentence %>
    shout: <% $.shout %>
    length: <% $.length %>
"""


def test_sequence_publishes_and_outputs(database_url: str) -> None:
    with helpers.embedded(database_url) as app:
        helpers.deploy(app, SEQUENCE)
        row = helpers.run(app, "sequence", {"name": "Ada"})
        assert row.state == "SUCCESS", row.state_info
        assert row.output == {"sentence": "Hello, Ada", "shout": "HELLO, ADA!", "length": 11}
        assert row.input == {"name": "Ada", "greeting": "Hello"}
        tasks = helpers.tasks(app, row.id)
        assert [(task.name, task.state) for task in tasks] == [
            ("first", "SUCCESS"),
            ("second", "SUCCESS"),
        ]
        assert tasks[0].published == {"sentence": "Hello, Ada"}
        assert tasks[1].published == {"shout": "HELLO, ADA!", "length": 11}
        for task_row in tasks:
            actions = helpers.actions(app, task_row.id)
            assert [(action.name, action.state, action.accepted) for action in actions] == [
                ("std.echo", "SUCCESS", True)
            ]
        assert helpers.actions(app, tasks[1].id)[0].input == {"output": "Hello, Ada!"}
        assert helpers.actions(app, tasks[1].id)[0].output == "Hello, Ada!"


ERRORS = """
version: '2.0'
handled:
  tasks:
    broken:
      action: std.fail error_data="disk full"
      publish-on-error:
        reason: <% task().result %>
      on-error: [recover]
    recover:
      action: std.echo output="recovered from <% $.reason %>"
      publish:
        note: <% task().result %>
  output:
    note: <% $.note %>

unhandled:
  tasks:
    broken:
      action: std.fail
      on-complete: [after]
    after:
      action: std.noop
  output-on-error:
    failed: yes
"""


def test_error_handled_by_on_error(database_url: str) -> None:
    with helpers.embedded(database_url) as app:
        helpers.deploy(app, ERRORS)
        row = helpers.run(app, "handled")
        assert row.state == "SUCCESS", row.state_info
        assert row.output == {"note": "recovered from disk full"}
        broken = helpers.task(app, row.id, "broken")
        assert broken.state == "ERROR"
        assert broken.error_handled is True
        assert broken.published == {"reason": "disk full"}
        assert [action.state for action in helpers.actions(app, broken.id)] == ["ERROR"]


def test_error_unhandled_fails_the_workflow(database_url: str) -> None:
    with helpers.embedded(database_url) as app:
        helpers.deploy(app, ERRORS)
        row = helpers.run(app, "unhandled")
        assert row.state == "ERROR"
        assert row.state_info.startswith("Failure caused by error in tasks: broken")
        assert row.output["failed"] is True
        assert row.output["result"].startswith("Failure caused by error in tasks: broken")
        # on-complete still ran, but does not handle the error
        assert helpers.task_states(app, row.id) == {"broken": "ERROR", "after": "SUCCESS"}
        assert helpers.task(app, row.id, "broken").error_handled is False


JOIN = """
version: '2.0'
fan_in:
  tasks:
    start:
      action: std.noop
      on-success: [left, right, middle]
    left:
      action: std.echo output="L"
      publish: {left: <% task().result %>}
      on-success: [gather]
    middle:
      action: test.nap seconds="0.05" value="M"
      publish: {middle: <% task().result %>}
      on-success: [gather]
    right:
      action: std.echo output="R"
      publish: {right: <% task().result %>}
      on-success: [gather]
    gather:
      join: all
      action: std.echo output="<% $.left %><% $.middle %><% $.right %>"
      publish: {joined: <% task().result %>}
  output:
    joined: <% $.joined %>
"""


def test_join_all_waits_for_every_branch(database_url: str) -> None:
    with helpers.embedded(database_url) as app:
        helpers.deploy(app, JOIN)
        row = helpers.run(app, "fan_in")
        assert row.state == "SUCCESS", row.state_info
        assert row.output == {"joined": "LMR"}
        names = [task.name for task in helpers.tasks(app, row.id)]
        assert sorted(names) == ["gather", "left", "middle", "right", "start"]
        assert names.count("gather") == 1
        gather = helpers.task(app, row.id, "gather")
        assert len(helpers.actions(app, gather.id)) == 1


WITH_ITEMS = """
version: '2.0'
squares:
  input: [numbers]
  tasks:
    square:
      with-items: number in <% $.numbers %>
      concurrency: 2
      action: std.echo output=<% $.number * $.number %>
      publish:
        squares: <% task().result %>
    slow:
      with-items: [x in <% $.numbers %>, y in <% $.numbers.reverse() %>]
      concurrency: 2
      action: test.nap seconds="0.02"
      publish:
        pairs: <% task().result.len() %>
  output:
    squares: <% $.squares %>
    pairs: <% $.pairs %>
"""


def test_with_items_with_concurrency(database_url: str) -> None:
    with helpers.embedded(database_url) as app:
        helpers.deploy(app, WITH_ITEMS)
        row = helpers.run(app, "squares", {"numbers": [1, 2, 3, 4, 5]})
        assert row.state == "SUCCESS", row.state_info
        assert row.output == {"squares": [1, 4, 9, 16, 25], "pairs": 5}
        square = helpers.task(app, row.id, "square")
        actions = helpers.actions(app, square.id)
        assert [action.index for action in actions] == [0, 1, 2, 3, 4]
        assert [action.output for action in actions] == [n * n for n in range(1, 6)]
        assert square.runtime["with_items"]["count"] == 5
        assert square.runtime["with_items"]["succeeded"] == 5
        slow = helpers.task(app, row.id, "slow")
        slow_actions = helpers.actions(app, slow.id)
        assert len(slow_actions) == 5
        # concurrency 2: never more than two items running at once
        starts = sorted((action.created_at, 1) for action in slow_actions)
        ends = sorted((action.updated_at, -1) for action in slow_actions)
        running = peak = 0
        for _, change in sorted(starts + ends, key=lambda item: (item[0], item[1])):
            running += change
            peak = max(peak, running)
        assert peak <= 2


def test_with_items_empty_list_succeeds_with_empty_result(database_url: str) -> None:
    with helpers.embedded(database_url) as app:
        helpers.deploy(app, WITH_ITEMS)
        row = helpers.run(app, "squares", {"numbers": []})
        assert row.state == "SUCCESS", row.state_info
        assert row.output == {"squares": [], "pairs": 0}


MANY_ITEMS = """
version: '2.0'
many_items:
  input: [numbers]
  tasks:
    first:
      with-items: number in <% $.numbers %>
      action: std.echo output=<% $.number * 2 %>
      publish:
        doubled: <% task().result %>
      on-success: [again]
    again:
      with-items: number in <% $.doubled %>
      action: std.echo output=<% $.number + 1 %>
      publish:
        plus_one: <% task().result %>
  output:
    doubled: <% $.doubled %>
    plus_one: <% $.plus_one %>
"""


def test_with_items_larger_than_a_write_chunk_stores_every_row(database_url: str) -> None:
    # More items than two executemany chunks: ``first`` starts with the workflow (its
    # action rows are written RUNNING, its results come back through as many outbox
    # rows); ``again`` is started and run inside one step (its rows written once, done).
    numbers = list(range(2 * executions.CHUNK_ROWS + 1))
    with helpers.embedded(database_url) as app:
        helpers.deploy(app, MANY_ITEMS)
        row = helpers.run(app, "many_items", {"numbers": numbers})
        assert row.state == "SUCCESS", row.state_info
        assert row.output == {
            "doubled": [n * 2 for n in numbers],
            "plus_one": [n * 2 + 1 for n in numbers],
        }
        for name, expected in (("first", row.output["doubled"]), ("again", row.output["plus_one"])):
            actions = helpers.actions(app, helpers.task(app, row.id, name).id)
            assert [action.index for action in actions] == numbers
            assert [action.output for action in actions] == expected
            assert {(action.state, action.accepted) for action in actions} == {("SUCCESS", True)}
        assert helpers.count_rows(app, tables.outbox) == 0


NESTED = """
version: '2.0'
parent:
  input: [value]
  tasks:
    call:
      workflow: child
      input:
        value: <% $.value %>
      publish:
        doubled: <% task().result.doubled %>
      on-error: [record]
    record:
      action: std.echo output="child failed"
      publish:
        doubled: none
  output:
    doubled: <% $.doubled %>

child:
  input: [value]
  tasks:
    check:
      action: std.echo output=<% $.value %>
      on-success:
        - explode: <% $.value < 0 %>
        - double: <% $.value >= 0 %>
    double:
      action: std.echo output=<% $.value * 2 %>
      publish:
        doubled: <% task().result %>
    explode:
      action: std.fail
  output:
    doubled: <% $.doubled %>
"""


def test_nested_workflow_success(database_url: str) -> None:
    with helpers.embedded(database_url) as app:
        helpers.deploy(app, NESTED)
        row = helpers.run(app, "parent", {"value": 21})
        assert row.state == "SUCCESS", row.state_info
        assert row.output == {"doubled": 42}
        call = helpers.task(app, row.id, "call")
        children = helpers.children(app, call.id)
        assert len(children) == 1
        child = children[0]
        assert child.workflow_name == "child"
        assert child.state == "SUCCESS"
        assert child.output == {"doubled": 42}
        assert child.root_execution_id == row.id
        assert helpers.task_states(app, child.id) == {"check": "SUCCESS", "double": "SUCCESS"}


def test_nested_workflow_failure_reaches_the_parent(database_url: str) -> None:
    with helpers.embedded(database_url) as app:
        helpers.deploy(app, NESTED)
        row = helpers.run(app, "parent", {"value": -1})
        assert row.state == "SUCCESS", row.state_info
        assert row.output == {"doubled": "none"}
        call = helpers.task(app, row.id, "call")
        assert call.state == "ERROR"
        assert call.error_handled is True
        child = helpers.children(app, call.id)[0]
        assert child.state == "ERROR"
        assert "explode" in child.state_info
        assert helpers.task_states(app, child.id) == {"check": "SUCCESS", "explode": "ERROR"}
        assert "explode" in call.state_info


def test_nested_workflow_that_does_not_exist_fails_the_task(database_url: str) -> None:
    text = """
version: '2.0'
orphan:
  tasks:
    call:
      workflow: nowhere_to_be_found
"""
    with helpers.embedded(database_url) as app:
        helpers.deploy(app, text)
        row = helpers.run(app, "orphan")
        assert row.state == "ERROR"
        call = helpers.task(app, row.id, "call")
        assert call.state == "ERROR"
        assert "nowhere_to_be_found" in call.state_info
        assert helpers.children(app, call.id) == []


REVERSE = """
version: '2.0'
build:
  type: reverse
  tasks:
    fetch:
      action: std.echo output="sources"
      publish: {sources: <% task().result %>}
    compile:
      action: std.echo output="binary from <% $.sources %>"
      publish: {binary: <% task().result %>}
      requires: [fetch]
    docs:
      action: std.echo output="manual"
      publish: {manual: <% task().result %>}
      requires: [fetch]
    package:
      action: std.echo output="<% $.binary %> + <% $.manual %>"
      publish: {package: <% task().result %>}
      requires: [compile, docs]
"""


def test_reverse_workflow_runs_what_the_target_requires(database_url: str) -> None:
    with helpers.embedded(database_url) as app:
        helpers.deploy(app, REVERSE)
        row = helpers.run(app, "build", task_name="compile")
        assert row.state == "SUCCESS", row.state_info
        assert helpers.task_states(app, row.id) == {"fetch": "SUCCESS", "compile": "SUCCESS"}
        assert row.output["binary"] == "binary from sources"
        full = helpers.run(app, "build", task_name="package")
        assert full.state == "SUCCESS", full.state_info
        names = [task.name for task in helpers.tasks(app, full.id)]
        assert names[0] == "fetch" and names[-1] == "package"
        assert sorted(names) == ["compile", "docs", "fetch", "package"]
        assert full.output["package"] == "binary from sources + manual"


ADHOC = """
version: '2.0'
greet:
  base: std.echo
  base-input:
    output:
      text: "<% $.greeting %>, <% $.name %>!"
  input:
    - name
    - greeting: Hi
  output:
    loud: <% $.text.toUpper() %>
shout:
  base: std.echo
  base-input:
    output: "<% $.word %>"
  input: [word]
  output: <% $.toUpper() %>
---
version: '2.0'
uses_adhoc:
  tasks:
    hello:
      action: greet name="Bob"
      publish:
        said: <% task().result.loud %>
  output:
    said: <% $.said %>
uses_scalar_adhoc:
  tasks:
    hello:
      action: shout word="hey"
      publish:
        said: <% task().result %>
  output:
    said: <% $.said %>
"""


def test_adhoc_action(database_url: str) -> None:
    actions_text, workflow_text = ADHOC.split("---\n")
    with helpers.embedded(database_url) as app:
        helpers.deploy(app, actions_text)
        helpers.deploy(app, workflow_text)
        row = helpers.run(app, "uses_adhoc")
        assert row.state == "SUCCESS", row.state_info
        assert row.output == {"said": "HI, BOB!"}
        hello = helpers.task(app, row.id, "hello")
        (action,) = helpers.actions(app, hello.id)
        assert action.name == "greet"
        assert action.state == "SUCCESS"
        assert action.input == {"name": "Bob", "greeting": "Hi"}


def test_adhoc_action_output_of_a_scalar_result(database_url: str) -> None:
    actions_text, workflow_text = ADHOC.split("---\n")
    with helpers.embedded(database_url) as app:
        helpers.deploy(app, actions_text)
        helpers.deploy(app, workflow_text)
        row = helpers.run(app, "uses_scalar_adhoc")
        assert row.state == "SUCCESS", row.state_info
        assert row.output == {"said": "HEY"}


ENV = """
version: '2.0'
uses_env:
  tasks:
    read:
      action: std.echo output="<% env().region %>/<% env().tier %>"
      publish:
        where: <% task().result %>
  output:
    where: <% $.where %>
"""


def test_env_given_as_a_dict(database_url: str) -> None:
    with helpers.embedded(database_url) as app:
        helpers.deploy(app, ENV)
        row = helpers.run(app, "uses_env", env={"region": "eu", "tier": "gold"})
        assert row.state == "SUCCESS", row.state_info
        assert row.output == {"where": "eu/gold"}
        assert row.params["env"] == {"region": "eu", "tier": "gold"}


def test_env_named_environment(database_url: str) -> None:
    from datetime import datetime

    from sirocco.store import definitions

    with helpers.embedded(database_url) as app:
        helpers.deploy(app, ENV)
        with app.parts.database.transaction() as connection:
            definitions.create_environment(
                connection,
                name="production",
                description=None,
                variables={"region": "us", "tier": "silver"},
                now=datetime(2026, 1, 1),
            )
        row = helpers.run(app, "uses_env", env="production")
        assert row.state == "SUCCESS", row.state_info
        assert row.output == {"where": "us/silver"}


def test_many_executions_at_once(database_url: str) -> None:
    import threading

    with helpers.embedded(database_url) as app:
        helpers.deploy(app, SEQUENCE)
        started: dict[int, str] = {}

        def start(number: int) -> None:
            started[number] = helpers.start(app, "sequence", {"name": f"n{number}"})

        threads = [threading.Thread(target=start, args=(number,)) for number in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(BOUND)
        assert len(started) == 20
        for number, execution_id in started.items():
            row = helpers.wait_for(app, execution_id)
            assert row.state == "SUCCESS", row.state_info
            assert row.output["sentence"] == f"Hello, n{number}"


def test_bad_input_is_refused_and_stores_nothing(database_url: str) -> None:
    from sirocco import errors
    from sirocco.store import tables

    with helpers.embedded(database_url) as app:
        helpers.deploy(app, SEQUENCE)
        with pytest.raises(errors.InputError):
            helpers.start(app, "sequence", {"wrong": 1})
        with pytest.raises(errors.NotFoundError):
            helpers.start(app, "no_such_workflow")
        assert helpers.count_rows(app, tables.workflow_executions) == 0
