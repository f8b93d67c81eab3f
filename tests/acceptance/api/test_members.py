"""Workflow members through the real ``mistral`` CLI: share, accept, use, unshare."""

from __future__ import annotations

import io
import json
import logging
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import httpx
from mistralclient import shell
from secured_server import secured_server

from sirocco.settings import Settings
from tests.waiting import BOUND

WORKFLOW = """
version: '2.0'
shared_wf:
  tasks:
    one:
      action: std.noop
"""


def _cli(url: str, token: str, *args: str) -> tuple[int, str]:
    identity = url.removesuffix("/v2") + "/identity/v3"
    out, err = io.StringIO(), io.StringIO()
    handler = logging.StreamHandler(err)
    logging.getLogger().addHandler(handler)
    try:
        with redirect_stdout(out), redirect_stderr(err):
            code = shell.main(
                ["--os-auth-url", identity, "--os-auth-token", token, "--os-mistral-url", url,
                 *args]
            )  # fmt: skip
    finally:
        logging.getLogger().removeHandler(handler)
    return int(code or 0), out.getvalue() + err.getvalue()


def test_a_workflow_shared_with_another_project(tmp_path: Path) -> None:
    with secured_server(tmp_path, "tokens", Settings()) as server:
        alpha, beta, gamma = (server.token(name) for name in ("alpha", "beta", "gamma"))

        def ok(token: str, *args: str) -> dict[str, str] | list[dict[str, str]]:
            code, text = _cli(server.url, token, *args, "-f", "json")
            assert code == 0, (args, text)
            return json.loads(text)  # type: ignore[no-any-return]

        def fails(token: str, *args: str) -> str:
            code, text = _cli(server.url, token, *args)
            assert code != 0, (args, text)
            return text

        definition = tmp_path / "wf.yaml"
        definition.write_text(WORKFLOW)
        workflow = ok(alpha, "workflow-create", str(definition))
        assert isinstance(workflow, list)
        wf_id = workflow[0]["ID"]
        assert "Workflow not found" in fails(beta, "workflow-get", wf_id)

        member = ok(alpha, "member-create", wf_id, "workflow", "beta")
        assert isinstance(member, dict)
        assert (member["Resource ID"], member["Member ID"], member["Status"]) == (
            wf_id, "beta", "pending",
        )  # fmt: skip
        assert member["Resource Owner"] == "alpha"
        assert "Duplicate entry" in fails(alpha, "member-create", wf_id, "workflow", "beta")
        # pending: beta sees the membership, not yet the workflow
        assert [item["Member ID"] for item in ok(beta, "member-list", wf_id, "workflow")] == [
            "beta"
        ]
        assert "Workflow not found" in fails(beta, "workflow-get", wf_id)
        # only the member project answers, only the owner removes
        assert "Resource member not found" in fails(
            alpha, "member-update", wf_id, "workflow", "-m", "beta", "-s", "accepted"
        )
        assert "Resource member not found" in fails(
            beta, "member-delete", wf_id, "workflow", "beta"
        )
        assert "Resource member not found" in fails(
            gamma, "member-get", wf_id, "workflow", "-m", "beta"
        )
        accepted = ok(beta, "member-update", wf_id, "workflow", "-m", "beta", "-s", "accepted")
        assert isinstance(accepted, dict) and accepted["Status"] == "accepted"
        assert ok(beta, "workflow-get", wf_id)["Name"] == "shared_wf"  # type: ignore[call-overload]
        names = [item["Name"] for item in ok(beta, "workflow-list")]  # type: ignore[index]
        assert names == ["shared_wf"]
        execution = ok(beta, "execution-create", wf_id)
        assert isinstance(execution, dict) and execution["Workflow name"] == "shared_wf"
        # the execution is beta's: alpha does not see it
        assert "not found" in fails(alpha, "execution-get", execution["ID"])
        assert "Workflow not found" in fails(gamma, "workflow-get", wf_id)
        code, _text = _cli(server.url, beta, "workflow-delete", wf_id)
        assert code != 0  # a member may not delete the workflow
        owner_view = ok(alpha, "member-list", wf_id, "workflow")
        assert [item["Member ID"] for item in owner_view] == ["beta"]  # type: ignore[index]
        code, text = _cli(server.url, alpha, "member-delete", wf_id, "workflow", "beta")
        assert code == 0, text
        assert "Workflow not found" in fails(beta, "workflow-get", wf_id)
        public = tmp_path / "public.yaml"
        public.write_text(WORKFLOW.replace("shared_wf", "public_wf"))
        made = ok(alpha, "workflow-create", str(public), "--public")
        assert "Only private resource could be shared." in fails(
            alpha,
            "member-create",
            made[0]["ID"],
            "workflow",
            "beta",  # type: ignore[index]
        )


def test_sharing_needs_authentication(tmp_path: Path) -> None:
    with secured_server(tmp_path, "none", Settings()) as server:
        answer = httpx.post(
            f"{server.url}/workflows/x/members", json={"member_id": "beta"}, timeout=BOUND
        )
        assert answer.status_code == 400
        assert answer.json()["faultstring"] == (
            "Resource sharing feature can only be supported with authentication enabled."
        )
