"""Evaluating expressions for the engine: data layers in Mistral's order, and the functions.

Every place that evaluates builds its data as a ``ChainMap`` of layers,
first hit wins, in the order Mistral uses there; nothing is copied. The
``EngineFunctions`` object answers ``task()``, ``tasks()``, ``execution()``,
``executions()`` and ``global()`` from the draft's records.
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any

from sirocco import errors, expressions, references
from sirocco.engine import dataflow, records
from sirocco.engine.draft import Draft
from sirocco.lang import specs

DataLayers = ChainMap[str, Any]


def evaluate(draft: Draft, value: Any, data: Any, task: records.TaskExecution | None) -> Any:
    """Evaluate ``value`` (any structure) against ``data`` (``$``); plain values out.

    Raises:
        errors.ExpressionError: the expression failed (a structural error).
    """
    if not _may_hold_expression(value):
        return _plain(value)
    if task is None and _may_hold_jinja(value):
        return _evaluate_outside_task(draft, value, data)
    return _evaluate_with(draft, EngineFunctions(draft, task), value, data)


def _evaluate_with(draft: Draft, functions: EngineFunctions, value: Any, data: Any) -> Any:
    try:
        result = expressions.evaluate(value, data, functions, draft.budget)
    except errors.SiroccoError:
        raise
    except Exception as error:  # an evaluator bug must not escape as a crash
        raise errors.ExpressionEvaluationError(str(error)) from error
    return _plain(result)


def _evaluate_outside_task(draft: Draft, value: Any, data: Any) -> Any:
    """Evaluate where there is no current task (workflow output, vars), value by value.

    Mistral's Jinja ``task()`` reads the current task from the context and
    fails without one, while its YAQL ``task(name)`` still finds the task.
    """
    if isinstance(value, Mapping):
        return {key: _evaluate_outside_task(draft, item, data) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_evaluate_outside_task(draft, item, data) for item in value]
    if not _may_hold_expression(value):
        return _plain(value)
    strict = isinstance(value, str) and _may_hold_jinja(value)
    return _evaluate_with(draft, EngineFunctions(draft, None, jinja=strict), value, data)


def env_layer(draft: Draft) -> dict[str, Any]:
    return {"__env": draft.env, "__execution": {"id": draft.workflow.id}}


def task_layer(task: records.TaskExecution) -> dict[str, Any]:
    return {"__task_execution": {"id": task.id, "name": task.name}}


def task_data(
    draft: Draft,
    task: records.TaskExecution,
    *,
    items: Mapping[str, Any] | None = None,
) -> DataLayers:
    """Data for a task's input, with-items, policies, action name: Mistral's task context.

    Item variables sit under the branch context (Mistral merges the branch
    over them), so a branch variable of the same name hides an item.
    """
    inbound = dataflow.visible(draft.inbound(task))
    layers: list[Mapping[str, Any]] = [task_layer(task), env_layer(draft), inbound]
    if items:
        layers.append(items)
    layers.extend((draft.workflow.context, draft.workflow.input))
    return dataflow.chain(*layers)


def outbound_data(draft: Draft, task: records.TaskExecution) -> DataLayers:
    """Data for transition guards, command parameters and retry conditions."""
    outbound = dataflow.visible(draft.outbound(task))
    return dataflow.chain(
        task_layer(task),
        outbound,
        env_layer(draft),
        draft.workflow.context,
        draft.workflow.input,
    )


def publish_data(draft: Draft, task: records.TaskExecution) -> DataLayers:
    """Data for ``publish``: current task, inbound context, env, globals, input."""
    return dataflow.chain(
        task_layer(task),
        dataflow.visible(draft.inbound(task)),
        env_layer(draft),
        draft.workflow.context,
        draft.workflow.input,
    )


def workflow_data(draft: Draft, final: Mapping[str, Any]) -> DataLayers:
    """Data for the workflow ``output``: final context, env, globals, input."""
    return dataflow.chain(
        final,
        env_layer(draft),
        draft.workflow.context,
        draft.workflow.input,
    )


class EngineFunctions:
    """Mistral's engine-aware expression functions, answered from the draft."""

    def __init__(
        self, draft: Draft, task: records.TaskExecution | None, *, jinja: bool = False
    ) -> None:
        self._draft = draft
        self._task = task
        self._jinja = jinja

    def task(self, name: str | None) -> Mapping[str, Any] | None:
        draft = self._draft
        if self._task is None and self._jinja:
            # Mistral's Jinja task() looks the current task up in its context.
            raise KeyError("__task_execution")
        if self._task is not None and (not name or name == self._task.name):
            found = draft.current(self._task)
        elif name:
            found = draft.tasks.latest_of(name)  # type: ignore[assignment]
        else:
            return None
        if found is None:
            return None
        return TaskView(draft, found)

    def tasks(
        self,
        workflow_execution_id: str | None,
        recursive: bool,
        state: str | None,
        flat: bool,
    ) -> list[Mapping[str, Any]]:
        draft = self._draft
        own = workflow_execution_id in (None, draft.workflow.id)
        if own:
            found: list[Mapping[str, Any]] = [
                task_dict(draft, task)
                for task in sorted(draft.tasks.tasks.values(), key=lambda task: task.seq)
            ]
        else:
            found = [
                dict(task) for task in draft.lookup.task_executions(str(workflow_execution_id))
            ]
        nested: list[Mapping[str, Any]] = []
        if recursive and workflow_execution_id:
            for task in found:
                if task.get("type") != "WORKFLOW":
                    continue
                for child_id in _children_of(draft, task):
                    nested.extend(self.tasks(child_id, True, state, flat))
        if state:
            found = [task for task in found if task.get("state") == state]
        return found + nested

    def execution(self) -> Mapping[str, Any]:
        workflow = self._draft.workflow
        return {
            "id": workflow.id,
            "name": workflow.workflow_name,
            "spec": workflow_spec_dict(workflow.spec),
            "input": dict(references.resolve_values(workflow.input)),
            "params": dict(workflow.params),
            "created_at": time_text(workflow.created_at),
            "updated_at": time_text(workflow.updated_at or workflow.created_at),
            "root_execution_id": workflow.root_execution_id,
        }

    def executions(
        self,
        id: str | None,
        root_execution_id: str | None,
        state: str | None,
        from_time: str | None,
        to_time: str | None,
    ) -> list[Mapping[str, Any]]:
        return list(
            self._draft.lookup.executions(
                id=id,
                root_execution_id=root_execution_id,
                state=state,
                from_time=from_time,
                to_time=to_time,
            )
        )

    def global_variable(self, name: str) -> Any:
        return references.resolve(self._draft.workflow.context.get(name))


def task_dict(draft: Draft, task: records.TaskExecution) -> dict[str, Any]:
    """A task execution as ``task()`` shows it."""
    return {key: make(draft, task) for key, make in _TASK_FIELDS.items()}


class TaskView(Mapping[str, Any]):
    """A task execution as ``task()`` shows it, each field made when it is read.

    ``task().result`` reads one field: the spec's copy, the published values and
    the dates are then not made. Reading every field gives :func:`task_dict`.
    """

    __slots__ = ("_draft", "_task")

    def __init__(self, draft: Draft, task: records.TaskExecution) -> None:
        self._draft = draft
        self._task = task

    def __getitem__(self, key: str) -> Any:
        make = _TASK_FIELDS.get(key)
        if make is None:
            raise KeyError(key)
        return make(self._draft, self._task)

    def __contains__(self, key: object) -> bool:
        return key in _TASK_FIELDS

    def __iter__(self) -> Iterator[str]:
        return iter(_TASK_FIELDS)

    def __len__(self) -> int:
        return len(_TASK_FIELDS)


def _task_spec_field(draft: Draft, task: records.TaskExecution) -> dict[str, Any]:
    task_spec = draft.spec.tasks.get(task.name)
    return task_spec_dict(task_spec) if task_spec is not None else {}


#: The fields of ``task()`` in Mistral's order, each made from the draft and the record.
_TASK_FIELDS: dict[str, Callable[[Draft, records.TaskExecution], Any]] = {
    "id": lambda draft, task: task.id,
    "name": lambda draft, task: task.name,
    "spec": _task_spec_field,
    "state": lambda draft, task: str(task.state),
    "state_info": lambda draft, task: task.state_info,
    # Mistral lists the accepted results: none yet reads as [].
    "result": lambda draft, task: references.resolve(task.result) if task.has_result else [],
    "published": lambda draft, task: dict(references.resolve_values(task.published)),
    "type": lambda draft, task: task.type,
    "workflow_execution_id": lambda draft, task: task.workflow_execution_id,
    "created_at": lambda draft, task: time_text(task.created_at),
    "updated_at": lambda draft, task: time_text(task.updated_at) if task.updated_at else None,
}


def task_spec_dict(task: specs.TaskSpec) -> dict[str, Any]:
    """A task spec as Mistral's ``spec`` field shows it: every keyword as written,
    then its type, name and version."""
    if task.written:
        written = _plain(task.written)
        return {**written, "type": task.workflow_type, "name": task.name, "version": "2.0"}
    found: dict[str, Any] = {"name": task.name, "type": task.workflow_type, "version": "2.0"}
    if task.action:
        found["action"] = task.action
    if task.workflow:
        found["workflow"] = task.workflow
    if task.input:
        found["input"] = _plain(task.input)
    if task.publish:
        found["publish"] = _plain(task.publish)
    if task.description:
        found["description"] = task.description
    return found


def workflow_spec_dict(spec: specs.WorkflowSpec) -> dict[str, Any]:
    """The main keys of a workflow spec."""
    return {
        "name": spec.name,
        "version": "2.0",
        "type": spec.workflow_type,
        "tasks": {name: task_spec_dict(task) for name, task in spec.tasks.items()},
    }


def time_text(moment: datetime | None) -> str | None:
    return None if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S")


def _children_of(draft: Draft, task: Mapping[str, Any]) -> list[str]:
    task_id = str(task.get("id"))
    record = draft.task(task_id)
    if record is not None:
        known = record.runtime.subworkflows
        if isinstance(known, Mapping):
            return [str(child) for child in known]
    return []


def may_hold_expression(value: Any) -> bool:
    """Whether evaluating ``value`` may read its data (a delimiter somewhere in it):
    ``evaluate`` does not look at the data of a value that holds none."""
    return _may_hold_expression(value)


def _may_hold_expression(value: Any) -> bool:
    if type(value) in _SCALARS and type(value) is not str:
        return False
    if isinstance(value, str):
        return "<%" in value or "{{" in value or "{%" in value
    if isinstance(value, Mapping):
        return any(_may_hold_expression(item) for item in value.values())
    if isinstance(value, list | tuple):
        return any(_may_hold_expression(item) for item in value)
    return False


def _may_hold_jinja(value: Any) -> bool:
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    if isinstance(value, Mapping):
        return any(_may_hold_jinja(item) for item in value.values())
    if isinstance(value, list | tuple):
        return any(_may_hold_jinja(item) for item in value)
    return False


def _plain(value: Any) -> Any:
    """Fresh built-in values: mappings become dicts, tuples lists."""
    if type(value) in _SCALARS:
        return value  # a published text or number: no look for a mapping or a list
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        if _SCALARS.issuperset(map(type, value)):
            return list(value)  # no call per element (a list of a million numbers)
        return [_plain(item) for item in value]
    return value


_SCALARS = frozenset((str, int, float, bool, type(None)))
