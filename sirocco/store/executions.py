"""The engine's conversation with the database: rows in, records out, decisions written."""

from __future__ import annotations

import dataclasses
import functools
import itertools
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple

import sqlalchemy as sa

from sirocco import references
from sirocco.engine import records
from sirocco.engine.states import State
from sirocco.lang import specs
from sirocco.store import blobs, driver_writes, json_text, tables

WorkflowExecution = records.WorkflowExecution
TaskExecution = records.TaskExecution
ActionExecution = records.ActionExecution

_workflow_executions = tables.workflow_executions
_task = tables.task_executions
_action = tables.action_executions

#: Rows per executemany. A step may write 100,000 rows to one table (a with-items
#: task); written a chunk at a time, their dicts and bound parameters never all
#: exist at once, while a thousand rows still keep the per-statement cost negligible.
CHUNK_ROWS = 1000


# ---------------------------------------------------------------- rows <-> records


def workflow_row(
    record: WorkflowExecution, offload: blobs.Offloader | None = None, with_input: bool = True
) -> dict[str, Any]:
    """The row of a workflow execution (large values moved to blobs when ``offload`` is given;
    without ``with_input``, the input is left as the record holds it)."""
    input, params, context, output = record.input, record.params, record.context, record.output
    if offload is not None:
        owner = record.id
        if with_input:
            input = offload.object_field(owner, _plain(input))
        params = offload.object_field(owner, _plain(params))
        context = offload.object_field(owner, _plain(context))
        output = offload.object_field(owner, _plain(output))
    return {
        "id": record.id,
        "workflow_name": record.workflow_name,
        "workflow_id": record.workflow_id,
        "namespace": record.namespace,
        "workbook_name": record.spec.workbook,
        "description": record.description,
        "definition": record.definition,
        "state": str(record.state),
        "state_info": record.state_info,
        "input": _plain(input),
        "params": _plain(params),
        "context": _plain(context),
        "output": _plain(output),
        "task_execution_id": record.task_execution_id,
        "root_execution_id": record.root_execution_id,
        "tags": list(record.tags),
        "runtime": _plain(record.runtime),
        "project_id": record.project_id,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
    }


def workflow_record(
    row: Any, spec: specs.WorkflowSpec, reader: blobs.Reader | None = None
) -> WorkflowExecution:
    read = reader.values if reader is not None else _as_stored
    return WorkflowExecution(
        id=row.id,
        workflow_name=row.workflow_name,
        workflow_id=row.workflow_id,
        namespace=row.namespace or "",
        description=row.description or "",
        definition=row.definition,
        spec=spec,
        state=State(row.state),
        state_info=row.state_info,
        input=read(row.input) or {},
        params=read(row.params) or {},
        context=read(row.context) or {},
        output=read(row.output),
        task_execution_id=row.task_execution_id,
        root_execution_id=row.root_execution_id,
        tags=tuple(row.tags or ()),
        runtime=row.runtime or {},
        project_id=row.project_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def task_row(record: TaskExecution, offload: blobs.Offloader | None = None) -> dict[str, Any]:
    """The row of a task execution (large values moved to blobs when ``offload`` is given)."""
    published, result = _plain(record.published), _plain(record.result)
    if offload is not None:
        published = offload.object_field(record.workflow_execution_id, published)
        result = offload.field(record.workflow_execution_id, result)
    return {
        "id": record.id,
        "workflow_execution_id": record.workflow_execution_id,
        "name": record.name,
        "seq": record.seq,
        "type": record.type,
        "state": str(record.state),
        "state_info": record.state_info,
        "triggered_by": list(record.triggered_by),
        "published": published,
        "result": result,
        "has_result": record.has_result,
        "next_tasks": [list(pair) for pair in record.next_tasks],
        "processed": record.processed,
        "error_handled": record.error_handled,
        "runtime": _plain(record.runtime.to_dict()),
        "tags": list(record.tags),
        "created_at": record.created_at,
        "updated_at": record.updated_at,
        "started_at": record.started_at,
        "finished_at": record.finished_at,
    }


def task_record(row: Any, reader: blobs.Reader | None = None) -> TaskExecution:
    published, result = row.published, row.result
    if reader is not None:
        published, result = reader.values(published), reader.value(result)
    return TaskExecution(
        id=row.id,
        workflow_execution_id=row.workflow_execution_id,
        name=row.name,
        seq=row.seq,
        type=row.type,
        state=State(row.state),
        state_info=row.state_info,
        triggered_by=tuple(row.triggered_by or ()),
        published=published or {},
        result=result,
        has_result=bool(row.has_result),
        next_tasks=tuple((pair[0], pair[1]) for pair in row.next_tasks or ()),
        processed=bool(row.processed),
        error_handled=bool(row.error_handled),
        runtime=records.TaskRuntime.from_dict(row.runtime or {}),
        tags=tuple(row.tags or ()),
        created_at=row.created_at,
        updated_at=row.updated_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
    )


def action_row(record: ActionExecution, offload: blobs.Offloader | None = None) -> dict[str, Any]:
    """The row of an action execution (large values moved to blobs when ``offload`` is given)."""
    input, output = _plain(record.input), _plain(record.output)
    if offload is not None:
        owner = record.workflow_execution_id or record.id
        input = offload.object_field(owner, input)
        output = offload.field(owner, output)
    return {
        "id": record.id,
        "name": record.name,
        "task_execution_id": record.task_execution_id,
        "workflow_execution_id": record.workflow_execution_id,
        "state": str(record.state),
        "state_info": record.state_info,
        "input": input,
        "output": output,
        "accepted": record.accepted,
        "index": record.index,
        "is_sync": record.is_sync,
        "attempt": record.attempt,
        "params": _plain(record.params),
        "description": record.description,
        "tags": list(record.tags),
        "project_id": record.project_id,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
    }


def action_record(row: Any, reader: blobs.Reader | None = None) -> ActionExecution:
    input, output = row.input, row.output
    if reader is not None:
        input, output = reader.values(input), reader.value(output)
    return ActionExecution(
        id=row.id,
        name=row.name,
        task_execution_id=row.task_execution_id,
        workflow_execution_id=row.workflow_execution_id,
        state=State(row.state),
        state_info=row.state_info,
        input=input or {},
        output=output,
        accepted=bool(row.accepted),
        index=row._mapping["index"],  # `row.index` is the tuple method
        is_sync=bool(row.is_sync),
        attempt=row.attempt,
        params=row.params or {},
        description=row.description or "",
        tags=tuple(row.tags or ()),
        project_id=row.project_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def blob_reader(connection: sa.Connection) -> blobs.Reader:
    """What turns the references of rows read on ``connection`` into lazy blobs."""
    return blobs.Reader(connection)


def _as_stored(value: Any) -> Any:
    return value


_AS_IS = frozenset({str, int, float, bool, type(None), dict, list})


def _plain(value: Any) -> Any:
    """A JSON-ready value: plain values pass as they are; nested mappings that are not
    dicts (ChainMap, MappingProxy) are converted by ``tables.JSONText`` when written."""
    if type(value) in _AS_IS:
        return value
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, tuple):
        return list(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return value


# ---------------------------------------------------------------- reads


_SELECT_WORKFLOW = sa.select(_workflow_executions).where(
    _workflow_executions.c.id == sa.bindparam("execution_id")
)
_LOCK_WORKFLOW = _SELECT_WORKFLOW.with_for_update()


def lock_workflow(connection: sa.Connection, execution_id: str) -> Any:
    """Read (and on PostgreSQL lock) one workflow execution row; None if absent."""
    query = _SELECT_WORKFLOW if connection.dialect.name == "sqlite" else _LOCK_WORKFLOW
    return connection.execute(query, {"execution_id": execution_id}).first()


_outbox = tables.outbox
#: Ids bound as one array (``= ANY``), not one parameter each (``IN``): the statement is
#: compiled once, whatever the number of ids (PostgreSQL only, as the statements below).
_IDS = sa.ARRAY(sa.String)
_LOCKED = _LOCK_WORKFLOW.cte("locked")
#: The rows that carried a step's events, deleted once the execution row is locked: the
#: delete's condition reads the locked row, so PostgreSQL takes the execution row's lock
#: before any outbox row's (the order of every engine: no deadlock over a duplicate).
_CONSUMED = (
    sa.delete(_outbox)
    .where(
        _outbox.c.id == sa.any_(sa.bindparam("outbox_ids", type_=_IDS)),
        sa.exists(sa.select(_LOCKED.c.id)),
    )
    .returning(_outbox.c.id)
    .cte("consumed")
)
_LOCK_CONSUMING = sa.select(
    _LOCKED,
    sa.select(sa.func.array_agg(_CONSUMED.c.id)).scalar_subquery().label("sirocco_consumed"),
)


def lock_workflow_consuming(
    connection: sa.Connection, execution_id: str, outbox_ids: Sequence[str]
) -> tuple[Any, set[str] | None]:
    """Lock one workflow execution row (as :func:`lock_workflow`) and delete the outbox rows
    ``outbox_ids`` that carried its events, in one round trip on PostgreSQL.

    Returns the row (None if absent) and the ids of the outbox rows deleted (those still
    there), or None for the ids when nothing was deleted here: when no ids are given, or
    when the execution row is absent (the caller deletes them itself). On SQLite the row
    is ``Locked`` (its id, version and project; ``whole_row`` reads the rest).
    """
    if connection.dialect.name == "sqlite":
        return _lock_consuming_sqlite(connection, execution_id, outbox_ids)
    if not outbox_ids:
        return lock_workflow(connection, execution_id), None
    row = connection.execute(
        _LOCK_CONSUMING, {"execution_id": execution_id, "outbox_ids": list(outbox_ids)}
    ).first()
    if row is None:
        return None, None
    return row, set(row.sirocco_consumed or ())


class Locked(NamedTuple):
    """What a step reads of its execution's row on SQLite (``lock_workflow_consuming``):
    enough while its snapshot is cached; ``whole_row`` reads the rest when it is not."""

    id: str
    version: int
    project_id: str | None


_LOCKED_COLUMNS = sa.select(
    _workflow_executions.c.id, _workflow_executions.c.version, _workflow_executions.c.project_id
).where(_workflow_executions.c.id == sa.bindparam("execution_id"))
#: Ids deleted by one statement at most (one statement per count up to this, cached).
_CONSUME_PER_STATEMENT = 16


@functools.lru_cache(maxsize=_CONSUME_PER_STATEMENT)
def _consume_statement(count: int) -> sa.sql.dml.ReturningDelete[tuple[str]]:
    ids: list[sa.BindParameter[str]] = [sa.bindparam(f"id_{index}") for index in range(count)]
    return sa.delete(_outbox).where(_outbox.c.id.in_(ids)).returning(_outbox.c.id)


def _lock_consuming_sqlite(
    connection: sa.Connection, execution_id: str, outbox_ids: Sequence[str]
) -> tuple[Locked | None, set[str] | None]:
    # Once per execution in every step: through the driver (``driver_writes.execute``);
    # SQLite's BEGIN IMMEDIATE has locked the whole file already.
    found = driver_writes.execute(connection, _LOCKED_COLUMNS, {"execution_id": execution_id})
    if not found:
        return None, None
    if not outbox_ids:
        return Locked._make(found[0]), None
    consumed: set[str] = set()
    for start in range(0, len(outbox_ids), _CONSUME_PER_STATEMENT):
        chunk = outbox_ids[start : start + _CONSUME_PER_STATEMENT]
        values = {f"id_{index}": item for index, item in enumerate(chunk)}
        deleted = driver_writes.execute(connection, _consume_statement(len(chunk)), values)
        consumed.update(row[0] for row in deleted)
    return Locked._make(found[0]), consumed


def whole_row(connection: sa.Connection, row: Any) -> Any:
    """The whole row of a locked execution: ``row`` itself, or read when it is ``Locked``."""
    if isinstance(row, Locked):
        return lock_workflow(connection, row.id)
    return row


def load_tasks(connection: sa.Connection, execution_id: str) -> list[TaskExecution]:
    rows = connection.execute(
        sa.select(_task).where(_task.c.workflow_execution_id == execution_id).order_by(_task.c.seq)
    )
    reader = blobs.Reader(connection)
    return [task_record(row, reader) for row in rows]


def _wide_part(part: str, chosen: sa.Table) -> sa.Select[Any]:
    """The rows of ``chosen`` as rows of :data:`_TASKS_AND_ACTIONS`: its own columns, NULL
    (typed, so that every part's values are read back as their column's) for the others'."""
    columns: list[Any] = [sa.literal(part).label("sirocco_part")]
    for table in (_task, _action):
        prefix = table.name[0]
        for column in table.c:
            value: Any = column if table is chosen else sa.type_coerce(sa.null(), column.type)
            columns.append(value.label(f"{prefix}_{column.name}"))
    return sa.select(*columns)


#: The tasks of one execution and some of its actions, in one statement (one round trip).
_TASKS_AND_ACTIONS = sa.union_all(
    _wide_part("t", _task).where(_task.c.workflow_execution_id == sa.bindparam("execution_id")),
    _wide_part("a", _action).where(_action.c.id == sa.any_(sa.bindparam("action_ids", type_=_IDS))),
)
_TASK_KEYS = tuple((f"t_{column.name}", column.name) for column in _task.c)
_ACTION_KEYS = tuple((f"a_{column.name}", column.name) for column in _action.c)
#: Actions asked for by id at most in one statement (as ``load_actions``'s chunks).
_ACTIONS_PER_STATEMENT = 500


class _Part:
    """One table's columns of a wide row, read as a row of that table (``row.name``,
    ``row._mapping``)."""

    __slots__ = ("_mapping",)

    def __init__(self, mapping: dict[str, Any]) -> None:
        self._mapping = mapping

    def __getattr__(self, name: str) -> Any:
        try:
            return self._mapping[name]
        except KeyError:
            raise AttributeError(name) from None


def load_tasks_and_actions(
    connection: sa.Connection, execution_id: str, action_ids: Sequence[str]
) -> tuple[list[TaskExecution], list[ActionExecution]]:
    """The tasks of an execution (by ``seq``) and the actions ``action_ids``: one round trip
    on PostgreSQL (the step's load of an execution it has no snapshot of), two on SQLite."""
    wanted = list(dict.fromkeys(action_ids))
    if connection.dialect.name == "sqlite" or len(wanted) > _ACTIONS_PER_STATEMENT:
        return load_tasks(connection, execution_id), load_actions(connection, wanted)
    rows = connection.execute(
        _TASKS_AND_ACTIONS, {"execution_id": execution_id, "action_ids": wanted}
    )
    reader = blobs.Reader(connection)
    tasks: list[TaskExecution] = []
    actions: list[ActionExecution] = []
    for row in rows:
        fields = row._mapping
        if row.sirocco_part == "t":
            task = _Part({name: fields[key] for key, name in _TASK_KEYS})
            tasks.append(task_record(task, reader))
        else:
            action = _Part({name: fields[key] for key, name in _ACTION_KEYS})
            actions.append(action_record(action, reader))
    tasks.sort(key=_seq)
    return tasks, actions


def _seq(task: TaskExecution) -> int:
    return task.seq


def load_actions(connection: sa.Connection, ids: Iterable[str]) -> list[ActionExecution]:
    wanted = list(dict.fromkeys(ids))
    found: list[ActionExecution] = []
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        rows = connection.execute(sa.select(_action).where(_action.c.id.in_(chunk)))
        reader = blobs.Reader(connection)
        found.extend(action_record(row, reader) for row in rows)
    return found


def item_results(
    connection: sa.Connection,
    task_execution_id: str,
    start: int | None = None,
    stop: int | None = None,
) -> list[Any]:
    """Accepted action outputs of a with-items task, in index order (the newest for an
    index run again); only the indexes in ``[start, stop)`` when those are given."""
    query = sa.select(_action.c.index, sa.type_coerce(_action.c.output, sa.Text)).where(
        _action.c.task_execution_id == task_execution_id, _action.c.accepted.is_(True)
    )
    if start is not None:
        query = query.where(_action.c.index >= start)
    if stop is not None:
        query = query.where(_action.c.index < stop)
    rows = connection.execute(query.order_by(_action.c.index, _action.c.created_at))
    # The stored JSON texts, decoded at once as one list: a decode per row
    # costs more than the rows themselves.
    by_index: dict[int, str] = {}
    for index, text in rows:
        by_index[index] = "null" if text is None else text
    if not by_index:
        return []
    joined = "[" + ",".join(by_index.values()) + "]"
    decoded: list[Any] = json.loads(joined)
    if references.REF_KEY in joined:  # some outputs are stored by reference
        reader = blobs.Reader(connection)
        return [reader.value(item) for item in decoded]
    if start is not None:
        # A chunk of the gather: the task's result is written from the chunks' texts.
        json_text.keep_list(decoded, joined)
    return decoded


def subworkflow_results(connection: sa.Connection, task_execution_id: str) -> list[Any]:
    """Outputs of the sub-workflows of a with-items workflow task, by index."""
    rows = connection.execute(
        sa.select(_workflow_executions.c.output, _workflow_executions.c.params)
        .where(_workflow_executions.c.task_execution_id == task_execution_id)
        .order_by(_workflow_executions.c.created_at)
    )
    reader = blobs.Reader(connection)
    pairs = [((row.params or {}).get("index", 0), reader.values(row.output)) for row in rows]
    return [output for _, output in sorted(pairs, key=lambda pair: pair[0])]


def running_actions(connection: sa.Connection) -> list[ActionExecution]:
    rows = connection.execute(
        sa.select(_action).where(_action.c.state == str(State.RUNNING), _action.c.is_sync.is_(True))
    )
    reader = blobs.Reader(connection)
    return [action_record(row, reader) for row in rows]


# ---------------------------------------------------------------- writes


_INSERT = {table.name: sa.insert(table) for table in (_workflow_executions, _task, _action)}

#: What a step may change on a workflow execution (its definition, input and identity never).
_WORKFLOW_MUTABLE = (
    "state",
    "state_info",
    "params",
    "context",
    "output",
    "runtime",
    "tags",
    "updated_at",
)
_UPDATE_WORKFLOW = (
    sa.update(_workflow_executions)
    .where(_workflow_executions.c.id == sa.bindparam("_id"))
    .values(
        {
            **{name: sa.bindparam(name) for name in _WORKFLOW_MUTABLE},
            "version": _workflow_executions.c.version + 1,
        }
    )
)


def workflow_update_row(
    record: WorkflowExecution, offload: blobs.Offloader | None = None
) -> dict[str, Any]:
    """The parameters of the update a step makes to a workflow execution (its input is
    not among them, so it is not offloaded again: that would store a blob no row uses)."""
    row = workflow_row(record, offload, with_input=False)
    return {"_id": record.id, **{name: row[name] for name in _WORKFLOW_MUTABLE}}


def update_workflows(connection: sa.Connection, rows: Iterable[dict[str, Any]]) -> None:
    execute_many(connection, _UPDATE_WORKFLOW, rows)


def insert_rows(connection: sa.Connection, table: sa.Table, rows: Iterable[dict[str, Any]]) -> None:
    """Insert rows, one executemany per chunk (``rows`` may be a generator)."""
    execute_many(connection, _INSERT[table.name], rows)


def update_rows(connection: sa.Connection, table: sa.Table, rows: Iterable[dict[str, Any]]) -> None:
    """Update rows (every column given), one executemany per chunk and shape
    (``rows`` may be a generator)."""
    for chunk in _chunks(rows):
        shapes: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for row in chunk:
            columns = tuple(name for name in row if name != "id")
            shapes.setdefault(columns, []).append(
                {"_id": row["id"], **{name: row[name] for name in columns}}
            )
        for columns, batch in shapes.items():
            _execute_chunk(connection, _update_statement(table, columns), batch)


def execute_many(
    connection: sa.Connection, statement: sa.Executable, rows: Iterable[dict[str, Any]]
) -> None:
    """Execute ``statement`` once per row, in one executemany per chunk of ``CHUNK_ROWS``.

    ``rows`` is consumed a chunk at a time: given a generator, only one chunk of
    row dicts exists at any moment.
    """
    for chunk in _chunks(rows):
        _execute_chunk(connection, statement, chunk)


def _execute_chunk(
    connection: sa.Connection, statement: sa.Executable, chunk: list[dict[str, Any]]
) -> None:
    # On SQLite straight through the driver (``driver_writes``): SQLAlchemy's per-row
    # parameter processing costs more than SQLite's write of the row.
    if connection.dialect.name == "sqlite":
        driver_writes.execute_many(connection, statement, chunk)
    else:
        connection.execute(statement, chunk)


def _chunks(rows: Iterable[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    iterator = iter(rows)
    while chunk := list(itertools.islice(iterator, CHUNK_ROWS)):
        yield chunk


@functools.lru_cache(maxsize=64)
def _update_statement(table: sa.Table, columns: tuple[str, ...]) -> sa.Update:
    """One statement object per shape, so SQLAlchemy compiles it once."""
    return (
        sa.update(table)
        .where(table.c.id == sa.bindparam("_id"))
        .values({name: sa.bindparam(name) for name in columns})
    )


def delete_execution_tree(connection: sa.Connection, execution_id: str) -> None:
    """Delete an execution with its tasks, actions and sub-workflow executions, and the
    blobs no other execution refers to."""
    deleted: list[str] = []
    _delete_tree(connection, execution_id, deleted)
    blobs.release(connection, deleted)


def _delete_tree(connection: sa.Connection, execution_id: str, deleted: list[str]) -> None:
    deleted.append(execution_id)
    children = [
        row.id
        for row in connection.execute(
            sa.select(_workflow_executions.c.id).where(
                _workflow_executions.c.task_execution_id.in_(
                    sa.select(_task.c.id).where(_task.c.workflow_execution_id == execution_id)
                )
            )
        )
    ]
    for child in children:
        _delete_tree(connection, child, deleted)
    task_ids = sa.select(_task.c.id).where(_task.c.workflow_execution_id == execution_id)
    connection.execute(sa.delete(_action).where(_action.c.task_execution_id.in_(task_ids)))
    connection.execute(sa.delete(_task).where(_task.c.workflow_execution_id == execution_id))
    connection.execute(
        sa.delete(tables.timers).where(tables.timers.c.workflow_execution_id == execution_id)
    )
    connection.execute(
        sa.delete(tables.outbox).where(tables.outbox.c.workflow_execution_id == execution_id)
    )
    connection.execute(
        sa.delete(_workflow_executions).where(_workflow_executions.c.id == execution_id)
    )


def finish_standalone_action(
    connection: sa.Connection,
    action_execution_id: str,
    *,
    state: State,
    result: Any,
    message: str | None,
    now: Any,
    as_created: bool = False,
) -> None:
    """Store the outcome of an action that runs outside any workflow. ``as_created``: a
    synchronous run, which Mistral 23 stores as it ends (not accepted, never updated)."""
    # Over the blob threshold, stored by reference as a workflow action's output is (the
    # action execution is its own owner: deleting it releases the blob).
    output = blobs.Offloader(connection).value(action_execution_id, result)
    values: dict[str, Any] = {"state": str(state), "output": output, "state_info": message}
    if not as_created:
        values.update(accepted=True, updated_at=now)
    connection.execute(sa.update(_action).where(_action.c.id == action_execution_id).values(values))
