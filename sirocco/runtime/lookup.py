"""The engine's read-only look-ups, answered from the registry, the spec cache and the store."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from sirocco.actions import signature
from sirocco.actions.registry import ActionDescriptor, ActionRegistry
from sirocco.engine import ports
from sirocco.lang import specs
from sirocco.runtime.specs import SpecCache
from sirocco.store import executions, tables
from sirocco.store.database import Database


def signature_of(descriptor: ActionDescriptor) -> ports.ActionSignature:
    """The engine's view of a registered action's parameters."""
    parsed = signature.parse_input_text(descriptor.input_text)
    return ports.ActionSignature(
        name=descriptor.name,
        required=parsed.required,
        optional=dict(parsed.optional),
        accepts_any=parsed.accepts_any,
        is_sync=descriptor.is_sync,
        class_name=descriptor.class_path,
    )


class StoreLookup:
    """Implements :class:`sirocco.engine.ports.Lookup` for the runtime.

    Reads made while a step holds its transaction go through ``connection``
    (set by the step), so they see the step's own writes.
    """

    def __init__(self, database: Database, registry: ActionRegistry, spec_cache: SpecCache) -> None:
        self._database = database
        self._registry = registry
        self._specs = spec_cache
        self._signatures: dict[str, ports.ActionSignature | None] = {}
        self._local = threading.local()

    # The step sets the connection it runs in.
    def bind(self, connection: sa.Connection | None) -> None:
        self._local.connection = connection
        self._local.loaded = set()

    def loaded_action_ids(self) -> set[str]:
        """Ids of the stored action executions handed to the engine during this step."""
        loaded: set[str] | None = getattr(self._local, "loaded", None)
        return loaded if loaded is not None else set()

    def _connection(self) -> sa.Connection | None:
        return getattr(self._local, "connection", None)

    def _read(self, query: Any) -> list[Any]:
        connection = self._connection()
        if connection is not None:
            return list(connection.execute(query))
        with self._database.read() as reader:
            return list(reader.execute(query))

    def action_signature(self, name: str) -> ports.ActionSignature | None:
        if name not in self._signatures:
            descriptor = self._registry.get(name)
            self._signatures[name] = None if descriptor is None else signature_of(descriptor)
        return self._signatures[name]

    def adhoc_action(
        self, name: str, *, namespace: str, workbook: str | None
    ) -> specs.ActionSpec | None:
        table = tables.action_definitions
        candidates: list[tuple[str, str]] = []
        if workbook:
            candidates.append((f"{workbook}.{name}", namespace))
        candidates.append((name, namespace))
        if namespace:
            candidates.append((name, ""))
        for candidate_name, candidate_namespace in candidates:
            rows = self._read(
                sa.select(table.c.definition, table.c.workbook_name, table.c.updated_at).where(
                    table.c.name == candidate_name, table.c.namespace == candidate_namespace
                )
            )
            if rows:
                row = rows[0]
                return self._specs.action(candidate_name, row.definition, row.workbook_name)
        return None

    def item_results(self, task_execution_id: str) -> Sequence[Any]:
        connection = self._connection()
        if connection is not None:
            results = executions.item_results(connection, task_execution_id)
            if not results:
                results = executions.subworkflow_results(connection, task_execution_id)
            return results
        with self._database.read() as reader:
            return executions.item_results(reader, task_execution_id)

    def task_action_executions(
        self, task_execution_id: str
    ) -> Sequence[executions.ActionExecution]:
        table = tables.action_executions
        rows = self._read(
            sa.select(table)
            .where(table.c.task_execution_id == task_execution_id)
            .order_by(table.c.created_at, table.c.index)
        )
        found = [executions.action_record(row) for row in rows]
        self.loaded_action_ids().update(action.id for action in found)
        return found

    def task_executions(self, workflow_execution_id: str) -> Sequence[Mapping[str, Any]]:
        table = tables.task_executions
        rows = self._read(
            sa.select(table)
            .where(table.c.workflow_execution_id == workflow_execution_id)
            .order_by(table.c.seq)
        )
        return [task_dict(executions.task_record(row)) for row in rows]

    def executions(
        self,
        *,
        id: str | None,
        root_execution_id: str | None,
        state: str | None,
        from_time: str | None,
        to_time: str | None,
    ) -> Sequence[Mapping[str, Any]]:
        table = tables.workflow_executions
        query = sa.select(table)
        if id:
            query = query.where(table.c.id == id)
        if root_execution_id:
            query = query.where(table.c.root_execution_id == root_execution_id)
        if state:
            query = query.where(table.c.state == state)
        if from_time:
            query = query.where(table.c.created_at >= _parse_time(from_time))
        if to_time:
            query = query.where(table.c.created_at < _parse_time(to_time))
        return [execution_dict(row) for row in self._read(query.order_by(table.c.created_at))]


def _parse_time(text: str) -> Any:
    from datetime import datetime

    return datetime.fromisoformat(str(text))


def _time(value: Any) -> str | None:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else None


def task_dict(task: executions.TaskExecution) -> dict[str, Any]:
    return {
        "id": task.id,
        "name": task.name,
        "state": str(task.state),
        "state_info": task.state_info,
        "result": task.result,
        "published": dict(task.published),
        "type": task.type,
        "workflow_execution_id": task.workflow_execution_id,
        "created_at": _time(task.created_at),
        "updated_at": _time(task.updated_at),
    }


def execution_dict(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.workflow_name,
        "workflow_name": row.workflow_name,
        "state": row.state,
        "state_info": row.state_info,
        "input": row.input or {},
        "output": row.output,
        "params": row.params or {},
        "root_execution_id": row.root_execution_id,
        "task_execution_id": row.task_execution_id,
        "created_at": _time(row.created_at),
        "updated_at": _time(row.updated_at),
    }
