"""Maintenance mode, as Mistral 23 has it: pause every running execution, refuse new
work, and resume what it paused when it ends.

``PUT /maintenance {"status": "PAUSED"}`` records ``PAUSING`` and pauses every
RUNNING execution (root executions first: their sub-workflows pause with them),
remembering each one it paused. The mode becomes ``PAUSED`` once no action of an
unfinished execution runs any more; until then actions in flight finish (their
tasks complete, nothing new starts). ``{"status": "RUNNING"}`` resumes exactly the
executions maintenance paused, not the ones a user had paused before.

There is no background thread: whoever reads the mode through :meth:`Maintenance.refresh`
(``GET /maintenance``, the API's check of a changing request) moves it on. A pass
while ``PAUSING`` also pauses an execution that started in another process just
before the mode changed. Every step is safe to repeat, so two API processes, or a
process that died half-way, leave nothing lost: the records stay until each
execution is resumed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from sirocco import errors
from sirocco.store import maintenance as store
from sirocco.store.database import Database

log = logging.getLogger("sirocco.maintenance")

RUNNING, PAUSING, PAUSED = store.RUNNING, store.PAUSING, store.PAUSED


class Engine(Protocol):
    """The engine operations maintenance uses (``sirocco.runtime.service.Service``)."""

    def pause_workflow(self, execution_id: str) -> None: ...

    def resume_workflow(self, execution_id: str) -> None: ...


class MaintenanceError(errors.InputError):
    """The requested maintenance status is not one of Mistral's."""


def check_requested(status: object) -> str:
    """The status a client asked for, in Mistral's words when it can't be asked for.

    Raises:
        MaintenanceError: not a state, or the intermediate ``PAUSING``.
    """
    if status not in store.STATES:
        shown = "Unset" if status is None else status
        raise MaintenanceError(
            f"Not found {shown} maintenance state. List of states: {list(store.STATES)}"
        )
    if status == PAUSING:
        raise MaintenanceError(
            "PAUSING is intermediate state. Consider PAUSED, RUNNING as new state"
        )
    return str(status)


class Maintenance:
    """Maintenance mode of the cluster whose database this is."""

    def __init__(self, database: Database, engine: Engine, clock: Callable[[], datetime]) -> None:
        self._database = database
        self._engine = engine
        self._clock = clock

    @property
    def database(self) -> Database:
        """Where the status is kept."""
        return self._database

    def status(self) -> str:
        """The recorded status, without moving it on."""
        return store.current_status(self._database)

    def change(self, requested: object) -> str:
        """Ask for ``PAUSED`` or ``RUNNING``; answers as Mistral does: ``PAUSING`` when
        pausing begins, the status itself when it was already in force.

        Raises:
            MaintenanceError: ``requested`` is not a status one can ask for.
        """
        wanted = check_requested(requested)
        with self._database.transaction() as connection:
            current = store.status(connection, lock=True)
            if current != wanted:
                store.set_status(
                    connection, PAUSING if wanted == PAUSED else RUNNING, now=self._clock()
                )
        if current == wanted:
            self.refresh()  # finish what a process that died half-way left
            return current
        log.warning("maintenance mode: %s -> %s", current, wanted, extra={"status": wanted})
        if wanted == PAUSED:
            self._pause_running()
            return PAUSING
        self._resume_paused()
        return RUNNING

    def refresh(self) -> str:
        """The status, after moving it on: while ``PAUSING``, pause what still runs and
        become ``PAUSED`` once no action runs; while ``RUNNING``, resume any execution
        a former pass left paused."""
        current = self.status()
        if current == PAUSING:
            self._pause_running()
            with self._database.transaction() as connection:
                current = store.status(connection, lock=True)
                if (
                    current == PAUSING
                    and not store.running_executions(connection)
                    and store.actions_running(connection) == 0
                ):
                    store.set_status(connection, PAUSED, now=self._clock())
                    current = PAUSED
                    log.warning("maintenance mode: PAUSED", extra={"status": PAUSED})
        elif current == RUNNING:
            self._resume_paused()
        return current

    def _pause_running(self) -> None:
        with self._database.transaction() as connection:
            if store.status(connection, lock=True) != PAUSING:
                return
            ids = store.running_executions(connection)
            store.remember_paused(connection, ids, now=self._clock())
        for execution_id in ids:
            try:
                self._engine.pause_workflow(execution_id)
            except (errors.InvalidStateError, errors.NotFoundError):
                pass  # it ended (or was paused with its root) meanwhile: nothing to hold

    def _resume_paused(self) -> None:
        with self._database.read() as connection:
            ids = store.paused_by_maintenance(connection)
        for execution_id in ids:
            with self._database.read() as connection:
                if store.status(connection) != RUNNING:
                    return  # maintenance began again: keep the rest paused
            try:
                self._engine.resume_workflow(execution_id)
            except (errors.InvalidStateError, errors.NotFoundError):
                pass  # cancelled, deleted or resumed with its root: nothing to resume
            with self._database.transaction() as connection:
                store.forget_paused(connection, execution_id)


def readiness(database: Database) -> Callable[[], str | None]:
    """A readiness condition (``Health.condition``): why the process is not ready while
    maintenance mode is on, None otherwise."""

    def check() -> str | None:
        with database.read() as connection:
            status = store.status(connection)
        if status == RUNNING:
            return None
        return (
            f"in maintenance ({status}): executions are paused and changes refused "
            'until PUT /maintenance {"status": "RUNNING"}'
        )

    return check
