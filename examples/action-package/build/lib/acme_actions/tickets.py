"""``acme.open_ticket``: an asynchronous action that a person completes through the API."""

from __future__ import annotations

import json
from typing import Any

from mistral_lib import actions


class OpenTicket(actions.Action):
    """Files a ticket in ``inbox`` (a JSON-lines file standing for a ticket system);
    the result is whatever is sent to PUT /v2/action_executions/<id> when it is closed."""

    def __init__(self, title: str, inbox: str) -> None:
        super().__init__()
        self.title = title
        self.inbox = inbox

    def run(self, context: Any) -> None:
        # The action execution's id and the URL to complete it come with the context.
        ticket = {
            "title": self.title,
            "action_execution_id": context.execution.action_execution_id,
            "callback_url": context.execution.callback_url,
            "workflow_execution_id": context.execution.workflow_execution_id,
        }
        with open(self.inbox, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(ticket) + "\n")
        # An asynchronous action returns nothing: its result arrives later.

    def is_sync(self) -> bool:
        return False
