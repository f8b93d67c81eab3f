"""Every task keyword is read into the spec as Mistral reads it (values checked on Mistral 23)."""

from __future__ import annotations

import pytest

from sirocco.lang import specs
from tests.unit.lang.helpers import only_problem, task, workflow


def test_a_task_without_action_or_workflow_runs_std_noop() -> None:
    spec = task(
        """
        wf:
          tasks:
            t1:
              description: does nothing
        """
    )
    assert (spec.action, spec.workflow, spec.description) == ("std.noop", None, "does nothing")
    assert spec.input == {}
    assert spec.workflow_type == "direct"


def test_inline_parameters_are_split_from_the_action_name() -> None:
    spec = task(
        """
        wf:
          tasks:
            t1:
              action: >-
                std.echo output="x y" n=7 f=1.5 ok=true no=false nothing=null
                l=[1, "a"] e=<% $.a %> j={{ _.b }} q='single'
        """
    )
    assert spec.action == "std.echo"
    assert spec.input == {
        "output": "x y",
        "n": 7,
        "f": 1,  # Mistral's pattern reads the digits only
        "ok": True,
        "no": False,
        "nothing": None,
        "l": [1, "a"],
        "e": "<% $.a %>",
        "j": "{{ _.b }}",
        "q": "single",
    }


def test_inline_parameters_win_over_input() -> None:
    spec = task(
        """
        wf:
          tasks:
            t1:
              action: std.echo output="inline" ignored=bare-words
              input:
                output: from-input
                other: kept
        """
    )
    assert spec.input == {"output": "inline", "other": "kept"}


def test_a_workflow_task_with_inline_parameters() -> None:
    spec = task(
        """
        wf:
          tasks:
            t1:
              workflow: sub_flow a=1 b="two"
        """
    )
    assert (spec.action, spec.workflow) == (None, "sub_flow")
    assert spec.input == {"a": 1, "b": "two"}


def test_action_and_workflow_names_may_be_expressions() -> None:
    flow = workflow(
        """
        wf:
          tasks:
            t1:
              action: <% $.name %> x=1
            t2:
              workflow: "{{ _.flow }}"
        """
    )
    assert (flow.tasks["t1"].action, flow.tasks["t1"].input) == ("<% $.name %>", {"x": 1})
    assert flow.tasks["t2"].workflow == "{{ _.flow }}"


def test_input_may_be_one_expression() -> None:
    spec = task(
        """
        wf:
          tasks:
            t1:
              action: std.http
              input: <% $.params %>
        """
    )
    assert spec.input == "<% $.params %>"


def test_nested_input_keeps_its_structure() -> None:
    spec = task(
        """
        wf:
          tasks:
            t1:
              action: std.echo
              input:
                output:
                  list: [1, <% $.x %>]
                  map: {a: null}
        """
    )
    assert spec.input == {"output": {"list": [1, "<% $.x %>"], "map": {"a": None}}}


def test_publish_keywords() -> None:
    spec = task(
        """
        wf:
          tasks:
            t1:
              publish:
                a: <% task().result %>
              publish-on-error:
                e: <% task().state_info %>
              publish-on-skip:
                s: skipped
        """
    )
    assert spec.publish == {"a": "<% task().result %>"}
    assert spec.publish_on_error == {"e": "<% task().state_info %>"}
    assert spec.publish_on_skip == {"s": "skipped"}


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("x in <% $.list %>", [("x", "<% $.list %>")]),
        ("x in {{ _.list }}", [("x", "{{ _.list }}")]),
        ("x in [1, 2, 3]", [("x", [1, 2, 3])]),
        ('\'x in ["a", {"b": 1}]\'', [("x", ["a", {"b": 1}])]),
        ("  x   in<% $.l %> and what follows is ignored", [("x", "<% $.l %>")]),
        ("item-name in [1]", [("item-name", [1])]),
        ("[x in <% $.a %>, y in <% $.b %>]", [("x", "<% $.a %>"), ("y", "<% $.b %>")]),
        ("\n                - x in <% $.a %>\n                - x in [2]", [("x", [2])]),
    ],
)
def test_with_items_forms(written: str, expected: list[tuple[str, object]]) -> None:
    spec = task(
        f"""
        wf:
          tasks:
            t1:
              with-items: {written}
              action: std.echo output=<% $.x %>
        """
    )
    assert [(item.variable, item.items) for item in spec.with_items] == expected
    assert spec.is_with_items


def test_policies_as_numbers_booleans_and_expressions() -> None:
    spec = task(
        """
        wf:
          tasks:
            t1:
              wait-before: 2
              wait-after: <% $.after %>
              timeout: 30.0
              pause-before: true
              concurrency: "{{ _.n }}"
              fail-on: <% $.x > 1 %>
        """
    )
    assert spec.policies == specs.PolicySpec(
        wait_before=2,
        wait_after="<% $.after %>",
        timeout=30,
        pause_before=True,
        concurrency="{{ _.n }}",
        fail_on="<% $.x > 1 %>",
    )


def test_retry_as_a_mapping() -> None:
    spec = task(
        """
        wf:
          tasks:
            t1:
              retry:
                count: <% $.n %>
                delay: 1
                break-on: <% $.stop %>
                continue-on: <% $.again %>
        """
    )
    assert spec.policies.retry == specs.RetrySpec(
        count="<% $.n %>", delay=1, break_on="<% $.stop %>", continue_on="<% $.again %>"
    )


def test_retry_on_one_line() -> None:
    spec = task(
        """
        wf:
          tasks:
            t1:
              retry: count=10 delay=5 break-on=<% $.foo = 'bar' %>
        """
    )
    assert spec.policies.retry == specs.RetrySpec(
        count=10, delay=5, break_on="<% $.foo = 'bar' %>", continue_on=None
    )


def test_keep_result_target_and_safe_rerun() -> None:
    spec = task(
        """
        wf:
          tasks:
            t1:
              keep-result: false
              target: <% $.executor %>
              safe-rerun: true
            t2:
              keep-result: <% $.keep %>
              safe-rerun: "{{ _.safe }}"
        """
    )
    assert (spec.keep_result, spec.target, spec.safe_rerun) == (False, "<% $.executor %>", True)
    other = task(
        """
        wf:
          tasks:
            t2:
              keep-result: <% $.keep %>
              safe-rerun: "{{ _.safe }}"
        """,
        "t2",
    )
    assert (other.keep_result, other.target, other.safe_rerun) == (
        "<% $.keep %>",
        None,
        "{{ _.safe }}",
    )


def test_defaults_of_a_bare_task() -> None:
    spec = task(
        """
        wf:
          tasks:
            t1:
              action: std.noop
        """
    )
    assert spec.keep_result is True
    assert spec.safe_rerun is False
    assert spec.target is None
    assert spec.policies == specs.PolicySpec()
    assert spec.join is None
    assert spec.clauses() == ()


@pytest.mark.parametrize(
    ("written", "expected"), [("all", "all"), ("one", 1), ("2", 2), ("0", None)]
)
def test_join_values(written: str, expected: object) -> None:
    spec = task(
        f"""
        wf:
          tasks:
            a:
              on-success: t1
            b:
              on-success: t1
            t1:
              join: {written}
        """
    )
    assert spec.join == expected
    assert spec.is_join is (expected is not None)


def test_tags_and_description() -> None:
    spec = task(
        """
        wf:
          tasks:
            t1:
              description: first step
              tags: [a, b]
        """
    )
    assert (spec.description, spec.tags) == ("first step", ("a", "b"))


def test_a_task_name_with_dashes_is_allowed() -> None:
    spec = task(
        """
        wf:
          tasks:
            main-task:
              action: std.noop
        """,
        "main-task",
    )
    assert spec.name == "main-task"


def test_a_task_may_be_named_like_an_engine_command() -> None:
    flow = workflow(
        """
        wf:
          tasks:
            t1:
              on-success: noop
            noop:
              action: std.echo output=1
        """
    )
    assert flow.inbound["noop"] == ("t1",)
    assert flow.start_tasks == ("t1",)


def test_requires_in_a_reverse_workflow() -> None:
    flow = workflow(
        """
        wf:
          type: reverse
          tasks:
            t1:
              requires: t2
            t2:
              requires: [t3, t4]
            t3:
              action: std.noop
            t4:
              action: std.noop
        """
    )
    assert flow.tasks["t1"].requires == ("t2",)
    assert flow.tasks["t2"].requires == ("t3", "t4")
    assert flow.tasks["t2"].workflow_type == "reverse"
    assert flow.start_tasks == ("t3", "t4")


def test_the_line_of_each_task() -> None:
    flow = workflow(
        """
        wf:
          tasks:
            t1:
              action: std.noop
            t2:
              action: std.noop
        """
    )
    assert (flow.line, flow.tasks["t1"].line, flow.tasks["t2"].line) == (2, 4, 6)


def test_an_empty_body_is_allowed_for_a_task_name_with_a_dash() -> None:
    # Mistral only type-checks task bodies whose names match ^\w+$.
    flow = workflow(
        """
        wf:
          tasks:
            t-1: {}
        """
    )
    assert flow.tasks["t-1"].action == "std.noop"


def test_with_items_entries_must_be_strings() -> None:
    problem = only_problem(
        """
        wf:
          tasks:
            t1:
              with-items: [1]
        """
    )
    assert problem.message == (
        "workflow 'wf', task 't1', with-items[0]: must be a non-empty string, not a number"
    )
