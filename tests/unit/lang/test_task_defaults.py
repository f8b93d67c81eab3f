"""``task-defaults`` merged into every task as Mistral's specs and engine apply them."""

from __future__ import annotations

from sirocco.lang import specs
from tests.unit.lang.helpers import only_problem, workflow


def test_policies_come_from_the_task_when_active_else_from_the_defaults() -> None:
    flow = workflow(
        """
        wf:
          task-defaults:
            wait-before: 2
            timeout: 5
            retry: count=3 delay=1
            pause-before: true
            concurrency: 4
            fail-on: <% $.bad %>
            wait-after: 1
          tasks:
            t1:
              wait-before: 0
              timeout: 7
              pause-before: false
              retry:
                count: 1
                delay: 9
            t2:
              wait-after: <% $.later %>
        """
    )
    first = flow.tasks["t1"].policies
    # A task's 0 or false is "no policy", so the default applies (as in Mistral's engine).
    assert first == specs.PolicySpec(
        wait_before=2,
        wait_after=1,
        timeout=7,
        pause_before=True,
        concurrency=4,
        fail_on="<% $.bad %>",
        retry=specs.RetrySpec(count=1, delay=9),
    )
    second = flow.tasks["t2"].policies
    assert second.wait_after == "<% $.later %>"
    assert second.retry == specs.RetrySpec(count=3, delay=1)


def test_safe_rerun_comes_from_the_task_when_set() -> None:
    flow = workflow(
        """
        wf:
          task-defaults:
            safe-rerun: true
          tasks:
            t1:
              safe-rerun: false
            t2:
              action: std.noop
        """
    )
    assert (flow.tasks["t1"].safe_rerun, flow.tasks["t2"].safe_rerun) == (False, True)


def test_default_clauses_apply_only_to_tasks_without_transitions_of_that_kind() -> None:
    flow = workflow(
        """
        wf:
          task-defaults:
            on-error: [handler]
            on-complete: audit
          tasks:
            t1:
              on-error: noop
            t2:
              on-success:
                publish:
                  global: {x: 1}
            handler:
              action: std.noop
            audit:
              action: std.noop
        """
    )
    t1, t2 = flow.tasks["t1"], flow.tasks["t2"]
    assert [item.name for item in t1.on_error.transitions] == ["noop"]  # type: ignore[union-attr]
    assert [item.name for item in t2.on_error.transitions] == ["handler"]  # type: ignore[union-attr]
    assert [item.name for item in t1.on_complete.transitions] == ["audit"]  # type: ignore[union-attr]
    # a default clause never sends a task to itself
    assert flow.tasks["audit"].on_complete is None
    assert [item.name for item in flow.tasks["handler"].on_complete.transitions] == ["audit"]  # type: ignore[union-attr]
    assert flow.tasks["handler"].on_error is None
    # a task's own advanced publish is kept, with no transition of its own
    assert t2.on_success is not None and t2.on_success.transitions == ()
    assert flow.start_tasks == ("t1", "t2")
    assert flow.inbound["audit"] == ("t1", "t2", "handler")


def test_a_default_advanced_clause_gives_its_transitions_but_not_its_publish() -> None:
    flow = workflow(
        """
        wf:
          task-defaults:
            on-success:
              publish:
                branch: {from_defaults: 1}
              next: t2
          tasks:
            t1:
              action: std.noop
            t2:
              action: std.noop
        """
    )
    assert flow.tasks["t1"].on_success == specs.OnClause(
        transitions=(specs.Transition(name="t2"),), publish=None
    )


def test_a_default_clause_to_a_missing_task_is_fine_when_no_task_uses_it() -> None:
    flow = workflow(
        """
        wf:
          task-defaults:
            on-error: ghost
          tasks:
            t1:
              on-error: noop
        """
    )
    assert flow.start_tasks == ("t1",)


def test_requires_is_the_union_minus_the_task_itself() -> None:
    flow = workflow(
        """
        wf:
          type: reverse
          task-defaults:
            requires: [setup]
          tasks:
            setup:
              action: std.noop
            t1:
              requires: [t2, t1]
            t2:
              requires: setup
        """
    )
    assert flow.tasks["setup"].requires == ()
    assert flow.tasks["t1"].requires == ("t2", "setup")
    assert flow.tasks["t2"].requires == ("setup",)
    assert flow.start_tasks == ("setup",)


def test_keywords_of_the_other_workflow_type_are_accepted_and_unused() -> None:
    direct = workflow(
        """
        wf:
          task-defaults:
            requires: [anything]
            description: shared settings
          tasks:
            t1: {action: std.noop}
        """
    )
    assert direct.tasks["t1"].requires == ()
    reverse = workflow(
        """
        wf:
          type: reverse
          task-defaults:
            on-success: nowhere
          tasks:
            t1: {action: std.noop}
        """
    )
    assert reverse.tasks["t1"].on_success is None


def test_task_defaults_must_not_be_empty() -> None:
    problem = only_problem(
        """
        wf:
          task-defaults: {}
          tasks:
            t1: {action: std.noop}
        """
    )
    assert (
        problem.message
        == "workflow 'wf', task-defaults: must be a non-empty mapping, not an empty mapping"
    )


def test_without_defaults_a_disabled_policy_reads_as_unset_and_self_requirements_go() -> None:
    flow = workflow(
        """
        wf:
          type: reverse
          tasks:
            t1:
              requires: [t1, t2]
              timeout: 0
              pause-before: false
            t2:
              requires: t2
        """
    )
    assert flow.tasks["t1"].policies == specs.PolicySpec()
    assert (flow.tasks["t1"].requires, flow.tasks["t2"].requires) == (("t2",), ())
    assert flow.start_tasks == ("t2",)
