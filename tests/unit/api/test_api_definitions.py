"""Workflows, workbooks and ad-hoc actions over HTTP, compared with what Mistral 23 answers."""

from __future__ import annotations

import hashlib
import json

from fastapi.testclient import TestClient

TEXT = {"content-type": "text/plain"}

TWO_WORKFLOWS = """---
version: '2.0'

wf1:
  description: My first
  tags: [a, b]
  input:
    - x
    - y: 1
    - z: null
    - s: "str"
    - d: {k: v}
    - t: true
  output:
    r: <% $.x %>
  tasks:
    t1:
      action: std.echo output=<% $.x %>

wf2:
  type: reverse
  tasks:
    t1:
      action: std.noop
"""

ONE_WORKFLOW = """version: '2.0'
solo:
  input: [a]
  tasks:
    t:
      action: std.noop
"""

WORKBOOK = """---
version: '2.0'
name: book
tags: [t1]

actions:
  hello:
    base: std.echo
    base-input:
      output: hello
    # a comment
    input:
      - who
      - greeting: "hi"

workflows:
  main:
    input:
      - a: 1
    tasks:
      t1:
        action: hello who=x
        on-success: sub

      sub:
        workflow: other
  other:
    tasks:
      x:
        action: std.noop
"""

ACTIONS = """---
version: '2.0'

greet:
  description: Say hi
  tags: [x]
  base: std.echo
  base-input:
    output: "Hi <% $.name %>"
  input:
    - name
    - punct: "!"
    - n: 1

act2:
  base: std.noop
"""


def upload(client: TestClient, path: str, text: str, method: str = "POST") -> object:
    return client.request(method, path, content=text, headers=TEXT)


# ---------------------------------------------------------------- workflows


def test_creating_two_workflows_cuts_each_out_and_answers_like_mistral(client: TestClient) -> None:
    response = upload(client, "/v2/workflows", TWO_WORKFLOWS)
    assert response.status_code == 201
    first, second = response.json()["workflows"]
    assert first["name"] == "wf1"
    assert first["input"] == 'x, y="1", z="None", s="str", d="{\'k\': \'v\'}", t="True"'
    assert first["interface"] == {
        "input": ["x", {"y": 1}, {"z": None}, {"s": "str"}, {"d": {"k": "v"}}, {"t": True}],
        "output": ["r"],
    }
    assert first["definition"].startswith("version: '2.0'\nwf1:\n  description: My first\n")
    assert "wf2" not in first["definition"]
    assert first["checksum"] == hashlib.md5(first["definition"].encode()).hexdigest()
    assert first["tags"] == ["a", "b"]
    assert first["project_id"] == "<default-project>"
    assert first["scope"] == "private"
    assert "updated_at" not in first
    assert len(first["created_at"]) == 19
    assert second["definition"] == (
        "version: '2.0'\nwf2:\n  type: reverse\n  tasks:\n    t1:\n      action: std.noop\n"
    )
    assert second["input"] == ""


def test_a_single_workflow_keeps_its_text(client: TestClient) -> None:
    created = upload(client, "/v2/workflows", ONE_WORKFLOW).json()["workflows"][0]
    assert created["definition"] == ONE_WORKFLOW
    got = client.get("/v2/workflows/solo").json()
    assert got["definition"] == ONE_WORKFLOW
    assert got["interface"] == '{"input": ["a"], "output": []}'
    assert got["updated_at"] is None
    assert client.get(f"/v2/workflows/{created['id']}").json()["name"] == "solo"


def test_duplicate_workflow_is_409_with_the_short_error_body(client: TestClient) -> None:
    upload(client, "/v2/workflows", ONE_WORKFLOW)
    response = upload(client, "/v2/workflows", ONE_WORKFLOW)
    assert response.status_code == 409
    assert response.json() == {
        "faultstring": "Duplicate entry for WorkflowDefinition ['name', 'namespace', "
        "'project_id']: solo, , None"
    }


def test_same_workflow_name_in_two_namespaces(client: TestClient) -> None:
    assert upload(client, "/v2/workflows?namespace=ns1", ONE_WORKFLOW).status_code == 201
    assert upload(client, "/v2/workflows?namespace=ns2", ONE_WORKFLOW).status_code == 201
    assert client.get("/v2/workflows/solo").status_code == 404
    assert client.get("/v2/workflows/solo?namespace=ns1").json()["namespace"] == "ns1"
    listed = client.get("/v2/workflows?namespace=ns2").json()["workflows"]
    assert [item["namespace"] for item in listed] == ["ns2"]
    assert client.delete("/v2/workflows/solo?namespace=ns1").status_code == 204
    assert client.get("/v2/workflows/solo?namespace=ns1").status_code == 404
    assert client.get("/v2/workflows/solo?namespace=ns2").status_code == 200


def test_invalid_workflow_text_is_400_and_stores_nothing(client: TestClient) -> None:
    response = upload(client, "/v2/workflows", "a: [")
    assert response.status_code == 400
    assert set(response.json()) == {"faultstring"}
    assert response.json()["faultstring"]
    assert client.get("/v2/workflows").json() == {"workflows": []}


def test_accept_json_is_fine_for_uploads(client: TestClient) -> None:
    response = client.post(
        "/v2/workflows",
        content=ONE_WORKFLOW,
        headers={"content-type": "text/plain", "accept": "application/json"},
    )
    assert response.status_code == 201


def test_validate_workflows(client: TestClient) -> None:
    assert upload(client, "/v2/workflows/validate", ONE_WORKFLOW).json() == {"valid": True}
    invalid = upload(client, "/v2/workflows/validate", "version: '2.0'\nbad: 1\n")
    assert invalid.status_code == 200
    assert invalid.json()["valid"] is False
    assert invalid.json()["error"]


def test_update_workflows_by_name_and_by_id(client: TestClient) -> None:
    created = upload(client, "/v2/workflows", ONE_WORKFLOW).json()["workflows"][0]
    changed = ONE_WORKFLOW.replace("input: [a]", "input: [a, b]")
    updated = upload(client, "/v2/workflows", changed, "PUT")
    assert updated.status_code == 200
    item = updated.json()["workflows"][0]
    assert item["input"] == "a, b"
    assert item["id"] == created["id"]
    assert item["updated_at"] is not None
    single = upload(client, f"/v2/workflows/{created['id']}", ONE_WORKFLOW, "PUT")
    assert single.status_code == 200
    assert single.json()["input"] == "a"
    missing = upload(client, "/v2/workflows", ONE_WORKFLOW.replace("solo", "other"), "PUT")
    assert missing.status_code == 404
    assert missing.json() == {
        "faultstring": "Workflow not found [workflow_identifier=other, namespace=]"
    }


def test_update_with_an_id_refuses_two_workflows(client: TestClient) -> None:
    created = upload(client, "/v2/workflows", ONE_WORKFLOW).json()["workflows"][0]
    response = upload(client, f"/v2/workflows/{created['id']}", TWO_WORKFLOWS, "PUT")
    assert response.status_code == 400
    assert "More than one workflows" in response.json()["faultstring"]


def test_get_with_fields_and_unknown_fields(client: TestClient) -> None:
    upload(client, "/v2/workflows", ONE_WORKFLOW)
    assert set(client.get("/v2/workflows/solo?fields=name").json()) == {"id", "name"}
    response = client.get("/v2/workflows/solo?fields=nope")
    assert response.status_code == 400
    assert response.json()["faultcode"] == "Client"
    assert response.json()["faultstring"].startswith("Some fields do not exist  [nope]")


def test_delete_missing_workflow_is_404(client: TestClient) -> None:
    response = client.delete("/v2/workflows/nope")
    assert response.status_code == 404
    assert response.json() == {
        "faultcode": "Client",
        "faultstring": "Workflow not found [workflow_identifier=nope, namespace=]",
        "debuginfo": None,
    }


def test_public_scope_and_bad_scope(client: TestClient) -> None:
    created = upload(client, "/v2/workflows?scope=public", ONE_WORKFLOW)
    assert created.json()["workflows"][0]["scope"] == "public"
    response = upload(client, "/v2/workflows?scope=weird", ONE_WORKFLOW.replace("solo", "b"))
    assert response.status_code == 400
    assert "Scope must be one of the following" in response.json()["faultstring"]


# ---------------------------------------------------------------- workbooks


def test_workbook_stores_its_workflows_and_actions(client: TestClient) -> None:
    response = upload(client, "/v2/workbooks", WORKBOOK)
    assert response.status_code == 201
    body = response.json()
    assert body["name"] == "book"
    assert body["definition"] == WORKBOOK
    assert body["tags"] == ["t1"]
    assert "updated_at" not in body
    workflows = client.get("/v2/workflows?fields=name,definition&sort_keys=name").json()
    by_name = {item["name"]: item["definition"] for item in workflows["workflows"]}
    assert by_name == {
        "book.main": "main:\n  input:\n    - a: 1\n  tasks:\n    t1:\n      action: hello who=x\n"
        "      on-success: sub\n\n    sub:\n      workflow: other\n",
        "book.other": "other:\n  tasks:\n    x:\n      action: std.noop\n",
    }
    action = client.get("/v2/actions/book.hello/").json()
    assert action["definition"] == (
        "hello:\n  base: std.echo\n  base-input:\n    output: hello\n  # a comment\n"
        '  input:\n    - who\n    - greeting: "hi"\n'
    )
    assert action["input"] == 'who, greeting="hi"'
    assert client.get("/v2/workflows/book.main").json()["input"] == 'a="1"'


def test_workbook_update_get_list_delete(client: TestClient) -> None:
    upload(client, "/v2/workbooks", WORKBOOK)
    duplicate = upload(client, "/v2/workbooks", WORKBOOK)
    assert duplicate.status_code == 409
    assert duplicate.json()["faultstring"].startswith("Duplicate entry for WorkbookDefinition")
    updated = upload(client, "/v2/workbooks", WORKBOOK.replace("tags: [t1]", "tags: [t2]"), "PUT")
    assert updated.status_code == 200
    assert updated.json()["tags"] == ["t2"]
    assert updated.json()["updated_at"] is not None
    assert client.get("/v2/workbooks/book").json()["tags"] == ["t2"]
    assert [item["name"] for item in client.get("/v2/workbooks").json()["workbooks"]] == ["book"]
    assert client.delete("/v2/workbooks/book").status_code == 204
    missing = client.get("/v2/workbooks/book")
    assert missing.status_code == 404
    assert missing.json()["faultstring"] == "Workbook not found [name=book, namespace=]"
    # Its workflows and actions stay, as in Mistral.
    assert client.get("/v2/workflows/book.main").status_code == 200
    assert client.get("/v2/actions/book.hello").status_code == 200


def test_update_of_a_missing_workbook_is_404(client: TestClient) -> None:
    response = upload(client, "/v2/workbooks", WORKBOOK, "PUT")
    assert response.status_code == 404
    assert response.json() == {"faultstring": "Workbook not found [name=book, namespace=]"}


def test_validate_workbook(client: TestClient) -> None:
    assert upload(client, "/v2/workbooks/validate", WORKBOOK).json() == {"valid": True}
    assert upload(client, "/v2/workbooks/validate", ONE_WORKFLOW).json()["valid"] is False


# ---------------------------------------------------------------- actions


def test_create_actions_keeps_the_whole_text_for_each(client: TestClient) -> None:
    response = upload(client, "/v2/actions", ACTIONS)
    assert response.status_code == 201
    greet, act2 = response.json()["actions"]
    assert greet["input"] == 'name, punct="!", n=1'
    assert greet["description"] == "Say hi"
    assert greet["definition"] == ACTIONS
    assert greet["is_system"] is False
    assert act2["input"] is None
    assert act2["description"] is None
    assert "updated_at" not in greet
    duplicate = upload(client, "/v2/actions", ACTIONS)
    assert duplicate.status_code == 409
    assert duplicate.json() == {
        "faultstring": "Duplicate entry for Action ['name', 'namespace', 'project_id']: "
        "greet, , None"
    }


def test_list_actions_mixes_python_and_adhoc_sorted_by_name(client: TestClient) -> None:
    upload(client, "/v2/actions", ACTIONS)
    names = [item["name"] for item in client.get("/v2/actions").json()["actions"]]
    assert names == ["act2", "greet", "std.async_noop", "std.echo", "std.noop"]
    page = client.get("/v2/actions?limit=2").json()
    assert [item["name"] for item in page["actions"]] == ["act2", "greet"]
    assert "namespace=eq:&limit=2&marker=" in page["next"]
    marker = page["actions"][-1]["id"]
    rest = client.get(f"/v2/actions?limit=2&marker={marker}").json()
    assert [item["name"] for item in rest["actions"]] == ["std.async_noop", "std.echo"]
    # Mistral 23 says is_system: false for every action, Python ones included.
    assert client.get("/v2/actions?is_system=true").json()["actions"] == []
    plain = client.get("/v2/actions?is_system=false").json()["actions"]
    assert len(plain) == 5
    assert client.get("/v2/actions?name=has:ee").json()["actions"][0]["name"] == "greet"


def test_get_python_action_and_trailing_slash(client: TestClient) -> None:
    echo = client.get("/v2/actions/std.echo/").json()
    assert echo == {
        "id": "std.echo",
        "name": "std.echo",
        "is_system": False,
        "input": "output, delay=0",
        "description": "Echo.",
        "tags": None,
        "definition": "",
        "scope": None,
        "project_id": None,
        "created_at": "",
        "updated_at": "",
        "namespace": "",
    }
    missing = client.get("/v2/actions/nope/")
    assert missing.status_code == 404
    assert missing.json()["faultstring"] == "Action not found [name=nope, namespace=]"


def test_actions_in_a_namespace(client: TestClient) -> None:
    upload(client, "/v2/actions?namespace=ns", ACTIONS)
    assert client.get("/v2/actions/greet/").status_code == 404
    assert client.get("/v2/actions/greet/ns").json()["namespace"] == "ns"
    assert client.delete("/v2/actions/greet/ns").status_code == 204
    assert client.get("/v2/actions/greet/ns").status_code == 404


def test_actions_namespace_as_query_argument(client: TestClient) -> None:
    # Mistral 23 takes the namespace of GET and DELETE /v2/actions/{name} as ?namespace= too.
    upload(client, "/v2/actions?namespace=ns", ACTIONS)
    assert client.get("/v2/actions/greet?namespace=ns").json()["namespace"] == "ns"
    assert client.get("/v2/actions/greet?namespace=").status_code == 404
    assert client.delete("/v2/actions/greet?namespace=ns").status_code == 204
    assert client.get("/v2/actions/greet?namespace=ns").status_code == 404


def test_actions_not_in_a_namespace_are_found_in_the_default_one(client: TestClient) -> None:
    # Mistral 23 falls back to the default namespace (and to the system actions) when an
    # action is not in the namespace asked for, for GET and for DELETE alike.
    upload(client, "/v2/actions", ACTIONS)
    assert client.get("/v2/actions/greet?namespace=other").json()["namespace"] == ""
    assert client.get("/v2/actions/greet/other").json()["namespace"] == ""
    assert client.get("/v2/actions/std.echo?namespace=other").json()["name"] == "std.echo"
    assert client.delete("/v2/actions/greet/other").status_code == 204
    assert client.get("/v2/actions/greet").status_code == 404
    missing = client.delete("/v2/actions/greet?namespace=other")
    assert missing.json()["faultstring"] == (
        "Action definition not found [action_name=greet, namespace=other]"
    )


def test_update_and_delete_actions(client: TestClient) -> None:
    upload(client, "/v2/actions", ACTIONS)
    changed = ACTIONS.replace("Say hi", "Say hello")
    updated = upload(client, "/v2/actions", changed, "PUT")
    assert updated.status_code == 200
    assert updated.json()["actions"][0]["description"] == "Say hello"
    assert client.delete("/v2/actions/act2").status_code == 204
    missing = client.delete("/v2/actions/act2")
    assert missing.status_code == 404
    assert missing.json()["faultstring"] == (
        "Action definition not found [action_name=act2, namespace=]"
    )
    assert upload(client, "/v2/actions/validate", ACTIONS).json() == {"valid": True}
    assert upload(client, "/v2/actions/validate", ONE_WORKFLOW).json()["valid"] is False


def test_json_bodies_use_mistral_separators(client: TestClient) -> None:
    upload(client, "/v2/workflows", ONE_WORKFLOW)
    raw = client.get("/v2/workflows/solo?fields=name,interface").text
    assert raw.startswith('{"id": "')
    assert json.loads(raw)["interface"] == '{"input": ["a"], "output": []}'
