"""A step's few writes as one statement on PostgreSQL: each insert or update a
data-modifying CTE of one ``SELECT``, which also sends the step's notifications.

psycopg sends every statement as a round trip of its own. The step of one execution
writes a handful of rows: the API's start writes the workflow, task, action and outbox
rows and a NOTIFY (five round trips), the engine's step on an action's result updates
the action, the task and the workflow (three). Here each set is one round trip.

PostgreSQL runs every data-modifying CTE of a statement, read or not, all on the same
snapshot and in an unspecified order: so no part may read what another writes, and no
row may be written by two parts (only one of the two writes would take effect). The
caller checks the second (:func:`distinct`); inserts and updates by id read nothing.
Foreign keys are checked at the end of the statement, when every part has run.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from sirocco.store import tables

#: Rows written together at most; a larger flush goes table by table (``executemany``),
#: and each shape of statement (tables, columns, number of rows) is compiled once.
MOST_ROWS = 16


@dataclass(frozen=True, slots=True)
class Write:
    """One row to insert, or to update by its ``id`` (every other column given)."""

    table: sa.Table
    row: dict[str, Any]
    update: bool = False
    #: Also ``version = version + 1`` (an update of a workflow execution).
    bump: bool = False


def distinct(keys: Iterable[tuple[str, str]]) -> bool:
    """Whether no (table, id) comes twice: the rows one statement may write."""
    seen: set[tuple[str, str]] = set()
    for key in keys:
        if key in seen:
            return False
        seen.add(key)
    return True


def execute(connection: sa.Connection, writes: Sequence[Write], channels: Sequence[str]) -> None:
    """Write every row of ``writes`` and notify ``channels`` (at commit), in one statement."""
    if not writes and not channels:
        return
    shapes = tuple((item.table.name, tuple(item.row), item.update, item.bump) for item in writes)
    values: dict[str, Any] = {}
    for index, item in enumerate(writes):
        for key, value in item.row.items():
            values[f"w{index}_{key}"] = value
    for index, channel in enumerate(channels):
        values[f"n{index}"] = channel
    connection.execute(_statement(shapes, len(channels)), values).close()


@functools.lru_cache(maxsize=256)
def _statement(shapes: tuple[tuple[str, tuple[str, ...], bool, bool], ...], channels: int) -> Any:
    """The statement of one shape (each part's table, columns, kind), built once."""
    parts = []
    for index, (name, keys, update, bump) in enumerate(shapes):
        table = tables.metadata.tables[name]
        assigned: dict[str, Any] = {
            key: sa.bindparam(f"w{index}_{key}", type_=table.c[key].type)
            for key in keys
            if not (update and key == "id")
        }
        if bump:
            assigned["version"] = table.c.version + 1
        if update:
            chosen = table.c.id == sa.bindparam(f"w{index}_id", type_=table.c.id.type)
            parts.append(sa.update(table).where(chosen).values(assigned).cte(f"w{index}"))
        else:
            parts.append(sa.insert(table).values(assigned).cte(f"w{index}"))
    selected: list[Any] = [
        sa.func.pg_notify(sa.bindparam(f"n{index}", type_=sa.String), sa.literal_column("''"))
        for index in range(channels)
    ] or [sa.literal_column("1")]
    return sa.select(*selected).add_cte(*parts)
