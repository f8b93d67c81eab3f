"""Indexes over a workflow's task executions, kept up to date record by record.

Every question the engine asks often (the latest execution of a task, how
many tasks are unfinished, which join is waiting, which tasks ended a
branch, how many inbound tasks of a join triggered it) is answered from these
indexes in constant time. ``put_task``
updates them from the old and the new value of one record, so applying a
decision costs what the decision holds. A draft works on an ``overlay`` of
the snapshot's indexes: its changes are visible to itself and thrown away
if the runtime never commits them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, MutableMapping
from typing import Generic, NamedTuple, TypeVar, overload

from sirocco.engine import records, states
from sirocco.engine.states import State
from sirocco.lang import specs

Key = TypeVar("Key")
Value = TypeVar("Value")
Other = TypeVar("Other")

_GONE = object()


class Overlay(MutableMapping[Key, Value], Generic[Key, Value]):
    """A dict-like layer over a base mapping: writes and deletions stay in the layer."""

    __slots__ = ("_base", "_changes")

    def __init__(self, base: Mapping[Key, Value]) -> None:
        self._base = base
        self._changes: dict[Key, object] = {}

    def __getitem__(self, key: Key) -> Value:
        if key in self._changes:
            value = self._changes[key]
            if value is _GONE:
                raise KeyError(key)
            return value  # type: ignore[return-value]
        return self._base[key]

    @overload
    def get(self, key: Key, /) -> Value | None: ...
    @overload
    def get(self, key: Key, /, default: Value | Other) -> Value | Other: ...

    def get(self, key: Key, /, default: object = None) -> object:
        # Mapping.get goes through __getitem__ and a KeyError for every miss.
        changes = self._changes
        if key in changes:
            value = changes[key]
            return default if value is _GONE else value
        return self._base.get(key, default)

    def __contains__(self, key: object) -> bool:
        if key in self._changes:
            return self._changes[key] is not _GONE
        return key in self._base

    def __setitem__(self, key: Key, value: Value) -> None:
        self._changes[key] = value

    def __delitem__(self, key: Key) -> None:
        if key not in self:
            raise KeyError(key)
        self._changes[key] = _GONE

    def __iter__(self) -> Iterator[Key]:
        changes = self._changes
        for key in self._base:
            if key not in changes or changes[key] is not _GONE:
                yield key
        for key, value in changes.items():
            if value is not _GONE and key not in self._base:
                yield key

    def __len__(self) -> int:
        return sum(1 for _ in self)


class Inbound(NamedTuple):
    """What the latest executions of a join's inbound tasks say about it: how many
    started, how many completed and chose the join, how many completed without it."""

    started: int = 0
    triggered: int = 0
    refused: int = 0


def join_feeds(spec: specs.WorkflowSpec) -> dict[str, tuple[str, ...]]:
    """For each task that is an inbound task of joins, those joins."""
    feeds: dict[str, tuple[str, ...]] = {}
    for name, task in spec.tasks.items():
        if task.is_join:
            for inbound in spec.inbound.get(name, ()):
                feeds[inbound] = (*feeds.get(inbound, ()), name)
    return feeds


def _count(inbound: Inbound, task: records.TaskExecution | None, join: str, step: int) -> Inbound:
    """``inbound`` with the latest execution ``task`` of one inbound task added (step 1)
    or taken away (step -1)."""
    if task is None:
        return inbound
    started, triggered, refused = inbound
    started += step
    if states.is_completed(task.state):
        if any(name == join for name, _ in task.next_tasks):
            triggered += step
        else:
            refused += step
    return Inbound(started, triggered, refused)


class TaskIndex:
    """The task executions of one workflow execution and the indexes over them."""

    def __init__(
        self,
        *,
        tasks: MutableMapping[str, records.TaskExecution],
        latest: MutableMapping[str, str],
        waiting_joins: MutableMapping[str, str],
        end_tasks: MutableMapping[str, None],
        unprocessed: MutableMapping[str, None],
        idle: MutableMapping[str, None],
        subworkflow_tasks: MutableMapping[str, None],
        counts: dict[State, int],
        unhandled_errors: int = 0,
        next_seq: int = 0,
        feeds: Mapping[str, tuple[str, ...]] | None = None,
        inbound: dict[str, Inbound] | None = None,
    ) -> None:
        self.tasks = tasks
        self.latest = latest
        self.waiting_joins = waiting_joins
        self.end_tasks = end_tasks
        self.unprocessed = unprocessed
        self.idle = idle
        self.subworkflow_tasks = subworkflow_tasks
        self.counts = counts
        self.unhandled_errors = unhandled_errors
        self.next_seq = next_seq
        #: For each inbound task of joins, those joins (``join_feeds``).
        self.feeds: Mapping[str, tuple[str, ...]] = feeds or {}
        #: By join name: what the latest executions of its inbound tasks say.
        self.inbound: dict[str, Inbound] = inbound if inbound is not None else {}

    @classmethod
    def empty(cls, feeds: Mapping[str, tuple[str, ...]] | None = None) -> TaskIndex:
        return cls(
            tasks={},
            latest={},
            waiting_joins={},
            end_tasks={},
            unprocessed={},
            idle={},
            subworkflow_tasks={},
            counts={},
            feeds=feeds,
        )

    def overlay(self) -> TaskIndex:
        """A copy whose changes do not reach this index."""
        return TaskIndex(
            tasks=Overlay(self.tasks),
            latest=Overlay(self.latest),
            waiting_joins=Overlay(self.waiting_joins),
            end_tasks=Overlay(self.end_tasks),
            unprocessed=Overlay(self.unprocessed),
            idle=Overlay(self.idle),
            subworkflow_tasks=Overlay(self.subworkflow_tasks),
            counts=dict(self.counts),
            unhandled_errors=self.unhandled_errors,
            next_seq=self.next_seq,
            feeds=self.feeds,
            inbound=dict(self.inbound),
        )

    @property
    def incomplete(self) -> int:
        """How many task executions keep the workflow from completing."""
        return sum(self.counts.get(state, 0) for state in states.INCOMPLETE)

    def count(self, state: State) -> int:
        return self.counts.get(state, 0)

    def get(self, task_id: str) -> records.TaskExecution | None:
        return self.tasks.get(task_id)

    def latest_of(self, name: str) -> records.TaskExecution | None:
        task_id = self.latest.get(name)
        return None if task_id is None else self.tasks.get(task_id)

    def join_inbound(self, join: str) -> Inbound:
        """What the latest executions of the join's inbound tasks say about it."""
        return self.inbound.get(join, _NONE)

    def refeed(self, feeds: Mapping[str, tuple[str, ...]]) -> None:
        """The workflow's spec changed: count the joins' inbound tasks again."""
        self.feeds = feeds
        self.inbound = {}
        for name, joins in feeds.items():
            latest = self.latest_of(name)
            for join in joins:
                self.inbound[join] = _count(self.join_inbound(join), latest, join, 1)

    def put(self, task: records.TaskExecution) -> None:
        """Store ``task`` (new or changed) and update every index."""
        self.replace(self.tasks.get(task.id), task)

    def replace(self, old: records.TaskExecution | None, task: records.TaskExecution) -> None:
        """``put`` for a caller that knows the value ``task`` replaces (None: a new one)."""
        if old is not None and _same_memberships(old, task):
            # Only fields no index looks at changed (a result, the runtime, times): the
            # record takes the old one's place, every index and count stays as it is.
            self.tasks[task.id] = task
            return
        joins = self.feeds.get(task.name) if self.feeds else None
        before = self.latest_of(task.name) if joins else None
        if old is not None:
            self._forget(old)
        self.tasks[task.id] = task
        self._remember(task)
        if task.seq >= self.next_seq:
            self.next_seq = task.seq + 1
        if joins:
            after = self.latest_of(task.name)
            if after is not before:
                for join in joins:
                    counted = _count(self.join_inbound(join), before, join, -1)
                    self.inbound[join] = _count(counted, after, join, 1)

    def _forget(self, task: records.TaskExecution) -> None:
        # Only the indexes ``_remember`` put this very record in: they follow from its fields.
        state = task.state
        self.counts[state] = self.counts.get(state, 0) - 1
        if state == State.ERROR and not task.error_handled:
            self.unhandled_errors -= 1
        if state == State.WAITING and self.waiting_joins.get(task.name) == task.id:
            del self.waiting_joins[task.name]
        if state == State.IDLE:
            _discard(self.idle, task.id)
        if states.is_completed(state):
            if not task.next_tasks:
                _discard(self.end_tasks, task.id)
            if not task.processed:
                _discard(self.unprocessed, task.id)
        elif task.type == "WORKFLOW":
            _discard(self.subworkflow_tasks, task.id)

    def _remember(self, task: records.TaskExecution) -> None:
        state = task.state
        self.counts[state] = self.counts.get(state, 0) + 1
        if state == State.IDLE:
            self.idle[task.id] = None
        elif state == State.WAITING:
            self.waiting_joins[task.name] = task.id
        elif states.is_completed(state):
            if state == State.ERROR and not task.error_handled:
                self.unhandled_errors += 1
            if not task.next_tasks:
                self.end_tasks[task.id] = None
            if not task.processed:
                self.unprocessed[task.id] = None
        if task.type == "WORKFLOW" and not states.is_completed(state):
            self.subworkflow_tasks[task.id] = None
        latest = self.latest.get(task.name)
        if latest != task.id:  # a changed record of the latest execution stays the latest
            current = None if latest is None else self.tasks.get(latest)
            if current is None or current.seq <= task.seq:
                self.latest[task.name] = task.id


_NONE = Inbound()


def _same_memberships(old: records.TaskExecution, new: records.TaskExecution) -> bool:
    """Whether two values of one task execution sit in the same indexes and counts: the
    fields ``_remember``, ``_count`` and the latest lookup read are the same."""
    return (
        old.state is new.state
        and old.next_tasks is new.next_tasks
        and old.processed is new.processed
        and old.error_handled is new.error_handled
        and old.name is new.name
        and old.seq == new.seq
        and old.type is new.type
    )


def _discard(members: MutableMapping[str, None], task_id: str) -> None:
    if task_id in members:
        del members[task_id]
