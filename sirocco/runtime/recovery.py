"""At start: send again what a previous process committed but did not deliver.

Engine rows in the outbox go back to the engine's queue. A RunAction never started
is dispatched; one leased by an executor process is left to its heartbeats
(``heartbeats.py``). When the executor ran in the dead process too, an action it was
handed and that has no result died with it: it runs again where ``safe-rerun``
allows (or it has no side effect), else it fails.
"""

from __future__ import annotations

import dataclasses

from sirocco.engine import commands
from sirocco.engine.states import State
from sirocco.runtime import codec, in_flight
from sirocco.runtime.dispatch import Dispatcher
from sirocco.runtime.intake import Intake
from sirocco.runtime.work import Outgoing
from sirocco.store import executions, outbox, timers
from sirocco.store.database import Database


def recover(
    database: Database, intake: Intake, dispatcher: Dispatcher, *, lost_actions: bool = True
) -> None:
    """Send again what was committed but not delivered before a crash.

    ``lost_actions``: the executor ran in this process too, so an action that
    was handed over and has no result died with it: run it again where
    ``safe-rerun`` allows (or it has no side effect), else fail it. Leave it
    False when executors are separate processes: they may still be running.
    """
    rows = outbox.everything(database)
    running: dict[str, executions.ActionExecution] = {}
    if lost_actions:
        with database.read() as connection:
            running = {action.id: action for action in executions.running_actions(connection)}
    if lost_actions:
        # Timers this (dead) process had claimed to deliver itself are free again.
        timers.release_all(database)
    outgoing = Outgoing()
    finished: list[str] = []
    for row in rows:
        if row.kind != outbox.Kind.RUN_ACTION:
            intake.deliver(outbox.Kind(row.kind), row.id, row.payload)
            continue
        command = codec.decode(row.payload)
        if row.claimed_until is None:
            outgoing.items.append((row.id, command))  # never started
        elif row.claimed_until < in_flight.HANDED:
            continue  # leased by an executor process: its heartbeats tell (heartbeats.py)
        elif not lost_actions:
            continue
        elif command.action_execution_id not in running:
            finished.append(row.id)  # completed, or async and waiting for the API
        elif in_flight.runs_again(command):
            outgoing.items.append((row.id, _redelivered(command)))
        else:
            intake.event(
                command.completed(State.ERROR, None, in_flight.failure_message(command)),
                outbox_id=row.id,
            )
    if finished:
        outbox.remove(database, finished)
    dispatcher.dispatch(outgoing)


def _redelivered(command: commands.RunAction) -> commands.RunAction:
    return dataclasses.replace(command, execution={**command.execution, "redelivered": True})
