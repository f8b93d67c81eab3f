"""The web view with authentication on: every caller sees their own project, as the API does."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from api_fakes import FakeService
from fastapi.testclient import TestClient

from sirocco.api import authentication
from sirocco.api.app import create_app
from sirocco.settings import Settings
from sirocco.store import pages, tables, tokens
from sirocco.store.database import Database

WORKFLOW = """
version: '2.0'
{name}:
  tasks:
    one:
      action: std.noop
"""
PUBLIC = """
version: '2.0'
shared_tool:
  tasks:
    one:
      action: std.noop
"""


def _token(database: Database, project: str, role: str = "member") -> str:
    now = datetime.now(UTC).replace(tzinfo=None)
    with database.transaction() as connection:
        _made, secret = tokens.create(connection, project_id=project, role=role, now=now)
    return secret


@pytest.fixture
def secured(service: FakeService) -> Iterator[TestClient]:
    gate = authentication.gate_for("tokens", Settings(), service.database)
    with TestClient(create_app(service, gate=gate), base_url="http://sirocco.test") as client:
        yield client


def _as(token: str) -> dict[str, str]:
    return {"X-Auth-Token": token}


def _execution(database: Database, project: str, name: str, state: str = "ERROR") -> str:
    """An execution of ``project`` with one failed task; returns its id (and its task's)."""
    identifier = str(uuid.uuid4())
    now = datetime(2026, 1, 1) + timedelta(seconds=len(name))
    with database.transaction() as connection:
        connection.execute(
            sa.insert(tables.workflow_executions).values(
                id=identifier,
                workflow_name=name,
                definition=WORKFLOW.format(name=name),
                state=state,
                state_info=f"{name} broke",
                project_id=project,
                created_at=now,
                updated_at=now,
            )
        )
        connection.execute(
            sa.insert(tables.task_executions).values(
                id=f"{identifier[:-4]}7a5c",
                workflow_execution_id=identifier,
                name="one",
                seq=1,
                type="ACTION",
                state="ERROR",
                state_info=f"{name} task broke",
                created_at=now,
                updated_at=now,
            )
        )
    return identifier


def _ids(html: str) -> set[str]:
    return set(re.findall(r'data-execution="([0-9a-f-]{36})"', html))


@pytest.fixture
def two_projects(secured: TestClient, database: Database) -> dict[str, object]:
    alpha, beta = _token(database, "alpha"), _token(database, "beta")
    admin = _token(database, "alpha", role="admin")
    for token, name in ((alpha, "alpha_flow"), (beta, "beta_flow")):
        created = secured.post(
            "/v2/workflows", content=WORKFLOW.format(name=name), headers=_as(token)
        )
        assert created.status_code == 201, created.text
    public = secured.post("/v2/workflows?scope=public", content=PUBLIC, headers=_as(beta))
    assert public.status_code == 201, public.text
    for token, name in ((alpha, "alpha_env"), (beta, "beta_env")):
        body = {"name": name, "variables": {"k": name}}
        assert secured.post("/v2/environments", json=body, headers=_as(token)).status_code == 201
    return {
        "alpha": alpha,
        "beta": beta,
        "admin": admin,
        "alpha_run": _execution(database, "alpha", "alpha_flow"),
        "beta_run": _execution(database, "beta", "beta_flow"),
    }


def test_a_member_sees_only_their_projects_pages(
    secured: TestClient, two_projects: dict[str, object]
) -> None:
    alpha, beta = str(two_projects["alpha"]), str(two_projects["beta"])
    alpha_run, beta_run = str(two_projects["alpha_run"]), str(two_projects["beta_run"])
    page = secured.get("/ui/executions", headers=_as(alpha))
    assert page.status_code == 200
    assert _ids(page.text) == {alpha_run}
    assert 'id="who-project">alpha<' in page.text
    assert _ids(secured.get("/ui/executions?state=ERROR", headers=_as(beta)).text) == {beta_run}
    workflows = secured.get("/ui/workflows", headers=_as(alpha)).text
    assert "alpha_flow" in workflows and "shared_tool" in workflows  # own and public
    assert "beta_flow" not in workflows
    environments = secured.get("/ui/environments", headers=_as(alpha)).text
    assert "alpha_env" in environments and "beta_env" not in environments
    # another project's execution, task, live state and workflow are as if they did not exist
    for path in (
        f"/ui/executions/{beta_run}",
        f"/ui/executions/{beta_run}/live",
        f"/ui/tasks/{beta_run[:-4]}7a5c",
        "/ui/workflows/beta_flow",
    ):
        answer = secured.get(path, headers=_as(alpha))
        assert answer.status_code == 404, path
        assert "beta" not in answer.text.replace(beta_run, "").replace("beta_flow", ""), path
    own = secured.get(f"/ui/executions/{alpha_run}", headers=_as(alpha))
    assert own.status_code == 200 and "alpha_flow task broke" in own.text
    assert secured.get(f"/ui/tasks/{alpha_run[:-4]}7a5c", headers=_as(alpha)).status_code == 200
    assert secured.get("/ui/workflows/shared_tool", headers=_as(alpha)).status_code == 200


def test_only_those_the_policy_lets_list_across_projects_see_every_project(
    secured: TestClient, two_projects: dict[str, object]
) -> None:
    alpha, admin = str(two_projects["alpha"]), str(two_projects["admin"])
    alpha_run, beta_run = str(two_projects["alpha_run"]), str(two_projects["beta_run"])
    refused = secured.get("/ui/executions?all_projects=1", headers=_as(alpha))
    assert refused.status_code == 403
    assert "Policy doesn&#39;t allow executions:list:all_projects to be performed." in refused.text
    assert (
        secured.post(
            "/ui/span", data={"all_projects": "1", "next": "/ui/executions"}, headers=_as(alpha)
        ).status_code
        == 403
    )
    # an admin sees their own project, as the API's lists do, until asking for all of them
    assert _ids(secured.get("/ui/executions", headers=_as(admin)).text) == {alpha_run}
    everything = secured.get("/ui/executions?all_projects=1", headers=_as(admin))
    assert _ids(everything.text) == {alpha_run, beta_run}
    assert '<td class="mono project">beta</td>' in everything.text
    assert secured.get(f"/ui/executions/{beta_run}", headers=_as(admin)).status_code == 404
    kept = secured.post(
        "/ui/span",
        data={"all_projects": "1", "next": "/ui/executions"},
        headers=_as(admin),
        follow_redirects=False,
    )
    assert kept.status_code == 303 and kept.headers["location"] == "/ui/executions"
    assert "httponly" in kept.headers["set-cookie"].lower()
    assert secured.get(f"/ui/executions/{beta_run}", headers=_as(admin)).status_code == 200
    assert "beta_flow" in secured.get("/ui/workflows", headers=_as(admin)).text
    # the kept choice counts only while the policy allows it: a member's pages stay filtered
    assert _ids(secured.get("/ui/executions", headers=_as(alpha)).text) == {alpha_run}
    # environments have no list:all_projects rule (nor in Mistral): the kept choice shows
    # the caller's own there, and asking on the page is the API's 403
    environments = secured.get("/ui/environments", headers=_as(admin))
    assert environments.status_code == 200
    assert "alpha_env" in environments.text and "beta_env" not in environments.text
    asked = secured.get("/ui/environments?all_projects=1", headers=_as(admin))
    assert asked.status_code == 403 and "environments:list:all_projects" in asked.text
    secured.post("/ui/span", data={"all_projects": "0", "next": "/ui/"}, headers=_as(admin))
    assert _ids(secured.get("/ui/executions", headers=_as(admin)).text) == {alpha_run}


def test_a_policy_file_that_narrows_the_api_narrows_the_pages(
    service: FakeService, database: Database
) -> None:
    from sirocco.api.policy import Policy

    policy = Policy({**Policy.defaults().rules, "workflows:list": "is_admin:True"})
    gate = authentication.gate_for("tokens", Settings(), service.database)
    app = create_app(service, gate=gate, policy=policy)
    member = _token(database, "alpha")
    with TestClient(app, base_url="http://sirocco.test") as client:
        answer = client.get("/ui/workflows", headers=_as(member))
        assert answer.status_code == 403
        assert "workflows:list" in answer.text
        assert client.get("/v2/workflows", headers=_as(member)).status_code == 403
        assert client.get("/ui/executions", headers=_as(member)).status_code == 200


def _names(html: str) -> list[str]:
    return re.findall(r'<tr><td><a href="/ui/workflows/[^"]+">([^<]+)</a>', html)


def test_lists_of_definitions_page_by_marker(secured: TestClient, database: Database) -> None:
    alpha, beta = _token(database, "alpha"), _token(database, "beta")
    count = pages.LIST_PAGE_SIZE + 30
    names = sorted(f"flow_{index:04d}" for index in range(count))
    text = "version: '2.0'\n" + "".join(
        f"{name}:\n  tasks:\n    one:\n      action: std.noop\n" for name in names
    )
    assert secured.post("/v2/workflows", content=text, headers=_as(alpha)).status_code == 201
    other = WORKFLOW.format(name="flow_0000_beta")
    assert secured.post("/v2/workflows", content=other, headers=_as(beta)).status_code == 201
    first = secured.get("/ui/workflows", headers=_as(alpha)).text
    assert _names(first) == names[: pages.LIST_PAGE_SIZE]
    found = re.search(r'id="next-page" href="([^"]+)"', first)
    assert found is not None
    second = secured.get(found.group(1).replace("&amp;", "&"), headers=_as(alpha)).text
    assert _names(second) == names[pages.LIST_PAGE_SIZE :]
    assert 'id="next-page"' not in second and 'id="first-page"' in second
    unknown = secured.get(f"/ui/workflows?marker={uuid.uuid4()}", headers=_as(alpha))
    assert unknown.status_code == 404
