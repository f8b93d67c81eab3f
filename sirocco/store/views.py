"""The resources of the REST API as views over the tables: Mistral's field names, SQL behind each.

A :class:`View` names a resource's fields in Mistral's order and the SQL
expression behind each one (joins included: a task shows its workflow's
name, an action execution its task's name). Derived fields are filled after
the read: a task's ``runtime_context`` (with how it was triggered) and an
execution's ``published_global`` (its global context without internal keys
and ``vars``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from sirocco import errors, lang
from sirocco.store import tables

Finisher = Callable[[sa.Connection, list[dict[str, Any]]], None]


@dataclass(frozen=True, slots=True, kw_only=True)
class View:
    """A resource as the API shows it, over one table (and its joins).

    Attributes:
        entity: the name used in "not found" messages (``WorkflowExecution``).
        source: the FROM clause (the table, or the table joined to others).
        columns: field name -> SQL expression, in the resource's field order.
        hidden: columns read for derived fields but never shown.
        derived: field name -> the hidden/visible fields it is computed from.
        finish: fills derived fields of fetched rows (may read more).
    """

    entity: str
    source: sa.FromClause
    columns: Mapping[str, sa.ColumnElement[Any]]
    hidden: Mapping[str, sa.ColumnElement[Any]] = field(default_factory=dict)
    derived: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    finish: Finisher | None = None

    @property
    def fields(self) -> tuple[str, ...]:
        """Every field name the resource has, in order."""
        return tuple(self.columns)

    @property
    def id_column(self) -> sa.ColumnElement[Any]:
        return self.columns["id"]

    def expression(self, name: str) -> sa.ColumnElement[Any] | None:
        """The SQL expression of a stored field, or None for derived/unknown ones."""
        if name in self.derived:
            return None
        return self.columns.get(name)


# ---------------------------------------------------------------- the views

_workbooks = tables.workbooks
_workflow_definitions = tables.workflow_definitions
_action_definitions = tables.action_definitions
_environments = tables.environments
_cron = tables.cron_triggers
_event = tables.event_triggers
_workflow_executions = tables.workflow_executions
_task = tables.task_executions
_action_executions = tables.action_executions

_NULL = sa.null()

#: The task ``runtime_context`` keys Mistral shows (the engine keeps more there).
RUNTIME_CONTEXT_KEYS = frozenset({"triggered_by", "retry_task_policy", "concurrency", "with_items"})


def _touched(table: sa.Table) -> sa.ColumnElement[Any]:
    """``updated_at`` of a runtime row: Mistral's rows are updated in the transaction that
    creates them, so their ``updated_at`` is never null; ours is the creation time then."""
    return sa.func.coalesce(table.c.updated_at, table.c.created_at).label("updated_at")


def _action_touched() -> sa.ColumnElement[Any]:
    """``updated_at`` of an action execution: as :func:`_touched` in a workflow; a run alone
    (run-action) shows it as stored, null until its result arrives, and null for good
    after a synchronous run, as Mistral 23 shows them."""
    return sa.case(
        (_action_executions.c.workflow_execution_id.is_(None), _action_executions.c.updated_at),
        else_=sa.func.coalesce(_action_executions.c.updated_at, _action_executions.c.created_at),
    ).label("updated_at")


def _pick(table: sa.Table, *names: str) -> dict[str, sa.ColumnElement[Any]]:
    return {name: table.c[name] for name in names}


WORKBOOKS = View(
    entity="Workbook",
    source=_workbooks,
    columns=_pick(
        _workbooks,
        "id",
        "name",
        "namespace",
        "definition",
        "tags",
        "scope",
        "project_id",
        "created_at",
        "updated_at",
    ),
)

WORKFLOWS = View(
    entity="WorkflowDefinition",
    source=_workflow_definitions,
    columns=_pick(
        _workflow_definitions,
        "id",
        "name",
        "namespace",
        "input",
        "interface",
        "definition",
        "checksum",
        "tags",
        "scope",
        "project_id",
        "created_at",
        "updated_at",
    ),
)

ACTIONS = View(
    entity="ActionDefinition",
    source=_action_definitions,
    columns={
        "id": _action_definitions.c.id,
        "name": _action_definitions.c.name,
        "is_system": sa.false().label("is_system"),
        "input": _action_definitions.c.input,
        "description": _action_definitions.c.description,
        "tags": _action_definitions.c.tags,
        "definition": _action_definitions.c.definition,
        "scope": _action_definitions.c.scope,
        "project_id": _action_definitions.c.project_id,
        "created_at": _action_definitions.c.created_at,
        "updated_at": _action_definitions.c.updated_at,
        "namespace": _action_definitions.c.namespace,
    },
)

ENVIRONMENTS = View(
    entity="Environment",
    source=_environments,
    columns=_pick(
        _environments,
        "id",
        "name",
        "description",
        "variables",
        "scope",
        "project_id",
        "created_at",
        "updated_at",
    ),
)

CRON_TRIGGERS = View(
    entity="CronTrigger",
    source=_cron,
    columns=_pick(
        _cron,
        "id",
        "name",
        "workflow_name",
        "workflow_id",
        "workflow_input",
        "workflow_params",
        "project_id",
        "scope",
        "pattern",
        "remaining_executions",
        "first_execution_time",
        "next_execution_time",
        "created_at",
        "updated_at",
    ),
)

EVENT_TRIGGERS = View(
    entity="EventTrigger",
    source=_event,
    columns=_pick(
        _event,
        "id",
        "created_at",
        "updated_at",
        "project_id",
        "name",
        "workflow_id",
        "workflow_input",
        "workflow_params",
        "exchange",
        "topic",
        "event",
        "scope",
    ),
)


def _published_global(connection: sa.Connection, rows: list[dict[str, Any]]) -> None:
    published_global(rows)


def published_global(rows: list[dict[str, Any]]) -> None:
    """Fill executions' ``published_global`` from their hidden fields (reads nothing)."""
    for row in rows:
        if "published_global" not in row:
            continue
        context = row.pop("_context", None) or {}
        definition = row.pop("_definition", None) or ""
        name = row.pop("_workflow_name", None) or ""
        workbook = row.pop("_workbook_name", None)
        hidden = {"__execution", "openstack", *_declared_vars(definition, name, workbook)}
        row["published_global"] = {
            key: value for key, value in context.items() if key not in hidden
        }


EXECUTIONS = View(
    entity="WorkflowExecution",
    source=_workflow_executions,
    columns={
        "id": _workflow_executions.c.id,
        "workflow_id": _workflow_executions.c.workflow_id,
        "workflow_name": _workflow_executions.c.workflow_name,
        "workflow_namespace": _workflow_executions.c.namespace,
        "description": _workflow_executions.c.description,
        "tags": _workflow_executions.c.tags,
        "params": _workflow_executions.c.params,
        "task_execution_id": _workflow_executions.c.task_execution_id,
        "root_execution_id": _workflow_executions.c.root_execution_id,
        "source_execution_id": _NULL.label("source_execution_id"),
        "state": _workflow_executions.c.state,
        "state_info": _workflow_executions.c.state_info,
        "input": _workflow_executions.c.input,
        "output": _workflow_executions.c.output,
        "created_at": _workflow_executions.c.created_at,
        "updated_at": _touched(_workflow_executions),
        "project_id": _workflow_executions.c.project_id,
        "published_global": _NULL.label("published_global"),
    },
    hidden={
        "_context": _workflow_executions.c.context,
        "_definition": _workflow_executions.c.definition,
        "_workflow_name": _workflow_executions.c.workflow_name,
        "_workbook_name": _workflow_executions.c.workbook_name,
    },
    derived={
        "published_global": ("_context", "_definition", "_workflow_name", "_workbook_name"),
        "source_execution_id": (),
    },
    finish=_published_global,
)

_task_parent = _workflow_executions.alias("task_parent")


def _runtime_context(connection: sa.Connection, rows: list[dict[str, Any]]) -> None:
    """Mistral's runtime_context: the task's bookkeeping plus who triggered it and how."""
    wanted = [row for row in rows if "runtime_context" in row]
    ids = {str(item) for row in wanted for item in row.get("_triggered_by") or ()}
    events: dict[str, list[Any]] = {}
    if ids:
        found = connection.execute(
            sa.select(_task.c.id, _task.c.next_tasks).where(_task.c.id.in_(sorted(ids)))
        )
        events = {item.id: list(item.next_tasks or ()) for item in found}
    for row in wanted:
        runtime = row.pop("_runtime", None) or {}
        # Everything else is the engine's private bookkeeping.
        context = {key: value for key, value in runtime.items() if key in RUNTIME_CONTEXT_KEYS}
        triggers = []
        for task_id in row.pop("_triggered_by", None) or ():
            event = next(
                (pair[1] for pair in events.get(str(task_id), ()) if pair[0] == row.get("_name")),
                "on-success",
            )
            triggers.append({"task_id": task_id, "event": event})
        if triggers:
            context["triggered_by"] = triggers
        row["runtime_context"] = context
    for row in rows:
        row.pop("_runtime", None)
        row.pop("_triggered_by", None)


TASKS = View(
    entity="Task execution",
    source=_task.join(_task_parent, _task.c.workflow_execution_id == _task_parent.c.id),
    columns={
        "id": _task.c.id,
        "name": _task.c.name,
        "type": _task.c.type,
        "workflow_name": _task_parent.c.workflow_name,
        "workflow_namespace": _task_parent.c.namespace,
        "workflow_id": _task_parent.c.workflow_id,
        "workflow_execution_id": _task.c.workflow_execution_id,
        "tags": _task.c.tags,
        "state": _task.c.state,
        "state_info": _task.c.state_info,
        "project_id": _task_parent.c.project_id,
        "runtime_context": _NULL.label("runtime_context"),
        "result": _task.c.result,
        "published": _task.c.published,
        "published_global": _NULL.label("published_global"),
        "processed": _task.c.processed,
        "created_at": _task.c.created_at,
        "updated_at": _touched(_task),
        "started_at": _task.c.started_at,
        "finished_at": _task.c.finished_at,
        "reset": _NULL.label("reset"),
        "env": _NULL.label("env"),
    },
    hidden={
        "_runtime": _task.c.runtime,
        "_triggered_by": _task.c.triggered_by,
        "_name": _task.c.name,
    },
    derived={
        "runtime_context": ("_runtime", "_triggered_by", "_name"),
        "published_global": (),
        "reset": (),
        "env": (),
    },
    finish=_runtime_context,
)

_ae_task = _task.alias("ae_task")
_ae_parent = _workflow_executions.alias("ae_parent")

ACTION_EXECUTIONS = View(
    entity="ActionExecution",
    source=_action_executions.outerjoin(
        _ae_task, _action_executions.c.task_execution_id == _ae_task.c.id
    ).outerjoin(_ae_parent, _action_executions.c.workflow_execution_id == _ae_parent.c.id),
    columns={
        "id": _action_executions.c.id,
        "workflow_name": _ae_parent.c.workflow_name,
        "workflow_namespace": sa.func.coalesce(_ae_parent.c.namespace, "").label(
            "workflow_namespace"
        ),
        "task_name": _ae_task.c.name,
        "task_execution_id": _action_executions.c.task_execution_id,
        "state": _action_executions.c.state,
        "state_info": _action_executions.c.state_info,
        "tags": _action_executions.c.tags,
        "name": _action_executions.c.name,
        "description": _action_executions.c.description,
        # An action of a workflow belongs to the workflow's project; a standalone one to
        # the project that ran it.
        "project_id": sa.func.coalesce(
            _ae_parent.c.project_id, _action_executions.c.project_id
        ).label("project_id"),
        "accepted": _action_executions.c.accepted,
        "input": _action_executions.c.input,
        "output": _action_executions.c.output,
        "created_at": _action_executions.c.created_at,
        "updated_at": _action_touched(),
        "params": _action_executions.c.params,
    },
)


@functools.lru_cache(maxsize=256)
def _declared_vars(definition: str, workflow_name: str, workbook: str | None) -> frozenset[str]:
    """The names under ``vars:`` of a workflow in its definition text (for published_global).

    Read with the engine's parser and arguments, whose cache already holds the
    definition of any execution that started in this process (a plain YAML load
    of a 100-task definition took 40 ms on the first GET of its execution).
    """
    try:
        document = lang.parse_workflows(definition, workbook=workbook)
    except errors.DefinitionError:
        return frozenset()
    spec = document.workflow(workflow_name)
    return frozenset(str(key) for key in spec.vars) if spec is not None else frozenset()


CODE_SOURCES = View(
    entity="CodeSource",
    source=tables.code_sources,
    columns=_pick(
        tables.code_sources,
        "id",
        "name",
        "namespace",
        "content",
        "version",
        "tags",
        "project_id",
        "scope",
        "created_at",
        "updated_at",
    ),
)

DYNAMIC_ACTIONS = View(
    entity="DynamicActionDefinition",
    source=tables.dynamic_action_definitions,
    columns=_pick(
        tables.dynamic_action_definitions,
        "id",
        "name",
        "namespace",
        "code_source_id",
        "code_source_name",
        "class_name",
        "project_id",
        "scope",
        "created_at",
        "updated_at",
    ),
)
