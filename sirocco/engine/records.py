"""The records the engine reads and writes: workflow, task and action executions.

They are frozen values; the store maps them to rows and back, the engine
changes them with :func:`evolve`. Times are naive UTC datetimes
supplied by the caller (the engine never reads a clock).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from sirocco import references
from sirocco.engine.states import State
from sirocco.lang import specs

TaskType = Literal["ACTION", "WORKFLOW"]
_Value = TypeVar("_Value")
_new = object.__new__
_set = object.__setattr__
EMPTY = specs.EMPTY
#: Key of a sub-workflow's runtime holding the root execution's env.
ROOT_ENV = "root_env"
#: Key of a sub-workflow's runtime: how many levels below its root execution it runs.
DEPTH = "depth"


def _empty() -> Mapping[str, Any]:
    return specs.EMPTY


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkflowExecution:
    """One run of a workflow.

    ``context`` is the workflow's global context: evaluated ``vars`` and the
    values published with ``publish: global:``. ``params`` holds ``env``,
    ``task_name`` (reverse workflows), ``namespace``, ``notify`` and any
    other start parameter. ``runtime`` holds engine bookkeeping that must
    survive a restart (for example the commands parked by a ``pause``).
    ``definition`` is the text the execution was started from, so that the
    spec can be rebuilt after a restart even when the definition changed.
    """

    id: str
    workflow_name: str
    workflow_id: str | None = None
    namespace: str = ""
    description: str = ""
    definition: str = ""
    spec: specs.WorkflowSpec
    state: State = State.IDLE
    state_info: str | None = None
    input: Mapping[str, Any] = field(default_factory=_empty)
    params: Mapping[str, Any] = field(default_factory=_empty)
    context: Mapping[str, Any] = field(default_factory=_empty)
    output: Any = None
    task_execution_id: str | None = None
    root_execution_id: str | None = None
    tags: tuple[str, ...] = ()
    runtime: Mapping[str, Any] = field(default_factory=_empty)
    project_id: str = "<default-project>"
    created_at: datetime
    updated_at: datetime | None = None

    @property
    def env(self) -> Mapping[str, Any]:
        """What ``env()`` reads: the root execution's env (a sub-workflow keeps a copy)."""
        env = self.runtime.get(ROOT_ENV)
        if not isinstance(env, Mapping):
            env = references.resolve(self.params.get("env"))
        return env if isinstance(env, Mapping) else EMPTY


class _Field(Generic[_Value]):
    """A typed, read-only field of :class:`TaskRuntime`: its value, or None when unset."""

    __slots__ = ("name",)

    def __init__(self) -> None:
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, instance: TaskRuntime, owner: type) -> _Value | None:
        value: _Value | None = instance._values.get(self.name)
        return value


class WithItemsCounters:
    """A with-items task's counters: typed, read-only, changed with ``but``.

    Stored in the task's runtime as a JSON object: ``count`` (items),
    ``next`` (the next index to start), ``running``, ``succeeded``, ``failed``
    and ``cancelled`` from the start; ``queue`` (the indexes a partial rerun
    still has to start) when there is one; ``waking`` (a ``more`` timer will
    start the next items), ``finishing`` (a ``continue`` timer will complete
    the task) and ``gathered`` (the results read so far) once set. A change
    keeps the keys' order, so a stored object round-trips unchanged.
    """

    __slots__ = ("_values",)
    _values: Mapping[str, Any]

    def __init__(self, values: Mapping[str, Any]) -> None:
        _set(self, "_values", values)

    @classmethod
    def start(cls, count: int, queue: Sequence[int] | None = None) -> WithItemsCounters:
        """The counters of a task that starts ``count`` items (only ``queue`` when given)."""
        values: dict[str, Any] = {
            "count": count,
            "next": 0,
            "running": 0,
            "succeeded": 0,
            "failed": 0,
            "cancelled": 0,
        }
        if queue is not None:
            values["queue"] = list(queue)
            values["succeeded"] = max(count - len(queue), 0)
            values["next"] = count
        return cls(values)

    # The stored values are JSON numbers and booleans: read as they are, since
    # the engine reads them for every item that starts or ends.

    @property
    def count(self) -> int:
        value: int = self._values.get("count", 0)
        return value

    @property
    def next(self) -> int:
        value: int = self._values.get("next", 0)
        return value

    @property
    def running(self) -> int:
        value: int = self._values.get("running", 0)
        return value

    @property
    def succeeded(self) -> int:
        value: int = self._values.get("succeeded", 0)
        return value

    @property
    def failed(self) -> int:
        value: int = self._values.get("failed", 0)
        return value

    @property
    def cancelled(self) -> int:
        value: int = self._values.get("cancelled", 0)
        return value

    @property
    def gathered(self) -> int:
        """The index up to which the item results were read (while the task completes)."""
        value: int = self._values.get("gathered", 0)
        return value

    @property
    def queue(self) -> list[int]:
        return [int(index) for index in self._values.get("queue") or ()]

    @property
    def waking(self) -> bool:
        """A ``more`` timer is due: completions leave starting the next items to it."""
        return bool(self._values.get("waking"))

    @property
    def finishing(self) -> bool:
        return bool(self._values.get("finishing"))

    @property
    def pending(self) -> bool:
        """Items are left to start (queued again, or never started)."""
        values = self._values
        return bool(values.get("queue")) or values.get("next", 0) < values.get("count", 0)

    def but(self, **changes: Any) -> WithItemsCounters:
        """A copy with ``changes`` (None removes a key)."""
        values = dict(self._values)
        for key, value in changes.items():
            if value is None:
                values.pop(key, None)
            else:
                values[key] = value
        return WithItemsCounters(values)

    def to_dict(self) -> dict[str, Any]:
        """The stored JSON object."""
        return dict(self._values)

    def __bool__(self) -> bool:
        return bool(self._values)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"WithItemsCounters is frozen: use but({name}=...)")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, WithItemsCounters) and self._values == other._values

    def __hash__(self) -> int:
        raise TypeError("WithItemsCounters is not hashable")

    def __repr__(self) -> str:
        return f"WithItemsCounters({dict(self._values)!r})"


EMPTY_COUNTERS = WithItemsCounters({})


class _CountersField:
    """``TaskRuntime.with_items``: the stored object, read as :class:`WithItemsCounters`."""

    __slots__ = ("name",)

    def __init__(self) -> None:
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, instance: TaskRuntime, owner: type) -> WithItemsCounters | None:
        value = instance._values.get(self.name)
        if value is None:
            return None
        counters: WithItemsCounters = _new(WithItemsCounters)
        _set(counters, "_values", value)
        return counters


def _stored(value: Any) -> Any:
    # The counters' own object: no copy, since nothing changes one in place (``but`` copies).
    return value._values if type(value) is WithItemsCounters else value


class TaskRuntime:
    """The engine's bookkeeping of one task execution, kept across steps and restarts.

    Stored, and shown by the API as Mistral's ``runtime_context``, as a JSON
    object whose keys are these fields' names (``to_dict``/``from_dict``, used
    by the store only); a field that is None is absent from it. ``extra`` keeps
    the keys this version does not know, so that a row round-trips unchanged.

    Attributes:
        triggered_by: ``{"task_id", "event"}`` of each task execution that triggered it.
        attempt: how many times its action (or sub-workflow) was scheduled; a
            result of an older attempt is stale.
        token: the last timer token handed out; ``timers`` maps a timer's
            purpose to the token it must carry to count.
        action_id: the action execution of a regular task's current attempt.
        output_transforms: the ad-hoc chain's ``output`` expressions, innermost first.
        subworkflows: child execution id -> ``[index, attempt]``.
        failed_subworkflows: ``[child id, error]`` of each child that failed.
        paused_subworkflows: the ids of the children that are paused.
        with_items: the with-items counters (:class:`WithItemsCounters`).
        with_items_rerun: the item indexes a partial rerun runs again.
        concurrency: the evaluated ``concurrency`` policy.
        timeout: the evaluated ``timeout`` policy (seconds); ``timeout_due`` its
            due time (ISO text).
        wait_before_policy, wait_after_policy, retry_task_policy: the state of
            those policies, in Mistral's shape.
        join_results: the results of a join's earlier runs.
        join_check: a join check is pending.
    """

    __slots__ = ("_values",)
    _values: dict[str, Any]

    triggered_by: _Field[Sequence[Mapping[str, Any]]] = _Field()
    attempt: _Field[int] = _Field()
    token: _Field[int] = _Field()
    timers: _Field[Mapping[str, int]] = _Field()
    action_id: _Field[str] = _Field()
    output_transforms: _Field[Sequence[Any]] = _Field()
    subworkflows: _Field[Mapping[str, Sequence[int]]] = _Field()
    failed_subworkflows: _Field[Sequence[Sequence[str]]] = _Field()
    paused_subworkflows: _Field[Sequence[str]] = _Field()
    with_items: _CountersField = _CountersField()
    with_items_rerun: _Field[Sequence[int]] = _Field()
    concurrency: _Field[int] = _Field()
    timeout: _Field[int] = _Field()
    timeout_due: _Field[str] = _Field()
    wait_before_policy: _Field[Mapping[str, Any]] = _Field()
    wait_after_policy: _Field[Mapping[str, Any]] = _Field()
    retry_task_policy: _Field[Mapping[str, Any]] = _Field()
    join_results: _Field[Sequence[Any]] = _Field()
    join_check: _Field[bool] = _Field()

    def __init__(self, **fields: Any) -> None:
        unknown = sorted(set(fields) - _RUNTIME_KEYS)
        if unknown:
            raise TypeError(f"TaskRuntime has no field(s) {unknown}")
        values = {key: _stored(value) for key, value in fields.items() if value is not None}
        _set(self, "_values", values)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TaskRuntime:
        """The record of a stored ``runtime`` object (keys it does not know are kept)."""
        if not data:
            return EMPTY_RUNTIME
        runtime: TaskRuntime = _new(cls)
        _set(runtime, "_values", {key: value for key, value in data.items() if value is not None})
        return runtime

    def to_dict(self) -> dict[str, Any]:
        """The stored ``runtime`` object: the fields that are set (and ``extra``), in the
        order they were first set."""
        return dict(self._values)

    @property
    def extra(self) -> Mapping[str, Any]:
        """The stored keys this version does not know."""
        return {key: value for key, value in self._values.items() if key not in _RUNTIME_KEYS}

    def but(self, **changes: Any) -> TaskRuntime:
        """A copy with ``changes`` (None removes a field)."""
        if not _RUNTIME_KEYS.issuperset(changes):
            raise TypeError(f"TaskRuntime has no field(s) {sorted(set(changes) - _RUNTIME_KEYS)}")
        values = dict(self._values)
        for key, value in changes.items():
            if value is None:
                values.pop(key, None)
            else:
                values[key] = _stored(value)
        runtime: TaskRuntime = _new(TaskRuntime)
        _set(runtime, "_values", values)
        return runtime

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"TaskRuntime is frozen: use but({name}=...)")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TaskRuntime) and self._values == other._values

    def __hash__(self) -> int:
        raise TypeError("TaskRuntime is not hashable (its values are JSON data)")

    def __repr__(self) -> str:
        return f"TaskRuntime({self._values!r})"


_RUNTIME_KEYS = frozenset(
    name for name, value in vars(TaskRuntime).items() if isinstance(value, _Field | _CountersField)
)
EMPTY_RUNTIME = TaskRuntime()


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskExecution:
    """One run of a task inside a workflow execution.

    ``seq`` orders the task executions of a workflow execution by creation.
    ``triggered_by`` names the task executions whose outbound contexts make
    this task's inbound context (one for a normal task, several for a join,
    none for a start task): the inbound context is never copied into the
    task. ``published`` is what this task published to its branch.
    ``result`` is the action result, sub-workflow output or, for with-items,
    the list of item results, set when the task completes.
    ``next_tasks`` are the (task name, event) pairs its transitions chose.
    ``runtime`` holds policy, attempt, timer and with-items bookkeeping.
    """

    id: str
    workflow_execution_id: str
    name: str
    seq: int
    type: TaskType = "ACTION"
    state: State = State.IDLE
    state_info: str | None = None
    triggered_by: tuple[str, ...] = ()
    published: Mapping[str, Any] = field(default_factory=_empty)
    result: Any = None
    has_result: bool = False
    next_tasks: tuple[tuple[str, str], ...] = ()
    processed: bool = False
    error_handled: bool = False
    runtime: TaskRuntime = EMPTY_RUNTIME
    tags: tuple[str, ...] = ()
    created_at: datetime
    updated_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionExecution:
    """One run of an action: for a task (one per attempt or item) or alone.

    ``accepted`` is False for results that no longer count (an attempt
    superseded by a retry or a rerun). ``index`` is the with-items index.
    ``output`` is the result data on SUCCESS or the error data on ERROR.
    """

    id: str
    name: str
    task_execution_id: str | None = None
    workflow_execution_id: str | None = None
    state: State = State.RUNNING
    state_info: str | None = None
    input: Mapping[str, Any] = field(default_factory=_empty)
    output: Any = None
    accepted: bool = False
    index: int = 0
    is_sync: bool = True
    attempt: int = 0
    params: Mapping[str, Any] = field(default_factory=_empty)
    description: str = ""
    tags: tuple[str, ...] = ()
    project_id: str = "<default-project>"
    created_at: datetime
    updated_at: datetime | None = None


Record = TypeVar("Record", WorkflowExecution, TaskExecution, ActionExecution)


def _copier(cls: type) -> Callable[[Any], Any]:
    """A function that copies a record of ``cls`` field by field, written out: each
    field read as an attribute and set through its slot's descriptor (which a frozen
    class's ``__setattr__`` does not stand in front of), twice as fast as a loop over
    the names with ``getattr`` and ``object.__setattr__``."""
    namespace: dict[str, Any] = {"_new": _new, "cls": cls}
    lines = ["def copy(record):", "    new = _new(cls)"]
    for item in dataclasses.fields(cls):
        namespace[f"set_{item.name}"] = vars(cls)[item.name].__set__
        lines.append(f"    set_{item.name}(new, record.{item.name})")
    lines.append("    return new")
    exec("\n".join(lines), namespace)  # the names are the class's own fields
    copy: Callable[[Any], Any] = namespace["copy"]
    return copy


_COPIES: dict[type, tuple[Callable[[Any], Any], frozenset[str]]] = {
    cls: (_copier(cls), frozenset(item.name for item in dataclasses.fields(cls)))
    for cls in (WorkflowExecution, TaskExecution, ActionExecution)
}


def evolve(record: Record, changes: Mapping[str, Any]) -> Record:
    """A copy of ``record`` with ``changes``: ``dataclasses.replace`` without its per-call
    field inspection and ``__init__`` (the engine makes several copies per task)."""
    cls = type(record)
    copy, known = _COPIES[cls]
    if not known.issuperset(changes):
        unknown = sorted(set(changes) - known)
        raise TypeError(f"{cls.__name__} has no field(s) {unknown}")
    new: Record = copy(record)
    for name, value in changes.items():
        _set(new, name, value)
    return new
