"""PUT of workbooks and ad-hoc actions with an unchanged text: ``updated_at`` is sent as
null, as Mistral 23 sends it (issue 9, difference 10; workflows and environments are in
``tests/unit/api/test_api_mistral_answers.py``).

The oracle answered these very requests: PUT /v2/workbooks with the same text, 200 and
``"updated_at": null`` (the key present); PUT /v2/actions, each action with
``"updated_at": null``; after a change, both with a time.
"""

from __future__ import annotations

from fastapi.testclient import TestClient

WORKBOOK = """version: '2.0'
name: c4_book
workflows:
  w:
    tasks:
      t:
        action: std.noop
"""
ACTIONS = """version: '2.0'
c4_action:
  base: std.echo
  base-input:
    output: 1
"""
TEXT = {"content-type": "text/plain"}


def test_an_unchanged_workbook_or_action_keeps_updated_at_null(client: TestClient) -> None:
    for path, text, changed in (
        ("/v2/workbooks", WORKBOOK, WORKBOOK.replace("std.noop", "std.echo output=2")),
        ("/v2/actions", ACTIONS, ACTIONS.replace("output: 1", "output: 2")),
    ):
        assert client.post(path, content=text, headers=TEXT).status_code == 201
        same = client.put(path, content=text, headers=TEXT)
        assert same.status_code == 200, same.text
        shown = same.json()["actions"] if path == "/v2/actions" else [same.json()]
        assert [("updated_at" in item, item["updated_at"]) for item in shown] == [(True, None)]
        after = client.put(path, content=changed, headers=TEXT)
        assert after.status_code == 200, after.text
        shown = after.json()["actions"] if path == "/v2/actions" else [after.json()]
        assert [item["updated_at"] is not None for item in shown] == [True]
