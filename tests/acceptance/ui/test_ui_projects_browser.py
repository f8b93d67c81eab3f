"""The web view with built-in tokens, in a real browser: two projects, each sees only its own.

A real ``sirocco server --auth tokens`` with a member token for each of two
projects. Each signs in through the sign-in form (the token is then kept in an
HttpOnly cookie), and the test counts what it sees of the other project on every
list and by going to the other project's pages directly: the leaks must be 0.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ui_browser import (
    BOUND,
    CHROMIUM,
    WORKFLOWS,
    Server,
    database_url,
    running_server,
)

if not os.path.exists(CHROMIUM):
    pytest.skip(
        "Debian's chromium is not installed (`make services` installs it)", allow_module_level=True
    )
playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

BETA_WORKFLOWS = """\
version: '2.0'
beta_report:
  tasks:
    only:
      action: std.echo output="beta's secret figures"
"""
LISTS = (
    "/ui/executions",
    "/ui/workflows",
    "/ui/workbooks",
    "/ui/cron-triggers",
    "/ui/event-triggers",
    "/ui/environments",
)


def _token(folder: Path, project: str) -> str:
    command = Path(sys.executable).with_name("sirocco")
    made = subprocess.run(
        [str(command), "token", "create", "--project", project, "--db", database_url(folder)],
        capture_output=True,
        text=True,
        timeout=BOUND,
        check=True,
    )
    return made.stdout.strip()


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A server with auth on; project alpha with the test workflows, beta with its own."""
    folder = tmp_path_factory.mktemp("ui_projects")
    alpha, beta = _token(folder, "alpha"), _token(folder, "beta")
    policy = folder / "policy.json"  # deleting executions: administrators only
    policy.write_text(json.dumps({"executions:delete": "is_admin:True"}))
    with running_server(
        folder, "--auth", "tokens", token=alpha, env={"SIROCCO_POLICY_FILE": str(policy)}
    ) as server:
        text = {"Content-Type": "text/plain"}
        uploaded = server.api.post("/v2/workflows", content=WORKFLOWS.read_text(), headers=text)
        assert uploaded.status_code == 201, uploaded.text
        as_beta = {"X-Auth-Token": beta}
        assert (
            server.api.post(
                "/v2/workflows", content=BETA_WORKFLOWS, headers={**text, **as_beta}
            ).status_code
            == 201
        )
        for token, name in ((alpha, "alpha_env"), (beta, "beta_env")):
            body = {"name": name, "variables": {"region": name}}
            made = server.api.post("/v2/environments", json=body, headers={"X-Auth-Token": token})
            assert made.status_code == 201, made.text
        beta_cron = {"name": "beta_nightly", "workflow_name": "beta_report", "pattern": "0 2 * * *"}
        assert (
            server.api.post("/v2/cron_triggers", json=beta_cron, headers=as_beta).status_code == 201
        )
        alpha_runs = [server.start("ui_join") for _ in range(2)]
        beta_runs = []
        for _ in range(3):
            started = server.api.post(
                "/v2/executions", json={"workflow_name": "beta_report"}, headers=as_beta
            )
            assert started.status_code == 201, started.text
            beta_runs.append(str(started.json()["id"]))
        for execution_id in alpha_runs:
            server.wait_state(execution_id, "SUCCESS")
        yield {
            "server": server,
            "alpha": alpha,
            "beta": beta,
            "alpha_runs": alpha_runs,
            "beta_runs": beta_runs,
            "beta_names": ("beta_report", "beta_env", "beta_nightly"),
            "alpha_names": ("ui_join", "alpha_env"),
        }


@pytest.fixture
def context(browser: Any, projects: dict[str, Any], tmp_path: Path) -> Iterator[Any]:
    server: Server = projects["server"]
    made = browser.new_context(viewport={"width": 1400, "height": 900}, base_url=server.url)
    made.set_default_timeout(BOUND * 1000)
    try:
        yield made
    finally:
        for index, opened in enumerate(made.pages):
            opened.screenshot(path=str(tmp_path / f"screenshot-{index}.png"), full_page=True)
        made.close()


def _sign_in(context: Any, token: str) -> Any:
    """Open ``/``, be sent to the sign-in form, type the token: the executions list opens."""
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/ui/login\?next="))
    page.fill("#token", token)
    page.click('form.login button[type="submit"]')
    expect(page.locator("h1")).to_have_text("Executions")
    cookies = {cookie["name"]: cookie for cookie in context.cookies()}
    assert cookies["sirocco_token"]["httpOnly"] is True
    return page


def _leaks(
    page: Any, own_ids: list[str], other_ids: list[str], other_names: tuple[str, ...]
) -> int:
    """How many of the other project's executions and names the signed-in browser sees."""
    leaks = 0
    for path in LISTS:
        page.goto(path)
        text = page.locator("main").inner_text()
        leaks += sum(text.count(identifier) for identifier in other_ids)
        leaks += sum(text.count(name) for name in other_names)
    page.goto("/ui/executions")
    shown = page.locator("tr.execution-row").evaluate_all(
        "rows => rows.map(row => row.dataset.execution)"
    )
    leaks += len([identifier for identifier in shown if identifier not in own_ids])
    assert set(own_ids) <= set(shown)
    for identifier in other_ids:
        response = page.goto(f"/ui/executions/{identifier}")
        leaks += int(response is None or response.status != 404)
        leaks += int(any(name in page.content() for name in other_names))
    return leaks


def test_each_project_sees_only_its_own(context: Any, projects: dict[str, Any]) -> None:
    alpha = _sign_in(context, projects["alpha"])
    expect(alpha.locator("#who-project")).to_have_text("alpha")
    assert _leaks(alpha, projects["alpha_runs"], projects["beta_runs"], projects["beta_names"]) == 0
    alpha.goto("/ui/workflows")
    expect(alpha.locator("#workflows-table")).to_contain_text("ui_join")
    alpha.goto("/ui/environments")
    expect(alpha.locator("#environments-table")).to_contain_text("alpha_env")
    alpha.click('form.logout button[type="submit"]')
    expect(alpha).to_have_url(re.compile(r"/ui/login"))

    beta = _sign_in(context, projects["beta"])
    expect(beta.locator("#who-project")).to_have_text("beta")
    assert _leaks(beta, projects["beta_runs"], projects["alpha_runs"], projects["alpha_names"]) == 0
    beta.goto("/ui/cron-triggers")
    expect(beta.locator("#cron-triggers-table")).to_contain_text("beta_nightly")
    # a member may not look across projects: the page says the API's words
    response = beta.goto("/ui/executions?all_projects=1")
    assert response is not None and response.status == 403
    expect(beta.locator("main")).to_contain_text(
        "Policy doesn't allow executions:list:all_projects to be performed."
    )


def test_a_member_pauses_and_resumes_their_own_execution(
    context: Any, projects: dict[str, Any]
) -> None:
    server: Server = projects["server"]
    execution_id = server.start("ui_hold")
    server.running_action(execution_id, "wait_here")
    page = _sign_in(context, projects["alpha"])
    page.click(f'tr[data-execution="{execution_id}"] a.execution-link')
    state = page.locator("#execution-state")
    expect(state).to_have_text("RUNNING")
    page.click('button[data-action="pause"]')
    expect(state).to_have_text("PAUSED")
    assert server.execution(execution_id)["state"] == "PAUSED"
    page.click('button[data-action="resume"]')
    expect(state).to_have_text("RUNNING")
    assert server.execution(execution_id)["state"] == "RUNNING"
    server.api.put(f"/v2/executions/{execution_id}", json={"state": "CANCELLED"})


def test_the_other_projects_execution_cannot_be_changed_from_the_page(
    context: Any, projects: dict[str, Any]
) -> None:
    """The pages' actions are API calls: one aimed at another project's execution is
    refused with the API's text, and the execution is unchanged."""
    server: Server = projects["server"]
    target = projects["beta_runs"][0]
    page = _sign_in(context, projects["alpha"])
    answer = page.evaluate(
        """async (id) => {
            const response = await fetch("/v2/executions/" + id, {
                method: "PUT", credentials: "same-origin",
                headers: {"Content-Type": "application/json"},
                body: JSON.stringify({state: "CANCELLED"})});
            return [response.status, (await response.json()).faultstring];
        }""",
        target,
    )
    assert answer == [404, f"WorkflowExecution not found [id={target}]"]
    beta = {"X-Auth-Token": projects["beta"]}
    unchanged = server.api.get(f"/v2/executions/{target}", headers=beta)
    assert unchanged.status_code == 200 and unchanged.json()["state"] != "CANCELLED"


def test_a_click_the_policy_refuses_shows_the_apis_words(
    context: Any, projects: dict[str, Any]
) -> None:
    """The server's policy file makes deleting executions admin-only: a member's click on
    Delete is refused with the API's text, and the execution stays."""
    server: Server = projects["server"]
    target = projects["alpha_runs"][0]
    page = _sign_in(context, projects["alpha"])
    row = page.locator(f'tr[data-execution="{target}"]')
    row.locator('button[data-action="delete"]').click()
    expect(page.locator("#message")).to_have_text(
        "Refused: Policy doesn't allow executions:delete to be performed."
    )
    expect(row).to_have_count(1)
    assert server.api.get(f"/v2/executions/{target}").status_code == 200
