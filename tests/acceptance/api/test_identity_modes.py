"""``--auth keystone`` against a fake Keystone, ``--auth oidc`` against a local JWKS, and
python-mistralclient (CLI and library) unchanged against both and against built-in tokens."""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fake_identity import Account, fake_keystone, jwks_server
from mistralclient import shell
from mistralclient.api import client as mistral_client
from secured_server import secured_server

from sirocco.settings import Settings
from tests.waiting import BOUND

WORKFLOW = """
version: '2.0'
{name}:
  tasks:
    one:
      action: std.noop
"""


def _mistral(*args: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    handler = logging.StreamHandler(err)
    logging.getLogger().addHandler(handler)
    try:
        with redirect_stdout(out), redirect_stderr(err):
            code = shell.main(list(args))
    finally:
        logging.getLogger().removeHandler(handler)
    return int(code or 0), out.getvalue() + err.getvalue()


def _names(output: str) -> list[str]:
    return sorted(item["Name"] for item in json.loads(output) if item["Name"])


def _signs_in_to_the_web_view(api_url: str, token: str, project: str, sees: str) -> None:
    """The web view's sign-in form takes the mode's token; the pages then show the
    token's project and what it owns (``sees``), with the token in the cookie only."""
    base = api_url.removesuffix("/v2")
    with httpx.Client(base_url=base, timeout=30) as browser:
        refused = browser.post("/ui/login", data={"token": "not-a-token", "next": "/ui/"})
        assert refused.status_code == 401, refused.text
        signed = browser.post("/ui/login", data={"token": token, "next": "/ui/workflows"})
        assert signed.status_code == 303 and signed.headers["location"] == "/ui/workflows"
        assert "httponly" in signed.headers["set-cookie"].lower()
        page = browser.get("/ui/workflows")
        assert page.status_code == 200, page.text
        assert f'id="who-project">{project}<' in page.text and sees in page.text


# ---------------------------------------------------------------- Keystone


def test_keystone_tokens_with_the_unchanged_mistral_cli(tmp_path: Path) -> None:
    accounts = {
        "alice": Account("alice-pw", "alpha"),
        "bob": Account("bob-pw", "beta"),
        "root": Account("root-pw", "ops", ("admin",)),
    }
    with fake_keystone(accounts) as keystone:
        settings = Settings(keystone_url=keystone.url)
        with secured_server(tmp_path, "keystone", settings) as server:
            keystone.workflow_url = server.url
            definition = tmp_path / "wf.yaml"
            definition.write_text(WORKFLOW.format(name="alice_wf"))

            def login(user: str) -> list[str]:  # the endpoint comes from Keystone's catalog
                return [
                    "--os-auth-url", f"{keystone.url}/v3", "--os-username", user,
                    "--os-password", accounts[user].password, "--os-project-name",
                    accounts[user].project,
                ]  # fmt: skip

            code, text = _mistral(*login("alice"), "workflow-create", str(definition))
            assert code == 0, text
            code, text = _mistral(*login("alice"), "workflow-list", "-f", "json")
            assert code == 0 and _names(text) == ["alice_wf"], text
            code, text = _mistral(*login("bob"), "workflow-list", "-f", "json")
            assert code == 0 and _names(text) == [], text
            code, text = _mistral(*login("bob"), "workflow-get", "alice_wf")
            assert code != 0 and "Workflow not found" in text, text
            code, text = _mistral(
                *login("bob"), "workflow-list", "--filter", "project_id=alpha", "-f", "json"
            )
            assert code != 0 and "workflows:list:all_projects" in text, text
            code, text = _mistral(
                *login("root"), "workflow-list", "--filter", "project_id=alpha", "-f", "json"
            )
            assert code == 0 and _names(text) == ["alice_wf"], text
            # --os-auth-token: a token Keystone issued, exchanged by keystoneauth as usual
            token = keystone.issue("alice")
            code, text = _mistral(
                "--os-auth-url", f"{keystone.url}/v3", "--os-auth-token", token,
                "--os-mistral-url", server.url, "workflow-list", "-f", "json",
            )  # fmt: skip
            assert code == 0 and _names(text) == ["alice_wf"], text
            _signs_in_to_the_web_view(server.url, token, "alpha", "alice_wf")
            # and the plain HTTP view: 401 without a token or with one Keystone does not know
            assert httpx.get(f"{server.url}/workflows", timeout=BOUND).status_code == 401
            wrong = httpx.get(
                f"{server.url}/workflows", headers={"X-Auth-Token": "ks-nope"}, timeout=BOUND
            )
            assert wrong.status_code == 401
            asked = keystone.validations
            for _ in range(3):
                answer = httpx.get(
                    f"{server.url}/workflows", headers={"X-Auth-Token": token}, timeout=BOUND
                )
                assert answer.status_code == 200
            assert keystone.validations <= asked + 1  # answers are cached


# ---------------------------------------------------------------- OIDC


@pytest.fixture(scope="module")
def keys() -> tuple[Any, Any]:
    """The issuer's key pair and an unrelated one."""
    return (
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
    )


@pytest.fixture
def oidc(tmp_path: Path, keys: tuple[Any, Any]) -> Iterator[tuple[str, str]]:
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(keys[0].public_key()))
    public.update({"kid": "issuer-key", "use": "sig", "alg": "RS256"})
    with jwks_server({"keys": [public]}) as base:
        issuer = f"{base}/realms/sirocco"
        settings = Settings(
            oidc_issuer=issuer, oidc_jwks_url=f"{base}/certs", oidc_audience="mistral"
        )
        with secured_server(tmp_path, "oidc", settings) as server:
            yield server.url, issuer


def _jwt(key: Any, issuer: str, **claims: Any) -> str:
    body = {
        "iss": issuer,
        "aud": "mistral",
        "sub": "user-1",
        "exp": int(time.time()) + 600,
        "project_id": "alpha",
        "realm_access": {"roles": ["member"]},
        **claims,
    }
    return jwt.encode(body, key, algorithm="RS256", headers={"kid": "issuer-key"})


def test_oidc_tokens_are_checked_against_the_issuers_keys(
    oidc: tuple[str, str], keys: tuple[Any, Any]
) -> None:
    url, issuer = oidc
    good, other = keys
    alpha = mistral_client.client(mistral_url=url, auth_token=_jwt(good, issuer))
    beta = mistral_client.client(mistral_url=url, auth_token=_jwt(good, issuer, project_id="beta"))
    alpha.workflows.create(WORKFLOW.format(name="alpha_wf"))
    assert [item.name for item in alpha.workflows.list()] == ["alpha_wf"]
    assert beta.workflows.list() == []
    _signs_in_to_the_web_view(url, _jwt(good, issuer), "alpha", "alpha_wf")
    refused = {
        "expired": _jwt(good, issuer, exp=int(time.time()) - 60),
        "signed by another key": _jwt(other, issuer),
        "another issuer": _jwt(good, "http://127.0.0.1:1/realms/other"),
        "another audience": _jwt(good, issuer, aud="someone-else"),
        "no project": _jwt(good, issuer, project_id=None),
        "not a JWT": "abc.def.ghi",
    }
    for reason, token in refused.items():
        for header in ({"X-Auth-Token": token}, {"Authorization": f"Bearer {token}"}):
            answer = httpx.get(f"{url}/workflows", headers=header, timeout=BOUND)
            assert answer.status_code == 401, (reason, answer.text)
            assert answer.json()["faultcode"] == "Client"
    admin = _jwt(good, issuer, project_id="ops", realm_access={"roles": ["admin"]})
    listed = httpx.get(
        f"{url}/workflows?all_projects=true", headers={"X-Auth-Token": admin}, timeout=BOUND
    )
    assert [item["name"] for item in listed.json()["workflows"]] == ["alpha_wf"]


# ---------------------------------------------------------------- built-in tokens


def test_built_in_tokens_with_the_mistral_library_and_cli(tmp_path: Path) -> None:
    with secured_server(tmp_path, "tokens", Settings()) as server:
        token = server.token("alpha")
        library = mistral_client.client(mistral_url=server.url, auth_token=token)
        library.workflows.create(WORKFLOW.format(name="alpha_wf"))
        assert [item.name for item in library.workflows.list()] == ["alpha_wf"]
        identity = server.url.removesuffix("/v2") + "/identity/v3"
        code, text = _mistral(
            "--os-auth-url", identity, "--os-auth-token", token, "workflow-list", "-f", "json"
        )  # the endpoint comes from Sirocco's catalog
        assert code == 0 and _names(text) == ["alpha_wf"], text
        code, text = _mistral(
            "--os-auth-url", identity, "--os-auth-token", "sir_wrong", "workflow-list"
        )
        assert code != 0, text
