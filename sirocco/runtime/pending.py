"""What one step leaves to write: its records, commands, timers and follow-up events,
gathered over all its decide rounds and added once to the batch's writes."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sirocco import ids
from sirocco.engine import commands, events, records
from sirocco.engine.states import TERMINAL
from sirocco.runtime import codec, in_flight, tracing
from sirocco.runtime.work import Outgoing
from sirocco.store import notify, outbox, writer

log = logging.getLogger("sirocco.engine")


@dataclass(slots=True)
class Pending:
    """Records and commands of all the rounds of one step, written once."""

    workflow: records.WorkflowExecution | None = None
    workflow_is_new: bool = False
    previous_state: str | None = None
    #: Records by id at their latest value, those to insert apart from those to update.
    new_tasks: dict[str, records.TaskExecution] = field(default_factory=dict)
    task_updates: dict[str, records.TaskExecution] = field(default_factory=dict)
    new_actions: dict[str, records.ActionExecution] = field(default_factory=dict)
    action_updates: dict[str, records.ActionExecution] = field(default_factory=dict)
    commands: list[commands.Command] = field(default_factory=list)
    inline: list[events.Event] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True, kw_only=True)
class OutboxRow:
    """An outbox row to write, its payload encoded only when it is written."""

    id: str
    workflow_execution_id: str | None
    kind: str
    payload: commands.Command | events.Event
    created_at: datetime
    claimed_until: datetime | None
    target: str | None = None
    holder: str | None = None

    def row(self) -> dict[str, Any]:
        return outbox.row(
            id=self.id,
            kind=self.kind,
            payload=codec.encode(self.payload),
            created_at=self.created_at,
            workflow_execution_id=self.workflow_execution_id,
            claimed_until=self.claimed_until,
            target=self.target,
            holder=self.holder,
        )


def write(
    writes: writer.Writes,
    pending: Pending,
    outgoing: Outgoing,
    *,
    now: datetime,
    wake: str | None,
    bump: str | None = None,
    root: str | None = None,
    holder: str | None = None,
) -> None:
    """Add one execution's changes to the batch's writes (flushed together); ``wake``:
    the channel to wake when it leaves actions for executor processes; ``root``: its
    root execution (the trace its actions carry when tracing is on); ``holder``: this
    process's name when its own executor runs the actions (see ``handed`` below)."""
    claim_until = now + outbox.CLAIM_FOR  # one value for every row this call writes
    workflow = pending.workflow
    if workflow is not None:
        if pending.workflow_is_new:
            writes.new_workflows.append(workflow)
        else:
            writes.workflow_updates.append(workflow)
        if workflow.state in TERMINAL:
            outgoing.ended.append((workflow.id, str(workflow.state)))
        if str(workflow.state) != pending.previous_state:
            outgoing.changed.append(
                (workflow.id, workflow.workflow_name, str(workflow.state), workflow.state_info)
            )
    elif bump is not None:
        # Bump the version so that another engine drops its cached snapshot.
        writes.bumps.append(bump)
    writes.new_tasks.extend(pending.new_tasks.values())
    writes.task_updates.extend(pending.task_updates.values())
    writes.new_actions.extend(pending.new_actions.values())
    writes.action_updates.extend(pending.action_updates.values())
    for command in pending.commands:
        if isinstance(command, commands.ScheduleTimer):
            timer_id = ids.new_id()
            due_now = command.due <= now
            writes.timers.append(
                {
                    "id": timer_id,
                    "due": command.due,
                    "workflow_execution_id": command.event.workflow_execution_id,
                    "payload": codec.encode(command.event),
                    # Due now: this process delivers it right after the commit; the
                    # timer thread takes it over only if that never happens.
                    "claimed_until": claim_until if due_now else None,
                    "created_at": now,
                }
            )
            if due_now:
                outgoing.timers_now.append((timer_id, command.event))
            else:
                outgoing.timers_due.append(command.due)
        elif isinstance(command, commands.WorkflowEnded):
            continue
        else:
            if isinstance(command, commands.RunAction) and root and tracing.enabled():
                command = tracing.stamp(command, root)
            is_action = isinstance(command, commands.RunAction)
            if is_action and wake is not None:
                # An action for a named target wakes every executor (only some serve it).
                named = isinstance(command, commands.RunAction) and command.target is not None
                writes.wake.add(notify.EXECUTOR if named and wake == notify.ONE_EXECUTOR else wake)
            # A RunAction row has the action execution's id: whoever completes the
            # action (an executor, the API) deletes it by that id.
            handed = False
            if isinstance(command, commands.RunAction):
                outbox_id = command.action_execution_id
                # Run by this process's executor right after the commit: the row is
                # written handed to it (after a crash the action may have run, as
                # ``in_flight`` rules), with no transaction of its own to mark it.
                handed = holder is not None and in_flight.needs_handing(command)
                if handed:
                    outgoing.handed.add(outbox_id)
            else:
                outbox_id = ids.new_id()
            writes.outbox.append(
                OutboxRow(
                    id=outbox_id,
                    workflow_execution_id=getattr(command, "workflow_execution_id", None),
                    kind=outbox.Kind(type(command).__name__),
                    payload=command,
                    created_at=now,
                    # This process delivers the events it made itself, right after the
                    # commit; another engine takes them over only if that never happens.
                    claimed_until=(
                        outbox.HANDED if handed else None if is_action else claim_until
                    ),
                    target=command.target if isinstance(command, commands.RunAction) else None,
                    holder=holder if handed else None,
                )
            )
            outgoing.items.append((outbox_id, command))
    for event in pending.inline:
        # Results decided on in a later batch (the rounds ran out): durable until then.
        outbox_id = ids.new_id()
        writes.outbox.append(
            OutboxRow(
                id=outbox_id,
                workflow_execution_id=event.workflow_execution_id,
                kind=outbox.Kind.ACTION_RESULT,
                payload=event,
                created_at=now,
                claimed_until=claim_until,
            )
        )
        outgoing.followups.append((outbox_id, event))
    for problem in pending.problems:
        log.warning("engine refused or failed: %s", problem, extra={"problem": problem})
        if bump is not None:
            outgoing.problems.append((bump, problem))
