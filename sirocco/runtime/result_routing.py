"""Where an action's outcome goes: the one place that tells a workflow task's action
from a standalone action execution, and says how each outcome is handed back.

* **A task's action** (its command names a workflow execution): the outcome becomes an
  ``ActionCompleted`` event for the engine. In the process that runs the engine, the
  event is queued on its intake (:func:`report_here`); elsewhere (an executor process,
  or the heartbeat check failing an action whose executor went silent), the RunAction
  row is replaced by an ActionResult row in the caller's transaction
  (:func:`hand_back`), which a broker or a poller then brings to an engine.
* **A standalone action** (``POST /v2/action_executions``, no workflow): no engine is
  involved. The outcome is stored on its action execution, and its RunAction row, if
  it has one (an executor process took it from the outbox), is deleted.

The executor pool, the executor process and the heartbeat check all report through
here, so a new kind of destination (a result sent by reference, say) is added once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sirocco import ids
from sirocco.engine import commands, events
from sirocco.engine.states import State
from sirocco.runtime import codec, delivery
from sirocco.store import blobs, executions, leases, outbox
from sirocco.store.database import Database


def is_standalone(command: commands.RunAction) -> bool:
    """Whether ``command`` runs an action of no workflow (its outcome goes to its action
    execution, not to an engine)."""
    return command.workflow_execution_id is None


@dataclass(frozen=True, slots=True)
class HandedBack:
    """The ActionResult row that now holds a task action's outcome."""

    result_id: str
    event: events.ActionCompleted
    payload: dict[str, Any]

    def parcel(self) -> delivery.Parcel:
        """The parcel that announces the row to the engines (to the one whose share its
        execution is)."""
        return delivery.Parcel(
            kind=outbox.Kind.ACTION_RESULT,
            outbox_id=self.result_id,
            payload=self.payload,
            execution=self.event.workflow_execution_id,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """An action's outcome to hand back: what ran (its RunAction row ``row_id``) and how
    it ended."""

    row_id: str
    command: commands.RunAction
    state: State
    result: Any = None
    message: str | None = None
    #: When the lease of the executor that ran it began (see ``held_by``).
    held_since: datetime | None = None


def hand_back(
    connection: Any,
    row_id: str,
    command: commands.RunAction,
    state: State,
    result: Any,
    message: str | None,
    *,
    now: datetime,
    claimed_until: datetime | None = None,
    announce: str | None = None,
    new_id: Callable[[], str] = ids.new_id,
) -> HandedBack | None:
    """Hand back the outcome of the RunAction row ``row_id`` in the caller's transaction
    (see :func:`hand_back_many`)."""
    outcome = Outcome(row_id=row_id, command=command, state=state, result=result, message=message)
    return hand_back_many(
        connection,
        [outcome],
        now=now,
        claimed_until=claimed_until,
        announce=announce,
        new_id=new_id,
    )[0]


def hand_back_many(
    connection: Any,
    outcomes: Sequence[Outcome],
    *,
    now: datetime,
    claimed_until: datetime | None = None,
    announce: str | None = None,
    new_id: Callable[[], str] = ids.new_id,
    last: bool = False,
    unflushed: bool = False,
    held_by: str | None = None,
) -> list[HandedBack | None]:
    """Hand back outcomes in the caller's transaction: a task's action gets an ActionResult
    row in place of its RunAction row (the rows of every task's action in one statement;
    ``claimed_until``: a broker announces them, so pollers leave them alone until then;
    ``announce``: the NOTIFY channel their statement wakes at commit); a standalone
    action's outcome is stored on its action execution and its row deleted. Returns, in
    the order of ``outcomes``, what each task's action was handed back as (None for a
    standalone action).

    An outcome whose RunAction row is gone is dropped (None): the action was handed back
    already, by the heartbeat check (its executor missed its heartbeats, though alive) or
    by another executor that ran it again. The first outcome stands, as the engine keeps
    the first result of an action. ``held_by``: the executor that ran the actions; an
    outcome counts only while its row is still on the lease that executor took at the
    outcome's ``held_since`` (``leases.hand_back_many``)."""
    handed: list[HandedBack | None] = []
    rows: list[leases.HandBack] = []
    seen: set[str] = set()
    for outcome in outcomes:
        command = outcome.command
        if outcome.row_id in seen:
            # The same row twice in one batch (its lease ran out and this executor took it
            # again): the row is replaced once, by the first outcome.
            handed.append(None)
            continue
        seen.add(outcome.row_id)
        if is_standalone(command):
            if leases.delete(
                connection, outcome.row_id, held_by=held_by, held_since=outcome.held_since
            ):
                executions.finish_standalone_action(
                    connection,
                    command.action_execution_id,
                    state=outcome.state,
                    result=outcome.result,
                    message=outcome.message,
                    now=now,
                )
            handed.append(None)
            continue
        event = command.completed(outcome.state, outcome.result, outcome.message)
        # A result over the blob threshold is stored here, once, in this transaction: the
        # row (and the parcel) carries its reference, which an engine takes as a lazy blob.
        stored = blobs.claim_check(connection, event.workflow_execution_id, outcome.result)
        sent = event if stored is outcome.result else dataclasses.replace(event, result=stored)
        one = HandedBack(result_id=new_id(), event=event, payload=codec.encode(sent))
        rows.append(
            leases.HandBack(
                outcome.row_id,
                one.result_id,
                command.workflow_execution_id,
                one.payload,
                outcome.held_since,
            )
        )
        handed.append(one)
    # ``last``: nothing follows in the caller's transaction; the statement commits it.
    # ``unflushed``: it returns before its flush (``leases.hand_back_many``).
    # Seen before its flush, or returning before it: not when a standalone action's
    # outcome, which a client reads (GET /v2/action_executions), rides with it.
    standalone = any(is_standalone(o.command) for o in outcomes)
    replaced = leases.hand_back_many(
        connection, rows, now=now, claimed_until=claimed_until, announce=announce, last=last,
        unflushed=unflushed and last and not standalone, held_by=held_by, early=not standalone,
    )  # fmt: skip
    if len(replaced) < len(rows):
        gone = {row.result_id for row in rows if row.run_action_id not in replaced}
        handed = [one if one is None or one.result_id not in gone else None for one in handed]
    return handed


def report_here(
    database: Database,
    queue_event: Callable[[events.ActionCompleted, str], None],
    command: commands.RunAction,
    state: State,
    result: Any,
    message: str | None,
    *,
    now: Callable[[], datetime],
) -> None:
    """Report an outcome in the process that runs the engine: a task's action as an event
    queued by ``queue_event(event, outbox_id)`` (its RunAction row has the action
    execution's id, which the step that applies it deletes); a standalone action's
    outcome stored on its action execution at once (it was run without an outbox row)."""
    if is_standalone(command):
        finish_standalone(database, command.action_execution_id, state, result, message, now=now())
        return
    queue_event(command.completed(state, result, message), command.action_execution_id)


def finish_standalone(
    database: Database,
    action_execution_id: str,
    state: State,
    result: Any,
    message: str | None,
    *,
    now: datetime,
    as_created: bool = False,
) -> None:
    """Store a standalone action's outcome on its action execution, in a transaction of
    its own (``as_created``: dated as created, for a run the API completes at once)."""
    with database.transaction() as connection:
        executions.finish_standalone_action(
            connection,
            action_execution_id,
            state=state,
            result=result,
            message=message,
            now=now,
            as_created=as_created,
        )
