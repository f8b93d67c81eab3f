"""From outside, against a running ``sirocco server``: the default mode off loopback, 401
without a token, ``sirocco token create|list|revoke``, and the refusal to run open."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import httpx

from tests.processes import Process, free_port, run
from tests.waiting import BOUND

SIROCCO = str(Path(sys.executable).parent / "sirocco")


def _env(db: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("SIROCCO_")}
    env["SIROCCO_DB"] = f"sqlite:///{db}"
    return env


def test_serving_other_machines_without_authentication_is_refused(tmp_path: Path) -> None:
    env = _env(tmp_path / "s.sqlite")
    done = run([SIROCCO, "server", "--host", "0.0.0.0", "--auth", "none"], env=env)
    assert done.returncode == 2, done
    assert "refusing to serve 0.0.0.0 without authentication" in done.stderr
    assert "--insecure-no-auth" in done.stderr and "Traceback" not in done.stderr
    env["SIROCCO_AUTH"] = "ldap"
    done = run([SIROCCO, "server"], env=env)
    assert done.returncode == 2 and "ldap" in done.stderr, done


def test_tokens_by_default_off_loopback_and_the_token_commands(tmp_path: Path) -> None:
    env = _env(tmp_path / "s.sqlite")
    made = run([SIROCCO, "token", "create", "--project", "alpha", "--role", "member"], env=env)
    assert made.returncode == 0, made
    secret = made.stdout.strip()
    assert secret.startswith("sir_") and "\n" not in secret
    assert "X-Auth-Token" in made.stderr
    listed = run([SIROCCO, "token", "list", "--json"], env=env)
    tokens = json.loads(listed.stdout)
    assert [(item["project_id"], item["role"]) for item in tokens] == [("alpha", "member")]
    assert secret not in listed.stdout
    bad = run([SIROCCO, "token", "create", "--project", "p", "--expires", "soon"], env=env)
    assert bad.returncode == 2 and "--expires" in bad.stderr, bad
    port = free_port()
    # Every interface, no --auth: built-in tokens (the test itself talks to 127.0.0.1).
    server = Process(
        [SIROCCO, "server", "--host", "0.0.0.0", "--port", str(port)],
        log=tmp_path / "server.log",
        env=env,
    )
    try:
        url = f"http://127.0.0.1:{port}/v2"
        server.wait_answering(f"http://127.0.0.1:{port}/")
        assert "auth tokens" in server.output()
        refused = httpx.get(f"{url}/executions", timeout=BOUND)
        assert refused.status_code == 401, refused.text
        assert refused.json()["faultstring"] == "The request you have made requires authentication."
        answer = httpx.get(f"{url}/executions", headers={"X-Auth-Token": secret}, timeout=BOUND)
        assert answer.status_code == 200 and answer.json() == {"executions": []}
        revoked = run([SIROCCO, "token", "revoke", tokens[0]["id"]], env=env)
        assert revoked.returncode == 0, revoked
        assert (
            httpx.get(
                f"{url}/executions", headers={"X-Auth-Token": secret}, timeout=BOUND
            ).status_code
            == 401
        )
        missing = run([SIROCCO, "token", "revoke", tokens[0]["id"]], env=env)
        assert missing.returncode == 2 and "Token not found" in missing.stderr
    finally:
        server.assert_stopped_cleanly()


MISTRAL = str(Path(sys.executable).parent / "mistral")
FLOW = "version: '2.0'\nalpha_flow:\n  tasks:\n    one:\n      action: std.noop\n"


def _mistral_env(**values: str) -> dict[str, str]:
    """The environment without any OS_* variable of the machine, plus ``values``."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("OS_", "MISTRAL", "SIROCCO_"))
    }
    env.update(values)
    return env


def test_the_real_mistral_cli_with_a_built_in_token(tmp_path: Path) -> None:
    """The invocations docs/security.md gives, run as a user runs them: the ``mistral``
    command against ``sirocco server --auth tokens``."""
    env = _env(tmp_path / "s.sqlite")
    made = run([SIROCCO, "token", "create", "--project", "alpha"], env=env)
    token = made.stdout.strip()
    other = run([SIROCCO, "token", "create", "--project", "beta"], env=env).stdout.strip()
    port = free_port()
    server = Process(
        [SIROCCO, "server", "--port", str(port), "--auth", "tokens"],
        log=tmp_path / "server.log",
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        server.wait_answering(f"{base}/")
        created = httpx.post(
            f"{base}/v2/workflows",
            content=FLOW,
            headers={"X-Auth-Token": token, "Content-Type": "text/plain"},
            timeout=BOUND,
        )
        assert created.status_code == 201, created.text
        listing = ["workflow-list", "-f", "value", "-c", "Name"]
        for auth_url in (f"{base}/identity", f"{base}/identity/v3"):
            done = run(
                [MISTRAL, "--os-auth-url", auth_url, "--os-auth-token", token, *listing],
                env=_mistral_env(),
            )
            assert done.returncode == 0 and done.stdout.split() == ["alpha_flow"], done
        # the same with environment variables only, and the endpoint given by hand
        variables = _mistral_env(
            OS_AUTH_URL=f"{base}/identity", OS_AUTH_TOKEN=token, OS_MISTRAL_URL=f"{base}/v2"
        )
        done = run([MISTRAL, *listing], env=variables)
        assert done.returncode == 0 and done.stdout.split() == ["alpha_flow"], done
        # another project's token sees nothing of alpha's; a wrong token is one line, no trace
        variables["OS_AUTH_TOKEN"] = other
        done = run([MISTRAL, *listing], env=variables)
        assert done.returncode == 0 and done.stdout.split() == [], done
        variables["OS_AUTH_TOKEN"] = "sir_wrong"
        done = run([MISTRAL, *listing], env=variables)
        assert done.returncode != 0 and "Traceback" not in done.stderr, done
        # Without an auth URL the CLI sends the token to Keystone's default address
        # (http://localhost:35357/v3), not to --os-mistral-url: no server can answer
        # that for it, which is why docs/security.md gives the auth URL.
        done = run(
            [MISTRAL, "--os-mistral-url", f"{base}/v2", "--os-auth-token", token, *listing],
            env=_mistral_env(),
        )
        assert done.returncode != 0, done
        assert "35357" in done.stdout + done.stderr, done
    finally:
        server.assert_stopped_cleanly()
