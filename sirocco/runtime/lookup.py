"""The engine's read-only look-ups, answered from the registry, the spec cache and the store."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sirocco import errors, references
from sirocco.actions import dynamic as dynamic_actions
from sirocco.actions import signature
from sirocco.actions.registry import ActionDescriptor, ActionRegistry
from sirocco.engine import ports
from sirocco.lang import specs
from sirocco.runtime.dynamic_actions import DynamicActions
from sirocco.runtime.specs import SpecCache
from sirocco.store import blobs, code_sources, executions, json_text, lookups
from sirocco.store.database import Connection


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


def dynamic_run_name(definition: code_sources.Loadable) -> str:
    return dynamic_actions.run_name(
        definition.code_source_id, definition.class_name, definition.action_name
    )


class StoreLookup:
    """What the engine's look-ups need for the whole process: the registry, the spec
    cache and the action signatures made from it. A step asks it for a
    :class:`StepLookup` over the step's own connection."""

    def __init__(
        self,
        registry: ActionRegistry,
        spec_cache: SpecCache,
        dynamic: DynamicActions | None = None,
    ) -> None:
        self.registry = registry
        self.specs = spec_cache
        self.dynamic = dynamic
        self._signatures: dict[str, ports.ActionSignature | None] = {}

    def bound(self, connection: Connection) -> StepLookup:
        """Look-ups answered through ``connection``, so they see the step's own writes."""
        return StepLookup(self, connection)

    def action_signature(self, name: str) -> ports.ActionSignature | None:
        if name not in self._signatures:
            descriptor = self.registry.get(name)
            self._signatures[name] = None if descriptor is None else signature_of(descriptor)
        return self._signatures[name]


class StepLookup:
    """Implements :class:`sirocco.engine.ports.Lookup` for one step's transaction.

    :meth:`for_project` gives the look-ups of one execution: names resolve in its
    project (and public definitions), never in another project's.
    """

    def __init__(
        self,
        shared: StoreLookup,
        connection: Connection,
        *,
        project_id: str | None = None,
        loaded: set[str] | None = None,
    ) -> None:
        self._shared = shared
        self._connection = connection
        #: The project whose definitions names resolve to (None: any, the default project).
        self.project_id = project_id
        #: Ids of the stored action executions handed to the engine during this step.
        self.loaded: set[str] = set() if loaded is None else loaded

    def for_project(self, project_id: str | None) -> StepLookup:
        """The same step's look-ups for an execution of ``project_id`` (sharing ``loaded``)."""
        if project_id == self.project_id:
            return self
        return StepLookup(self._shared, self._connection, project_id=project_id, loaded=self.loaded)

    def action_signature(self, name: str, *, namespace: str = "") -> ports.ActionSignature | None:
        found = self._shared.action_signature(name)
        dynamic = self._shared.dynamic
        if found is not None or dynamic is None:
            return found
        try:
            descriptor = dynamic.find(self._connection, name, namespace, self.project_id)
        except errors.ActionError:
            # The code source does not load: the action exists, and fails when it runs,
            # with the reason (the executor tries to build it and reports why it can't).
            definition = code_sources.loadable(self._connection, name, namespace, self.project_id)
            if definition is None:
                return None
            return ports.ActionSignature(
                name=name,
                accepts_any=True,
                class_name=f"{definition.module_name}.{definition.class_name}",
                run_name=dynamic_run_name(definition),
            )
        if descriptor is None:
            return None
        return dataclasses.replace(signature_of(descriptor), name=name, run_name=descriptor.name)

    def adhoc_action(
        self, name: str, *, namespace: str, workbook: str | None
    ) -> specs.ActionSpec | None:
        candidates: list[tuple[str, str]] = []
        if workbook:
            candidates.append((f"{workbook}.{name}", namespace))
        candidates.append((name, namespace))
        if namespace:
            candidates.append((name, ""))
        for candidate_name, candidate_namespace in candidates:
            row = lookups.adhoc_action(
                self._connection, candidate_name, candidate_namespace, self.project_id
            )
            if row is not None:
                return self._shared.specs.action(candidate_name, row.definition, row.workbook_name)
        return None

    def item_results(self, task_execution_id: str) -> Sequence[Any]:
        results = executions.item_results(self._connection, task_execution_id)
        if not results:
            results = executions.subworkflow_results(self._connection, task_execution_id)
        return results

    def item_results_between(self, task_execution_id: str, start: int, stop: int) -> Sequence[Any]:
        return executions.item_results(self._connection, task_execution_id, start, stop)

    def joined_results(self, whole: list[Any], parts: Sequence[Sequence[Any]]) -> None:
        json_text.keep_joined(whole, parts)

    def task_action_executions(
        self, task_execution_id: str
    ) -> Sequence[executions.ActionExecution]:
        found = lookups.task_actions(self._connection, task_execution_id)
        self.loaded.update(action.id for action in found)
        return found

    def task_executions(self, workflow_execution_id: str) -> Sequence[Mapping[str, Any]]:
        return [
            task_dict(task)
            for task in lookups.task_executions(self._connection, workflow_execution_id)
        ]

    def executions(
        self,
        *,
        id: str | None,
        root_execution_id: str | None,
        state: str | None,
        from_time: str | None,
        to_time: str | None,
    ) -> Sequence[Mapping[str, Any]]:
        rows = lookups.workflow_executions(
            self._connection,
            id=id,
            root_execution_id=root_execution_id,
            state=state,
            from_time=_parse_time(from_time) if from_time else None,
            to_time=_parse_time(to_time) if to_time else None,
            project_id=self.project_id,
        )
        return [
            {
                **execution,
                "input": blobs.inline(self._connection, execution["input"]),
                "output": blobs.inline(self._connection, execution["output"]),
                "params": blobs.inline(self._connection, execution["params"]),
            }
            for execution in map(execution_dict, rows)
        ]


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(str(text))


def _time(value: Any) -> str | None:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else None


def task_dict(task: executions.TaskExecution) -> dict[str, Any]:
    return {
        "id": task.id,
        "name": task.name,
        "state": str(task.state),
        "state_info": task.state_info,
        "result": references.resolve(task.result),
        "published": dict(references.resolve_values(task.published)),
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
