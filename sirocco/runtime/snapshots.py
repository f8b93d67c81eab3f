"""The engine's working state of live executions, loaded once and kept between steps.

A snapshot is reused while its execution row's version is unchanged: a step that
another engine (or the API) committed bumps the version, and the next step loads
the snapshot again. A step that rolls back drops what it touched.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sirocco import engine
from sirocco.engine.states import TERMINAL
from sirocco.runtime.lookup import StepLookup
from sirocco.runtime.specs import SpecCache
from sirocco.store import executions
from sirocco.store.database import Connection


class SnapshotCache:
    """Snapshots of live executions, reused while their row version is unchanged."""

    def __init__(self, size: int = 2000) -> None:
        self._size = size
        self._items: dict[str, tuple[int, engine.Snapshot]] = {}

    def get(self, execution_id: str, version: int) -> engine.Snapshot | None:
        found = self._items.get(execution_id)
        if found is None or found[0] != version:
            return None
        return found[1]

    def put(self, execution_id: str, version: int, snapshot: engine.Snapshot) -> None:
        if execution_id not in self._items and len(self._items) >= self._size:
            self._items.pop(next(iter(self._items)))
        self._items[execution_id] = (version, snapshot)

    def drop(self, execution_id: str) -> None:
        self._items.pop(execution_id, None)

    def keep(self, execution_id: str, version: int, snapshot: engine.Snapshot | None) -> None:
        """After a commit: keep a live execution's snapshot, forget an ended one's."""
        if snapshot is None or snapshot.workflow.state in TERMINAL:
            self.drop(execution_id)
        else:
            self.put(execution_id, version, snapshot)


def load(
    connection: Connection,
    lookup: StepLookup,
    row: Any,
    specs: SpecCache,
    cache: SnapshotCache,
    actions: Sequence[str] = (),
) -> engine.Snapshot:
    """The snapshot of the execution whose locked row is ``row``: the cached one while
    its version holds, else its records read from the store, with the action executions
    ``actions`` (those the events refer to) read in the same round trip."""
    lookup = lookup.for_project(row.project_id)  # names resolve in the execution's project
    cached = cache.get(row.id, row.version)
    if cached is not None:
        cached.lookup = lookup  # kept between steps; it asks through this step's connection
        return cached
    row = executions.whole_row(connection, row)
    spec = specs.workflow(row.workflow_name, row.definition, row.workbook_name)
    workflow = executions.workflow_record(row, spec, executions.blob_reader(connection))
    tasks, loaded = executions.load_tasks_and_actions(connection, row.id, actions)
    return engine.Snapshot(workflow, tasks, loaded, lookup)
