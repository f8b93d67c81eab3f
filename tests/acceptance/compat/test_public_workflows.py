"""Another project's public workflow: readable and usable, but changed or deleted only by
its own project (or an administrator), refused with Mistral 23's 403 and words.

The oracle runs without Keystone, where every caller is one project, so these
answers were read from Mistral 23's source and tests instead:
``mistral/db/utils.py`` ``check_db_obj_access`` raises ``NotAllowedException``
(HTTP 403) with "Can not access WorkflowDefinition resource of other projects,
ID: <id>" from ``update_workflow_definition`` and ``delete_workflow_definition``
(``mistral/db/v2/sqlalchemy/api.py``), which PUT and DELETE /v2/workflows reach
through the secure query that finds public workflows; asserted in Mistral's
``tests/unit/db/v2/test_sqlalchemy_db_api.py``
(``test_update_other_project_workflow_definition``,
``test_delete_other_project_workflow_definition``). Another project's private
workflow is not found: 404, "Workflow not found".

Not followed: Mistral lets an administrator find and change any project's
resources by name or id (its ``_by_admin`` tests); Sirocco's administrators
reach other projects only through lists (``all_projects``), see
``sirocco/api/projects.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sirocco.api import authentication
from sirocco.api.app import create_app
from sirocco.cli.embedded import open_embedded
from sirocco.settings import Settings
from sirocco.store import tokens

SHARED = """version: '2.0'
pw_tool:
  tasks:
    t:
      action: std.noop
"""
CHANGED = SHARED.replace("std.noop", "std.echo output=changed")
TEXT = {"content-type": "text/plain"}


@pytest.fixture
def projects(tmp_path: Path) -> Iterator[dict[str, Any]]:
    embedded = open_embedded(f"sqlite:///{tmp_path / 'public.sqlite'}")
    try:
        now = datetime.now(UTC).replace(tzinfo=None)
        found: dict[str, Any] = {}
        with embedded.parts.database.transaction() as connection:
            for name, project, role in (
                ("alpha", "alpha", "member"),
                ("beta", "beta", "member"),
            ):
                _made, secret = tokens.create(connection, project_id=project, role=role, now=now)
                found[name] = {"X-Auth-Token": secret, **TEXT}
        gate = authentication.gate_for("tokens", Settings(), embedded.parts.database)
        found["client"] = TestClient(create_app(embedded.service, gate=gate))
        yield found
    finally:
        embedded.close()


def _forbidden(answer: Any, workflow_id: str) -> None:
    assert answer.status_code == 403, answer.text
    assert answer.json()["faultstring"] == (
        f"Can not access WorkflowDefinition resource of other projects, ID: {workflow_id}"
    )


def test_another_projects_public_workflow_is_not_changed_or_deleted(
    projects: dict[str, Any],
) -> None:
    client, alpha, beta = projects["client"], projects["alpha"], projects["beta"]
    made = client.post("/v2/workflows?scope=public", content=SHARED, headers=beta)
    assert made.status_code == 201, made.text
    workflow_id = made.json()["workflows"][0]["id"]
    assert client.get("/v2/workflows/pw_tool", headers=alpha).json()["id"] == workflow_id

    _forbidden(client.put("/v2/workflows", content=CHANGED, headers=alpha), workflow_id)
    _forbidden(
        client.put("/v2/workflows?scope=public", content=CHANGED, headers=alpha), workflow_id
    )
    _forbidden(
        client.put(f"/v2/workflows/{workflow_id}", content=CHANGED, headers=alpha), workflow_id
    )
    _forbidden(client.delete("/v2/workflows/pw_tool", headers=alpha), workflow_id)
    _forbidden(client.delete(f"/v2/workflows/{workflow_id}", headers=alpha), workflow_id)
    kept = client.get(f"/v2/workflows/{workflow_id}", headers=beta).json()
    assert "std.noop" in kept["definition"] and kept["scope"] == "public"


def test_another_projects_private_workflow_is_not_found(projects: dict[str, Any]) -> None:
    client, alpha, beta = projects["client"], projects["alpha"], projects["beta"]
    made = client.post("/v2/workflows", content=SHARED, headers=beta)
    assert made.status_code == 201, made.text
    workflow_id = made.json()["workflows"][0]["id"]
    for answer in (
        client.put(f"/v2/workflows/{workflow_id}", content=CHANGED, headers=alpha),
        client.delete(f"/v2/workflows/{workflow_id}", headers=alpha),
        client.delete("/v2/workflows/pw_tool", headers=alpha),
    ):
        assert answer.status_code == 404, answer.text
        assert answer.json()["faultstring"].startswith("Workflow not found")
