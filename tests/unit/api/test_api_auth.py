"""Authentication and projects at the API's edge: 401s, tokens, policy rules, scoping."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from api_fakes import FakeService
from fastapi.testclient import TestClient

from sirocco import errors
from sirocco.api import authentication, projects
from sirocco.api.app import create_app
from sirocco.api.identity import Caller
from sirocco.api.policy import Policy
from sirocco.settings import Settings
from sirocco.store import tokens
from sirocco.store.database import Database

WORKFLOW = """
version: '2.0'
{name}:
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
    app = create_app(service, gate=gate)
    with TestClient(app, base_url="http://sirocco.test") as client:
        yield client


def _as(token: str) -> dict[str, str]:
    return {"X-Auth-Token": token}


def test_no_token_is_401_in_mistrals_words(secured: TestClient) -> None:
    for method, path in (
        ("GET", "/v2/workflows"),
        ("GET", "/v2/executions/x"),
        ("POST", "/v2/executions"),
    ):
        answer = secured.request(method, path)
        assert answer.status_code == 401, (path, answer.text)
        assert answer.json() == {
            "faultcode": "Client",
            "faultstring": "The request you have made requires authentication.",
            "debuginfo": None,
        }
    assert secured.get("/v2/workflows", headers=_as("sir_not-a-token")).status_code == 401
    assert secured.get("/").status_code == 200  # version discovery stays open


def test_a_token_works_until_revoked_or_expired(secured: TestClient, database: Database) -> None:
    secret = _token(database, "alpha")
    assert secured.get("/v2/workflows", headers=_as(secret)).status_code == 200
    with database.read() as connection:
        made = tokens.list_all(connection)[0]
    assert made.project_id == "alpha" and made.role == "member"
    with database.read() as connection:  # only the digest is stored
        stored = connection.exec_driver_sql("SELECT digest FROM auth_tokens").scalars().all()
    assert secret not in stored and tokens.digest(secret) in stored
    with database.transaction() as connection:
        tokens.revoke(connection, made.id)
    assert secured.get("/v2/workflows", headers=_as(secret)).status_code == 401


def test_an_expired_token_is_refused(database: Database) -> None:
    now = datetime(2030, 1, 1)
    with database.transaction() as connection:
        _made, secret = tokens.create(
            connection, project_id="p", role="admin", now=now, expires_at=now + timedelta(hours=1)
        )
        assert tokens.find(connection, secret, now=now) is not None
        assert tokens.find(connection, secret, now=now + timedelta(hours=2)) is None
        with pytest.raises(errors.InputError):
            tokens.create(connection, project_id="p", role="owner", now=now)


def test_projects_see_their_own_definitions_and_public_ones(
    secured: TestClient, database: Database
) -> None:
    alpha, beta = _token(database, "alpha"), _token(database, "beta")
    made = secured.post(
        "/v2/workflows", content=WORKFLOW.format(name="alpha_wf"), headers=_as(alpha)
    )
    assert made.status_code == 201, made.text
    assert made.json()["workflows"][0]["project_id"] == "alpha"
    public = secured.post(
        "/v2/workflows?scope=public", content=WORKFLOW.format(name="shared_wf"), headers=_as(alpha)
    )
    assert public.status_code == 201
    identifier = made.json()["workflows"][0]["id"]
    listed = secured.get("/v2/workflows", headers=_as(beta)).json()["workflows"]
    assert [item["name"] for item in listed] == ["shared_wf"]
    for path in (f"/v2/workflows/{identifier}", "/v2/workflows/alpha_wf"):
        answer = secured.get(path, headers=_as(beta))
        assert answer.status_code == 404, answer.text
        assert "Workflow not found" in answer.json()["faultstring"]
        assert secured.get(path, headers=_as(alpha)).status_code == 200
    assert secured.get("/v2/workflows/shared_wf", headers=_as(beta)).status_code == 200
    # another project's public workflow can be read, not changed or deleted
    assert secured.delete("/v2/workflows/shared_wf", headers=_as(beta)).status_code == 403
    changed = secured.put(
        "/v2/workflows", content=WORKFLOW.format(name="alpha_wf"), headers=_as(beta)
    )
    assert changed.status_code == 404, changed.text
    assert secured.delete(f"/v2/workflows/{identifier}", headers=_as(beta)).status_code == 404
    assert secured.get(f"/v2/workflows/{identifier}", headers=_as(alpha)).status_code == 200


def test_all_projects_and_project_id_filters_are_for_admins(
    secured: TestClient, database: Database
) -> None:
    alpha, admin = _token(database, "alpha"), _token(database, "ops", "admin")
    secured.post("/v2/workflows", content=WORKFLOW.format(name="alpha_wf"), headers=_as(alpha))
    for query in ("all_projects=true", "project_id=alpha"):
        refused = secured.get(f"/v2/workflows?{query}", headers=_as(alpha))
        assert refused.status_code == 403, refused.text
        assert refused.json()["faultstring"] == (
            "Policy doesn't allow workflows:list:all_projects to be performed."
        )
        allowed = secured.get(f"/v2/workflows?{query}", headers=_as(admin))
        assert [item["name"] for item in allowed.json()["workflows"]] == ["alpha_wf"]
    assert secured.get("/v2/workflows", headers=_as(admin)).json()["workflows"] == []
    assert secured.get("/v2/executions?all_projects=1", headers=_as(alpha)).status_code == 403


def test_without_authentication_everything_is_the_default_project(client: TestClient) -> None:
    made = client.post("/v2/workflows", content=WORKFLOW.format(name="wf"))
    assert made.json()["workflows"][0]["project_id"] == "<default-project>"
    assert client.get("/v2/workflows?all_projects=true").status_code == 200


def test_a_policy_file_overrides_mistrals_defaults(
    service: FakeService, database: Database, tmp_path: Path
) -> None:
    rules = tmp_path / "policy.json"
    rules.write_text(json.dumps({"workflows:delete": "rule:admin_only", "workflows:list": "!"}))
    policy = Policy.from_file(str(rules))
    member = Caller(project_id="alpha", roles=frozenset({"member"}))
    assert not policy.allows("workflows:delete", member)
    assert policy.allows("executions:delete", member)
    gate = authentication.gate_for("tokens", Settings(), database)
    with TestClient(create_app(service, gate=gate, policy=policy)) as client:
        secret = _token(database, "alpha")
        answer = client.get("/v2/workflows", headers=_as(secret))
        assert answer.status_code == 403
        assert "workflows:list" in answer.json()["faultstring"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("workflows:list: 'frobnicate:1'\n")
    with pytest.raises(errors.ConfigurationError):
        Policy.from_file(str(bad))


def test_each_route_has_mistrals_rule() -> None:
    assert projects.rule_of("GET", "/v2/workflows") == "workflows:list"
    assert projects.rule_of("GET", "/v2/workflows/{identifier}") == "workflows:get"
    assert projects.rule_of("PUT", "/v2/executions/{execution_id}") == "executions:update"
    assert projects.rule_of("GET", "/v2/executions/{execution_id}/tasks") == "tasks:list"
    assert projects.rule_of("DELETE", "/v2/cron_triggers/{identifier}") == "cron_triggers:delete"
    assert projects.rule_of("POST", "/v2/workflows/validate") is None
    assert projects.rule_of("GET", "/v2") is None


def test_the_default_mode_depends_on_the_address() -> None:
    settings = Settings()
    assert authentication.mode_for(settings, "127.0.0.1") == "none"
    assert authentication.mode_for(settings, "::1") == "none"
    assert authentication.mode_for(settings, "localhost") == "none"
    assert authentication.mode_for(settings, "0.0.0.0") == "tokens"
    assert authentication.mode_for(settings, "192.0.2.7") == "tokens"
    with pytest.raises(errors.ConfigurationError, match="--insecure-no-auth"):
        authentication.mode_for(Settings(auth="none"), "0.0.0.0")
    assert (
        authentication.mode_for(Settings(auth="none"), "0.0.0.0", insecure_no_auth=True) == "none"
    )
    assert authentication.mode_for(Settings(auth="keystone"), "127.0.0.1") == "keystone"
    assert Settings.load(environ={"SIROCCO_AUTH": "oidc"}).auth == "oidc"
    with pytest.raises(errors.ConfigurationError):
        Settings.load(environ={"SIROCCO_AUTH": "ldap"})


def test_the_web_view_needs_a_token_kept_in_a_cookie(
    secured: TestClient, database: Database
) -> None:
    sent_away = secured.get("/ui/executions?state=ERROR", follow_redirects=False)
    assert sent_away.status_code == 303
    assert sent_away.headers["location"] == "/ui/login?next=%2Fui%2Fexecutions%3Fstate%3DERROR"
    assert secured.get("/ui/login").status_code == 200
    refused = secured.post("/ui/login", data={"token": "sir_not-a-token", "next": "/ui/"})
    assert refused.status_code == 401
    assert "Invalid or expired token." in refused.text
    member = _token(database, "alpha")
    secured.post("/ui/login", data={"token": member}, follow_redirects=False)
    assert secured.get("/ui/executions", follow_redirects=False).status_code == 200
    admin = _token(database, "alpha", role="admin")
    signed_in = secured.post(
        "/ui/login",
        data={"token": admin, "next": "https://elsewhere.test/"},
        follow_redirects=False,
    )
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/ui/"
    cookie = signed_in.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert secured.get("/ui/executions").status_code == 200
    assert secured.get("/v2/workflows").status_code == 200  # the pages' own API calls
    secured.post("/ui/logout")
    assert secured.get("/ui/executions", follow_redirects=False).status_code == 303
    assert secured.get("/ui/executions", headers=_as(admin)).status_code == 200


def test_names_are_unique_per_project(secured: TestClient, database: Database) -> None:
    """As in Mistral (its unique keys include project_id): two projects may each have a
    workflow, workbook, action, environment and cron trigger of the same name; a name
    means the caller's own, and only the caller's own is changed or deleted."""
    alpha, beta = _token(database, "alpha"), _token(database, "beta")
    workbook = (
        "version: '2.0'\nname: book\nworkflows:\n  inner:\n"
        "    tasks:\n      t:\n        action: std.noop\n"
    )
    action = "version: '2.0'\nshout:\n  base: std.echo\n  base-input:\n    output: {who}\n"
    ids: dict[str, dict[str, str]] = {}
    for token, who in ((alpha, "alpha"), (beta, "beta")):
        made = {
            "workflow": secured.post(
                "/v2/workflows", content=WORKFLOW.format(name="deploy"), headers=_as(token)
            ),
            "workbook": secured.post("/v2/workbooks", content=workbook, headers=_as(token)),
            "action": secured.post(
                "/v2/actions", content=action.format(who=who), headers=_as(token)
            ),
            "environment": secured.post(
                "/v2/environments",
                json={"name": "stage", "variables": {"who": who}},
                headers=_as(token),
            ),
        }
        for kind, answer in made.items():
            assert answer.status_code == 201, (who, kind, answer.text)
        cron = secured.post(
            "/v2/cron_triggers",
            json={"name": "nightly", "workflow_name": "deploy", "pattern": "0 2 * * *"},
            headers=_as(token),
        )
        assert cron.status_code == 201, cron.text
        ids[who] = {
            "workflow": made["workflow"].json()["workflows"][0]["id"],
            "action": made["action"].json()["actions"][0]["id"],
            "environment": made["environment"].json()["id"],
            "cron": cron.json()["id"],
        }
        assert cron.json()["workflow_id"] == ids[who]["workflow"]
    # the same name twice in one project is still a conflict
    again = secured.post("/v2/workflows", content=WORKFLOW.format(name="deploy"), headers=_as(beta))
    assert again.status_code == 409 and "Duplicate entry" in again.json()["faultstring"]
    again = secured.post("/v2/environments", json={"name": "stage"}, headers=_as(alpha))
    assert again.status_code == 409
    # a name means the caller's own
    for who, token in (("alpha", alpha), ("beta", beta)):
        own = ids[who]
        assert (
            secured.get("/v2/workflows/deploy", headers=_as(token)).json()["id"] == own["workflow"]
        )
        assert secured.get("/v2/actions/shout", headers=_as(token)).json()["id"] == own["action"]
        environment = secured.get("/v2/environments/stage", headers=_as(token)).json()
        assert environment["id"] == own["environment"]
        assert (
            secured.get("/v2/cron_triggers/nightly", headers=_as(token)).json()["id"] == own["cron"]
        )
        book = secured.get("/v2/workbooks/book", headers=_as(token)).json()
        assert book["project_id"] == who
        inner = secured.get("/v2/workflows/book.inner", headers=_as(token)).json()
        assert inner["project_id"] == who
    # changing and deleting by name reach the caller's own only
    changed = WORKFLOW.format(name="deploy").replace("std.noop", "std.echo output=1")
    assert secured.put("/v2/workflows", content=changed, headers=_as(alpha)).status_code == 200
    assert "std.noop" in secured.get("/v2/workflows/deploy", headers=_as(beta)).json()["definition"]
    put = secured.put(
        "/v2/environments", json={"name": "stage", "description": "mine"}, headers=_as(beta)
    )
    assert put.status_code == 200 and put.json()["id"] == ids["beta"]["environment"]
    for path in ("/v2/cron_triggers/nightly", "/v2/environments/stage", "/v2/actions/shout",
                 "/v2/workbooks/book"):  # fmt: skip
        assert secured.delete(path, headers=_as(alpha)).status_code == 204, path
        assert secured.get(path, headers=_as(alpha)).status_code == 404, path
        assert secured.get(path, headers=_as(beta)).status_code == 200, path
    assert secured.delete("/v2/workflows/deploy", headers=_as(alpha)).status_code == 204
    assert (
        secured.get("/v2/workflows/deploy", headers=_as(beta)).json()["id"]
        == ids["beta"]["workflow"]
    )


def test_a_name_means_the_callers_own_then_a_public_one(
    secured: TestClient, database: Database
) -> None:
    alpha, beta = _token(database, "alpha"), _token(database, "beta")
    shared = WORKFLOW.format(name="tool")
    made = secured.post("/v2/workflows?scope=public", content=shared, headers=_as(beta))
    assert made.status_code == 201
    public_id = made.json()["workflows"][0]["id"]
    assert secured.get("/v2/workflows/tool", headers=_as(alpha)).json()["id"] == public_id
    changed = shared.replace("std.noop", "std.echo output=1")
    refused = secured.put("/v2/workflows", content=changed, headers=_as(alpha))
    assert refused.status_code == 403, refused.text  # another project's public workflow
    assert (
        "std.noop"
        in secured.get(f"/v2/workflows/{public_id}", headers=_as(beta)).json()["definition"]
    )
    own = secured.post("/v2/workflows", content=shared, headers=_as(alpha))
    assert own.status_code == 201
    own_id = own.json()["workflows"][0]["id"]
    assert secured.get("/v2/workflows/tool", headers=_as(alpha)).json()["id"] == own_id
    assert secured.get("/v2/workflows/tool", headers=_as(beta)).json()["id"] == public_id
    assert secured.put("/v2/workflows", content=changed, headers=_as(alpha)).status_code == 200
    assert (
        "std.noop"
        in secured.get(f"/v2/workflows/{public_id}", headers=_as(beta)).json()["definition"]
    )


def test_an_unreachable_keystone_is_a_503() -> None:
    from sirocco.api import keystone
    from sirocco.api.errors import ApiError

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    checker = keystone.Keystone(f"http://127.0.0.1:{port}", timeout=5)
    with pytest.raises(ApiError) as raised:
        checker.identify("ks-token")
    assert raised.value.status_code == 503


def test_every_v2_route_needs_a_caller(secured: TestClient) -> None:
    """A router added without the app's checks would answer here: every /v2 resource route
    in the API's own description must say 401 to a request without a token."""
    paths = secured.get("/openapi.json").json()["paths"]
    checked = 0
    for template, operations in paths.items():
        if not template.startswith("/v2/") or template == "/v2/":
            continue
        path = re.sub(r"\{[^}]+\}", "x", template)
        for method in operations:
            answer = secured.request(method.upper(), path)
            assert answer.status_code == 401, (method, template, answer.status_code)
            checked += 1
    assert checked > 60


def test_making_an_event_trigger_public_is_for_administrators(
    secured: TestClient, database: Database
) -> None:
    member, admin = _token(database, "alpha"), _token(database, "alpha", role="admin")
    created = secured.post(
        "/v2/workflows", content=WORKFLOW.format(name="on_event"), headers=_as(member)
    )
    workflow_id = created.json()["workflows"][0]["id"]
    body = {
        "name": "boot",
        "workflow_id": workflow_id,
        "exchange": "nova",
        "topic": "notifications",
        "event": "compute.instance.create.end",
    }
    refused = secured.post(
        "/v2/event_triggers", json={**body, "scope": "public"}, headers=_as(member)
    )
    assert refused.status_code == 403
    trigger = secured.post("/v2/event_triggers", json=body, headers=_as(member)).json()
    path = f"/v2/event_triggers/{trigger['id']}"
    refused = secured.put(path, json={"scope": "public"}, headers=_as(member))
    assert refused.status_code == 403
    assert refused.json()["faultstring"] == (
        "Policy doesn't allow event_triggers:create:public to be performed."
    )
    assert secured.get(path, headers=_as(member)).json()["scope"] == "private"
    renamed = secured.put(path, json={"name": "boot2", "scope": "private"}, headers=_as(member))
    assert renamed.status_code == 200 and renamed.json()["name"] == "boot2"
    made_public = secured.put(path, json={"scope": "public"}, headers=_as(admin))
    assert made_public.status_code == 200 and made_public.json()["scope"] == "public"
