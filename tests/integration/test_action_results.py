"""What a Python action's ``run`` gives back, as docs/actions.md's table says a workflow sees it."""

from __future__ import annotations

from typing import Any

from mistral_lib import actions

from tests.integration import helpers


class Answer(actions.Action):  # type: ignore[misc]
    """Gives back what ``how`` says: a value, Result(data), Result(error), an exception, cancel."""

    def __init__(self, how: str) -> None:
        super().__init__()
        self.how = how

    def run(self, context: Any) -> Any:
        if self.how == "value":
            return {"n": 1}
        if self.how == "data":
            return actions.Result(data={"n": 2})
        if self.how == "error":
            return actions.Result(error={"code": 409})
        if self.how == "cancel":
            return actions.Result(cancel=True)
        raise RuntimeError("it broke")


WORKFLOW = """
version: '2.0'
answer:
  input:
    - how
  tasks:
    ask:
      action: test.answer how=<% $.how %>
      publish:
        got: <% task().result %>
      publish-on-error:
        got: <% task().result %>
      on-error: handled
    handled:
      action: std.noop
  output:
    got: <% $.got %>
"""


def _run(url: str, how: str) -> tuple[Any, Any]:
    with helpers.embedded(url) as app:
        app.parts.registry.register("test.answer", Answer)
        helpers.deploy(app, WORKFLOW)
        execution_id = helpers.start(app, "answer", {"how": how})
        row = helpers.wait_for(app, execution_id)
        tasks = {task.name: task for task in helpers.tasks(app, execution_id)}
        return row, tasks


def test_a_value_and_result_data_are_the_result(sqlite_url: str) -> None:
    for how, expected in (("value", {"n": 1}), ("data", {"n": 2})):
        row, tasks = _run(sqlite_url, how)
        assert (row.state, row.output) == ("SUCCESS", {"got": expected})
        assert "handled" not in tasks


def test_result_error_fails_the_task_with_readable_data(sqlite_url: str) -> None:
    row, tasks = _run(sqlite_url, "error")
    assert (row.state, row.output) == ("SUCCESS", {"got": {"code": 409}})
    assert tasks["ask"].state == "ERROR"


def test_an_exception_fails_the_task_with_mistrals_message(sqlite_url: str) -> None:
    row, tasks = _run(sqlite_url, "raise")
    assert tasks["ask"].state == "ERROR"
    assert row.output["got"].startswith("The action raised an exception [action=")
    assert "msg='it broke'" in row.output["got"]


def test_result_cancel_cancels_the_task(sqlite_url: str) -> None:
    row, tasks = _run(sqlite_url, "cancel")
    assert row.state == "CANCELLED"
    assert tasks["ask"].state == "CANCELLED"
