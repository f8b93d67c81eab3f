"""Draft.env: what ``env()`` reads, kept while the workflow's params and runtime stay."""

from __future__ import annotations

from datetime import datetime

from sirocco import testing
from sirocco.engine import Snapshot, records
from sirocco.engine.draft import Draft

from . import parsing

NOW = datetime(2026, 1, 2)
SPEC = parsing.workflow("version: '2.0'\nwf:\n  tasks:\n    t:\n      action: std.noop\n")


def _draft(**fields: object) -> Draft:
    workflow = records.WorkflowExecution(
        id="wf-1", workflow_name="wf", spec=SPEC, created_at=NOW, **fields
    )
    snapshot = Snapshot(workflow, [], [], testing.FakeLookup(testing.Run()))
    return Draft(snapshot, now=NOW, new_id=lambda: "id")


def test_the_env_follows_the_params_and_the_runtime_of_the_draft_workflow() -> None:
    draft = _draft(params={"env": {"a": 1}})
    assert draft.env == {"a": 1}
    draft.change_workflow(state_info="other fields change nothing")
    assert draft.env == {"a": 1}
    draft.change_workflow(params={"env": {"a": 2}})
    assert draft.env == {"a": 2}
    # A sub-workflow reads its root's env, kept in its runtime.
    draft.change_workflow(runtime={records.ROOT_ENV: {"root": True}})
    assert draft.env == {"root": True}
    draft.change_workflow(runtime={})
    assert draft.env == {"a": 2}
    assert _draft().env == {}
