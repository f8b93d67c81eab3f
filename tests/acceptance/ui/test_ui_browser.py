"""The web view in a real browser against a real server: what a person sees and clicks."""

from __future__ import annotations

import os
import re
from typing import Any

import pytest
from ui_browser import CHROMIUM, Server

if not os.path.exists(CHROMIUM):
    pytest.skip(
        "Debian's chromium is not installed (`make services` installs it)", allow_module_level=True
    )
playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect


def node(page: Any, task: str) -> Any:
    return page.locator(f'svg.graph g.node[data-task="{task}"]')


def test_a_join_shows_every_task_state_and_the_transitions(server: Server, page: Any) -> None:
    execution_id = server.start("ui_join")
    server.wait_state(execution_id, "SUCCESS")
    page.goto(f"/ui/executions/{execution_id}")
    expect(page.locator("#execution-state")).to_have_text("SUCCESS")
    for task in ("create", "register_dns", "register_lb", "wait_all", "report"):
        expect(node(page, task)).to_have_class(_has("state-SUCCESS"))
    expect(node(page, "wait_all")).to_have_class(_has("join"))
    labels = page.locator("svg.graph g.edge text").all_text_contents()
    assert {"on-success", "on-error", "on-complete"} <= set(labels)
    expect(page.locator("#execution-count")).to_have_text("5")


def test_with_items_progress_is_counted(server: Server, page: Any) -> None:
    execution_id = server.start("ui_items", count=12)
    server.wait_state(execution_id, "SUCCESS")
    page.goto(f"/ui/executions/{execution_id}")
    expect(node(page, "echo_each").locator(".node-status")).to_contain_text("12/12")
    expect(node(page, "echo_each")).to_have_class(_has("with-items"))


def test_a_failure_is_found_in_three_clicks_and_rerun_in_one(server: Server, page: Any) -> None:
    execution_id = server.start("ui_fail")
    action_id = server.running_action(execution_id, "approve")
    server.complete(action_id, "ERROR", {"reason": "the manager said no"})
    server.wait_state(execution_id, "ERROR")

    page.goto("/")
    page.click("#show-failed")  # 1
    page.click(f'tr[data-execution="{execution_id}"] a.execution-link')  # 2
    expect(page.locator("#failed-tasks")).to_contain_text("approve")
    expect(page.locator("#failed-tasks")).to_contain_text("the manager said no")
    expect(node(page, "approve")).to_have_class(_has("state-ERROR"))
    node(page, "approve").locator("a.task-link").click()  # 3
    panel = page.locator("#task-panel")
    expect(panel.locator("#task-state-info")).to_contain_text("the manager said no")
    expect(panel.locator("#actions-table")).to_contain_text("std.async_noop")

    panel.locator('button[data-action="rerun"]').click()  # one click (and its confirmation)
    expect(node(page, "approve")).to_have_class(_has("state-RUNNING"))
    expect(page.locator("#execution-state")).to_have_text("RUNNING")
    server.complete(server.running_action(execution_id, "approve"), "SUCCESS", "yes")
    expect(page.locator("#execution-state")).to_have_text("SUCCESS")
    expect(node(page, "finish")).to_have_class(_has("state-SUCCESS"))


def test_pause_resume_and_cancel_from_clicks(server: Server, page: Any) -> None:
    execution_id = server.start("ui_hold")
    server.running_action(execution_id, "wait_here")
    page.goto(f"/ui/executions/{execution_id}")
    state = page.locator("#execution-state")
    expect(state).to_have_text("RUNNING")
    page.click('button[data-action="pause"]')
    expect(state).to_have_text("PAUSED")
    assert server.execution(execution_id)["state"] == "PAUSED"
    page.click('button[data-action="resume"]')
    expect(state).to_have_text("RUNNING")
    page.click('button[data-action="cancel"]')
    expect(state).to_have_text("CANCELLED")


def test_a_refused_action_shows_the_api_error(server: Server, page: Any) -> None:
    execution_id = server.start("ui_join")
    server.wait_state(execution_id, "SUCCESS")
    page.goto(f"/ui/executions/{execution_id}")
    page.click('button[data-action="pause"]')
    expect(page.locator("#message")).to_contain_text(
        "Can't change workflow execution state from SUCCESS to PAUSED"
    )


def test_a_sub_workflow_is_a_link(server: Server, page: Any) -> None:
    execution_id = server.start("ui_parent")
    server.wait_state(execution_id, "SUCCESS")
    page.goto(f"/ui/executions/{execution_id}")
    node(page, "call_child").locator("a.sub-link").click()
    expect(page.locator("h1")).to_contain_text("ui_child")
    expect(node(page, "greet")).to_have_class(_has("state-SUCCESS"))
    expect(page.locator("details.data").first).to_contain_text("Ann")


def test_the_start_form_checks_the_json_before_sending(server: Server, page: Any) -> None:
    page.goto("/ui/workflows/ui_items")
    expect(page.locator(".highlight").first).to_contain_text("with-items")
    expect(node(page, "echo_each")).to_be_visible()
    page.fill("#start-input", '{"count": ')
    page.click('#start-form button[type="submit"]')
    expect(page.locator("#message")).to_contain_text("not valid JSON")
    page.fill("#start-input", '{"count": 3}')
    page.click('#start-form button[type="submit"]')
    expect(page.locator("#execution-state")).to_have_text("SUCCESS")
    expect(node(page, "echo_each").locator(".node-status")).to_contain_text("3/3")


def test_deleting_a_finished_execution_from_the_list(server: Server, page: Any) -> None:
    execution_id = server.start("ui_join")
    server.wait_state(execution_id, "SUCCESS")
    page.goto("/ui/executions?workflow=ui_join")
    row = page.locator(f'tr[data-execution="{execution_id}"]')
    row.locator('button[data-action="delete"]').click()
    expect(row).to_have_count(0)
    assert server.api.get(f"/v2/executions/{execution_id}").status_code == 404


def test_pages_read_without_javascript(server: Server, browser: Any, tmp_path: Any) -> None:
    execution_id = server.start("ui_join")
    server.wait_state(execution_id, "SUCCESS")
    context = browser.new_context(java_script_enabled=False, base_url=server.url)
    page = context.new_page()
    try:
        page.goto("/")
        expect(page.locator(f'tr[data-execution="{execution_id}"]')).to_contain_text("SUCCESS")
        page.click(f'tr[data-execution="{execution_id}"] a.execution-link')
        expect(node(page, "wait_all")).to_have_class(_has("state-SUCCESS"))
        page.click('#tasks-table a.task-link >> text="report"')
        expect(page.locator("#task-detail")).to_contain_text("done")
        for path, heading in (
            ("/ui/workflows", "Workflows"),
            ("/ui/workbooks", "Workbooks"),
            ("/ui/cron-triggers", "Cron triggers"),
            ("/ui/event-triggers", "Event triggers"),
            ("/ui/environments", "Environments"),
        ):
            page.goto(path)
            expect(page.locator("h1")).to_have_text(heading)
        page.screenshot(path=str(tmp_path / "screenshot.png"), full_page=True)
    finally:
        context.close()


def _has(name: str) -> Any:
    return re.compile(rf"(^|\s){re.escape(name)}(\s|$)")


def test_skipping_a_failed_task_from_its_panel(server: Server, page: Any) -> None:
    execution_id = server.start("ui_fail")
    server.complete(server.running_action(execution_id, "approve"), "ERROR", "no")
    server.wait_state(execution_id, "ERROR")
    page.goto(f"/ui/executions/{execution_id}")
    page.click("#failed-tasks a.failed-task-link")
    page.locator('#task-panel button[data-action="skip"]').click()
    expect(node(page, "approve")).to_have_class(_has("state-SKIPPED"))
    expect(node(page, "finish")).to_have_class(_has("state-SUCCESS"))
    expect(page.locator("#execution-state")).to_have_text("SUCCESS")


def test_rerunning_only_the_failed_items(server: Server, page: Any) -> None:
    execution_id = server.start("ui_items_hold")
    first, second, third = server.running_actions(execution_id, "approve_each", 3)
    server.complete(first, "SUCCESS", "ok")
    server.complete(second, "ERROR", "bob is away")
    server.complete(third, "SUCCESS", "ok")
    server.wait_state(execution_id, "ERROR")
    page.goto(f"/ui/tasks/{server.task_id(execution_id, 'approve_each')}")
    expect(page.locator("#task-progress")).to_have_text("3/3")
    expect(page.locator("#actions-table")).to_contain_text("bob is away")
    page.click('button[data-action="rerun-failed"]')
    expect(page.locator("#message")).to_contain_text("Done")
    again = server.running_actions(execution_id, "approve_each", 1)
    assert len(again) == 1  # the failed item only
    server.complete(again[0], "SUCCESS", "back")
    server.wait_state(execution_id, "SUCCESS")
    page.reload()
    expect(page.locator("#task-detail h2 .badge")).to_have_text("SUCCESS")


def test_the_list_follows_states_without_a_reload(server: Server, page: Any) -> None:
    execution_id = server.start("ui_hold")
    server.running_action(execution_id, "wait_here")
    page.goto("/ui/executions?workflow=ui_hold")
    row = page.locator(f'tr[data-execution="{execution_id}"]')
    expect(row.locator(".badge")).to_have_text("RUNNING")
    cancelled = server.api.put(f"/v2/executions/{execution_id}", json={"state": "CANCELLED"})
    assert cancelled.status_code == 200, cancelled.text
    expect(row.locator(".badge")).to_have_text("CANCELLED")
