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


def test_names_are_unique_across_projects(secured: TestClient, database: Database) -> None:
    alpha, beta = _token(database, "alpha"), _token(database, "beta")
    text = WORKFLOW.format(name="deploy")
    assert secured.post("/v2/workflows", content=text, headers=_as(alpha)).status_code == 201
    taken = secured.post("/v2/workflows", content=text, headers=_as(beta))
    assert taken.status_code == 409 and "Duplicate entry" in taken.json()["faultstring"]


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
