"""Unit tests of the actions: call run() as the executor would, no server needed."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from types import SimpleNamespace

from mistral_lib import actions

from acme_actions.checksum import Checksum
from acme_actions.tickets import OpenTicket


def test_checksum() -> None:
    result = Checksum(text="abc").run(context=None)
    assert result == {"algorithm": "sha256", "digest": hashlib.sha256(b"abc").hexdigest()}


def test_unknown_algorithm_is_an_error_result() -> None:
    result = Checksum(text="abc", algorithm="rot13").run(context=None)
    assert isinstance(result, actions.Result)
    assert result.is_error() and result.error == {"unknown_algorithm": "rot13"}


def test_ticket_is_filed_and_completes_later(tmp_path: Path) -> None:
    inbox = tmp_path / "tickets.jsonl"
    execution = SimpleNamespace(
        action_execution_id="a1", callback_url="/v2/action_executions/a1",
        workflow_execution_id="w1",
    )
    action = OpenTicket(title="rotate keys", inbox=str(inbox))
    assert action.run(SimpleNamespace(execution=execution)) is None
    assert action.is_sync() is False
    assert json.loads(inbox.read_text())["callback_url"] == "/v2/action_executions/a1"
