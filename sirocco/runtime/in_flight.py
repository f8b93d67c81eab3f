"""Actions in flight when a process stops, and what becomes of them when work resumes.

Mistral's rule: an action whose run was handed to an executor that then went
away may have had its effect or not; it is run again only when its task says
``safe-rerun: true`` (or it has no effect at all), otherwise it fails. The
engine loop applies the rule on start-up (``Runtime.recover``); ``sirocco run``
tells, when interrupted, which actions it will apply to.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sirocco.actions import std
from sirocco.engine import commands
from sirocco.runtime import codec
from sirocco.store import outbox
from sirocco.store.database import Database

#: ``claimed_until`` of a RunAction row once handed to this process's executor.
HANDED = outbox.HANDED

#: What Sirocco adds to Mistral's message when it fails such an action.
EXPLANATION = (
    "Its process stopped (interrupted, killed or crashed) before the action reported a "
    "result, so whether it took effect is unknown. Such an action runs again only if its "
    "task says 'safe-rerun: true' (set it where running the action twice is harmless); "
    "otherwise check its effect and rerun the task."
)


def runs_again(command: commands.RunAction) -> bool:
    """Whether ``command``, handed over to an executor that went away, is run again: its
    task says ``safe-rerun``, or its action declares that running it again is harmless
    (``safe_rerun`` of a standard action, see ``sirocco.actions.std.standard``)."""
    return command.safe_rerun or std.safe_rerun_by_default(command.action_name)


def needs_handing(command: commands.RunAction) -> bool:
    """Whether the row of ``command`` is marked handed before it runs in this process:
    not for an action that may run again anyway (it skips that transaction)."""
    return not std.safe_rerun_by_default(command.action_name)


def failure_message(command: commands.RunAction) -> str:
    """The ``state_info`` of a handed-over action that fails instead of running again:
    Mistral's message (its first two sentences), then why and how ``safe-rerun`` helps."""
    return (
        "Request to run an action was redelivered, but it cannot be re-run safely. "
        "The only safe thing to do is fail it "
        f"[action={command.action_name}, action_ex_id={command.action_execution_id}]. "
        + EXPLANATION
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class InFlight:
    """An action handed to an executor of this process that has not reported yet."""

    task_name: str
    action_name: str
    runs_again: bool


def handed_over(database: Database, workflow_execution_ids: Collection[str]) -> list[InFlight]:
    """The actions of these executions handed to an executor and not finished."""
    if not workflow_execution_ids:
        return []
    found = []
    for payload in outbox.handed_payloads(database, workflow_execution_ids):
        command = codec.decode(payload)
        if isinstance(command, commands.RunAction):
            found.append(
                InFlight(
                    task_name=str(command.execution.get("task_name") or "?"),
                    action_name=command.action_name,
                    runs_again=runs_again(command),
                )
            )
    return found
