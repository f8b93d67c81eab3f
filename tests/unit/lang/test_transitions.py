"""The ``on-*`` clauses: names, guarded names, engine commands with parameters, advanced form."""

from __future__ import annotations

from sirocco.lang import specs
from tests.unit.lang.helpers import task, workflow


def names(clause: specs.OnClause | None) -> list[tuple[str, object, dict[str, object]]]:
    assert clause is not None
    return [(item.name, item.condition, dict(item.params)) for item in clause.transitions]


def test_a_single_task_name() -> None:
    spec = task(
        """
        wf:
          tasks:
            t1:
              on-success: t2
              on-error: t3
              on-complete: t4
              on-skip: t5
            t2: {action: std.noop}
            t3: {action: std.noop}
            t4: {action: std.noop}
            t5: {action: std.noop}
        """
    )
    assert names(spec.on_success) == [("t2", None, {})]
    assert names(spec.on_error) == [("t3", None, {})]
    assert names(spec.on_complete) == [("t4", None, {})]
    assert names(spec.on_skip) == [("t5", None, {})]
    assert [keyword for keyword, _ in spec.clauses()] == [
        "on-success",
        "on-error",
        "on-complete",
        "on-skip",
    ]


def test_a_list_of_names_and_guarded_names() -> None:
    spec = task(
        """
        wf:
          tasks:
            t1:
              on-success:
                - t2
                - t3: <% $.x > 1 %>
                - t4: "{{ _.ok }}"
            t2: {action: std.noop}
            t3: {action: std.noop}
            t4: {action: std.noop}
        """
    )
    assert names(spec.on_success) == [
        ("t2", None, {}),
        ("t3", "<% $.x > 1 %>", {}),
        ("t4", "{{ _.ok }}", {}),
    ]


def test_engine_commands_with_parameters_in_every_spelling() -> None:
    spec = task(
        """
        wf:
          tasks:
            t1:
              on-error:
                - fail msg="it broke"
                - fail(msg="it broke again")
                - fail(msg=<% $.why %>)
                - pause msg='wait for me'
                - succeed
                - noop
                - fail(msg="guarded"): <% $.x = 1 %>
        """
    )
    assert names(spec.on_error) == [
        ("fail", None, {"msg": "it broke"}),
        ("fail", None, {"msg": "it broke again"}),
        ("fail", None, {"msg": "<% $.why %>"}),
        ("pause", None, {"msg": "wait for me"}),
        ("succeed", None, {}),
        ("noop", None, {}),
        ("fail", "<% $.x = 1 %>", {"msg": "guarded"}),
    ]
    assert all(item.is_engine_command for item in spec.on_error.transitions)  # type: ignore[union-attr]


def test_the_call_form_without_space() -> None:
    # Mistral 23's schema rejects fail(msg="x") when it has no space (it matches two of its
    # patterns); Sirocco reads it as the command it obviously is.
    spec = task(
        """
        wf:
          tasks:
            t1:
              on-complete:
                - fail(msg="x")
        """
    )
    assert names(spec.on_complete) == [("fail", None, {"msg": "x"})]


def test_parameters_on_a_task_name_are_kept() -> None:
    spec = task(
        """
        wf:
          tasks:
            t1:
              on-success: t2 a=1
            t2: {action: std.noop}
        """
    )
    assert names(spec.on_success) == [("t2", None, {"a": 1})]


def test_the_advanced_form_with_publish_scopes_and_next() -> None:
    spec = task(
        """
        wf:
          tasks:
            t1:
              on-success:
                publish:
                  branch:
                    b: <% task().result %>
                  global:
                    g: 1
                  atomic:
                    a: 2
                next:
                  - t2: <% $.b %>
                  - fail msg="no"
            t2: {action: std.noop}
        """
    )
    assert spec.on_success is not None
    assert spec.on_success.publish == specs.PublishSpec(
        branch={"b": "<% task().result %>"}, global_={"g": 1}, atomic={"a": 2}
    )
    assert names(spec.on_success) == [("t2", "<% $.b %>", {}), ("fail", None, {"msg": "no"})]


def test_the_advanced_form_with_only_publish() -> None:
    spec = task(
        """
        wf:
          tasks:
            t1:
              on-complete:
                publish:
                  global:
                    done: true
        """
    )
    assert spec.on_complete == specs.OnClause(
        transitions=(), publish=specs.PublishSpec(global_={"done": True})
    )


def test_next_as_one_guarded_mapping_loses_its_condition_as_in_mistral() -> None:
    spec = task(
        """
        wf:
          tasks:
            t1:
              on-success:
                next: {t2: <% false %>}
            t2: {action: std.noop}
        """
    )
    assert names(spec.on_success) == [("t2", None, {})]


def test_a_bare_guarded_mapping_is_accepted_but_ignored_as_in_mistral() -> None:
    flow = workflow(
        """
        wf:
          tasks:
            t1:
              on-success: {t2: <% true %>}
            t2: {action: std.noop}
        """
    )
    assert flow.tasks["t1"].on_success is None
    assert flow.start_tasks == ("t1", "t2")


def test_inbound_tasks_and_start_tasks() -> None:
    flow = workflow(
        """
        wf:
          tasks:
            a:
              on-success: [c]
            b:
              on-error:
                - c: <% false %>
              on-complete: d
            c:
              join: all
              on-success: d
            d:
              action: std.noop
        """
    )
    assert flow.start_tasks == ("a", "b")
    assert dict(flow.inbound) == {"a": (), "b": (), "c": ("a", "b"), "d": ("b", "c")}


def test_cycles_are_allowed_in_direct_workflows() -> None:
    flow = workflow(
        """
        wf:
          tasks:
            start:
              on-success: loop
            loop:
              on-success:
                - loop: <% $.again %>
        """
    )
    assert flow.inbound["loop"] == ("start", "loop")
    assert flow.start_tasks == ("start",)
