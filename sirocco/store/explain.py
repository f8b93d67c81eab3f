"""Why an execution is where it is: what a RUNNING or PAUSED one waits on, why one failed.

Read from the database only (no engine, no broker), so the API and ``sirocco explain
--db`` answer alike. Each thing waited on is a :class:`Waiting` naming its task and
its kind:

* ``action``: an action that runs: the executor process that holds it (its name, since
  when, its lease); ``queued`` with how many RunAction rows are ahead of it; or
  ``dead-executor``: the named executor stopped sending heartbeats and its lease ran
  out (the heartbeat check will fail the action or offer it again);
* ``timer``: a durable timer (wait-before, wait-after, retry, timeout) and its due time;
* ``join``: a join and the inbound tasks it still waits for;
* ``with-items``: items done out of all, and the concurrency slots in use;
* ``pause-before``, ``paused-child``, ``paused-parent``, ``paused``;
* ``subworkflow``: a sub-workflow that runs (its own waits follow, one level deeper).

For an ERROR execution the summary names the first failing task, its action and its
error, following failed sub-workflows down to the root cause.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from sirocco import errors, lang
from sirocco.engine.graph import Graph
from sirocco.engine.states import COMPLETED
from sirocco.store import leases, outbox, tables, trees

_PURPOSES = {
    "wait_before": "wait-before",
    "wait_after": "wait-after",
    "retry": "retry delay",
    "timeout": "timeout",
    "join": "join",
    "continue": "continue",
    "more": "the next with-items items",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Waiting:
    """One thing an execution waits on."""

    task: str
    kind: str
    detail: str
    execution_id: str
    task_execution_id: str | None = None
    action_execution_id: str | None = None
    since: datetime | None = None
    due: datetime | None = None
    executor: str | None = None
    ahead: int | None = None
    depth: int = 0

    def as_json(self) -> dict[str, Any]:
        """The item as the API answers it (times as ISO text, empty fields left out)."""
        found: dict[str, Any] = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if value is None:
                continue
            found[field.name] = value.isoformat(sep=" ") if isinstance(value, datetime) else value
        return found


@dataclass(frozen=True, slots=True, kw_only=True)
class Explanation:
    """What ``GET /v2/executions/{id}/explain`` answers."""

    execution_id: str
    state: str
    summary: str
    waiting_on: tuple[Waiting, ...] = ()
    root_cause: Mapping[str, Any] | None = None

    def text(self) -> str:
        """The summary, then one line per item (indented by depth)."""
        lines = [self.summary]
        for item in self.waiting_on:
            lines.append(f"{'  ' * (item.depth + 1)}- {item.task} [{item.kind}]: {item.detail}")
        return "\n".join(lines)

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.execution_id,
            "state": self.state,
            "summary": self.summary,
            "waiting_on": [item.as_json() for item in self.waiting_on],
            "explanation": self.text(),
        }
        if self.root_cause is not None:
            body["root_cause"] = dict(self.root_cause)
        return body


def explain(connection: sa.Connection, execution_id: str, *, now: datetime) -> Explanation:
    """Explain one execution (NotFoundError when there is none)."""
    row = connection.execute(
        sa.select(tables.workflow_executions).where(tables.workflow_executions.c.id == execution_id)
    ).first()
    if row is None:
        raise errors.NotFoundError(f"WorkflowExecution not found [id={execution_id}]")
    if row.state == "ERROR":
        return _failure(connection, row)
    if row.state not in ("RUNNING", "PAUSED", "IDLE"):
        return Explanation(
            execution_id=row.id,
            state=row.state,
            summary=f"Execution {row.id} ({row.workflow_name}) is {row.state}; "
            "it waits on nothing.",
        )
    items = _parent_pause(connection, row) + _waits(connection, row, now=now, depth=0)
    return Explanation(
        execution_id=row.id, state=row.state, summary=_summary(row, items), waiting_on=tuple(items)
    )


def _summary(row: Any, items: Sequence[Waiting]) -> str:
    head = f"Execution {row.id} ({row.workflow_name}) is {row.state}"
    if not items:
        return head + " and waits on nothing that Sirocco can see."
    kinds: dict[str, list[str]] = {}
    for item in items:
        kinds.setdefault(item.kind, []).append(item.task)
    parts = [f"{kind} of {', '.join(dict.fromkeys(names))}" for kind, names in kinds.items()]
    return f"{head}; it waits on: {'; '.join(parts)}."


def _waits(connection: sa.Connection, row: Any, *, now: datetime, depth: int) -> list[Waiting]:
    spec = _spec(row)
    graph = Graph(spec) if spec is not None else None
    task_rows = trees.tasks(connection, row.id)
    timers = _timers(connection, row.id)
    items: list[Waiting] = []
    for task in task_rows:
        if task.state in COMPLETED:
            continue
        base = {"task": task.name, "execution_id": row.id, "task_execution_id": task.id}
        task_spec = spec.tasks.get(task.name) if spec is not None else None
        if task.state_info and "pause-before" in task.state_info:
            items.append(Waiting(kind="pause-before", detail=task.state_info, depth=depth, **base))
            continue
        if task.state == "WAITING" and task_spec is not None and task_spec.is_join:
            items.append(_join(task, task_rows, graph, row.id, depth))
            continue
        for timer in timers.get(task.id, []):
            purpose = _PURPOSES.get(str(timer.payload.get("purpose")), "timer")
            items.append(
                Waiting(
                    kind="timer",
                    detail=f"{purpose} timer due at {timer.due.isoformat(sep=' ')}",
                    due=timer.due,
                    depth=depth,
                    **base,
                )
            )
        if task_spec is not None and task_spec.is_with_items:
            items.append(_with_items(connection, task, task_spec, row, depth))
        items.extend(_actions(connection, task, row.id, now=now, depth=depth))
        for child_id in trees.children(connection, task.id):
            child = trees.execution(connection, child_id)
            if child.state in COMPLETED:
                continue
            kind = "paused-child" if child.state == "PAUSED" else "subworkflow"
            detail = f"sub-workflow {child.workflow_name} ({child.id}) is {child.state}"
            if child.state_info:
                detail += f": {child.state_info}"
            items.append(Waiting(kind=kind, detail=detail, depth=depth, **base))
            items.extend(_waits(connection, child, now=now, depth=depth + 1))
        if task.state == "PAUSED":
            items.append(Waiting(kind="paused", detail="the task is PAUSED", depth=depth, **base))
    return items


def _parent_pause(connection: sa.Connection, row: Any) -> list[Waiting]:
    """A sub-workflow whose parent execution is PAUSED waits on that parent's resume."""
    if row.task_execution_id is None:
        return []
    task = trees.task(connection, row.task_execution_id)
    if task is None:
        return []
    parent = trees.execution(connection, task.workflow_execution_id)
    if parent.state != "PAUSED":
        return []
    return [
        Waiting(
            task=task.name,
            kind="paused-parent",
            detail=f"parent execution {parent.workflow_name} ({parent.id}) is PAUSED",
            execution_id=parent.id,
            task_execution_id=task.id,
        )
    ]


def _join(
    task: Any, task_rows: Sequence[Any], graph: Graph | None, execution_id: str, depth: int
) -> Waiting:
    done = {other.name for other in task_rows if other.state in COMPLETED}
    inbound: list[str] = []
    if graph is not None:
        inbound = [name for name in graph.spec.tasks if task.name in graph.outbound(name)]
    missing = [name for name in inbound if name not in done]
    detail = f"join waits on {', '.join(missing)}" if missing else "join is being evaluated"
    return Waiting(
        task=task.name,
        kind="join",
        detail=detail,
        execution_id=execution_id,
        task_execution_id=task.id,
        depth=depth,
    )


def _with_items(
    connection: sa.Connection, task: Any, task_spec: Any, row: Any, depth: int
) -> Waiting:
    actions = trees.actions(connection, task.id)
    children = trees.children(connection, task.id)
    runtime = task.runtime or {}
    total = runtime.get("with_items_count") or runtime.get("items_count")
    finished = sum(1 for action in actions if action.state in COMPLETED)
    running = sum(1 for action in actions if action.state == "RUNNING")
    for child_id in children:
        child = trees.execution(connection, child_id)
        finished += child.state in COMPLETED
        running += child.state == "RUNNING"
    concurrency = task_spec.concurrency
    slots = (
        f"{running} of {concurrency} concurrency slots in use"
        if concurrency
        else (f"{running} running")
    )
    count = f"{finished} of {total}" if total is not None else f"{finished}"
    return Waiting(
        task=task.name,
        kind="with-items",
        detail=f"with-items: {count} items done, {slots}",
        execution_id=row.id,
        task_execution_id=task.id,
        depth=depth,
    )


def _actions(
    connection: sa.Connection, task: Any, execution_id: str, *, now: datetime, depth: int
) -> list[Waiting]:
    items = []
    for action in trees.actions(connection, task.id):
        if action.state != "RUNNING":
            continue
        found = _run_action_row(connection, action.id)
        base = {
            "task": task.name,
            "execution_id": execution_id,
            "task_execution_id": task.id,
            "action_execution_id": action.id,
            "depth": depth,
        }
        name = action.name
        if found is None:
            detail = f"action {name} runs (since {_time(action.created_at)}; no lease row)"
            items.append(Waiting(kind="action", detail=detail, since=action.created_at, **base))
        elif found.claimed_until is None:
            ahead = _ahead(connection, found)
            where = f" for executor target '{found.target}'" if found.target else ""
            detail = f"action {name} queued{where}, {ahead} ahead of it"
            items.append(Waiting(kind="queued", detail=detail, ahead=ahead, **base))
        elif found.claimed_until >= leases.FOREVER:
            since = found.held_since or action.updated_at or found.created_at
            holder = found.holder or "an executor"
            detail = (
                f"action {name} held by {holder} since {_time(since)} "
                "(run by that server process, or asynchronous: its result comes through the API)"
            )
            items.append(
                Waiting(kind="action", detail=detail, since=since, executor=found.holder, **base)
            )
        elif found.claimed_until < now:
            holder = found.holder or "its executor"
            held = f", held since {_time(found.held_since)}" if found.held_since else ""
            detail = (
                f"action {name}: {holder} stopped sending heartbeats; its lease ran out at "
                f"{_time(found.claimed_until)}{held} (executor dead or cut off from the "
                "database; the heartbeat check fails the action or offers it again)"
            )
            items.append(
                Waiting(
                    kind="dead-executor",
                    detail=detail,
                    since=found.held_since,
                    due=found.claimed_until,
                    executor=found.holder,
                    **base,
                )
            )
        else:
            executor = found.holder or found.target or "an executor"
            since = found.held_since or action.updated_at or found.created_at
            detail = (
                f"action {name} runs on {executor} since {_time(since)}, "
                f"lease until {_time(found.claimed_until)}"
            )
            items.append(
                Waiting(
                    kind="action",
                    detail=detail,
                    since=since,
                    due=found.claimed_until,
                    executor=executor,
                    **base,
                )
            )
    return items


def _run_action_row(connection: sa.Connection, action_id: str) -> Any:
    """The RunAction outbox row of an action (its id is in the payload)."""
    box = tables.outbox
    direct = connection.execute(
        sa.select(box).where(box.c.id == action_id, box.c.kind == outbox.Kind.RUN_ACTION)
    ).first()
    if direct is not None:
        return direct
    candidates = connection.execute(
        sa.select(box).where(
            box.c.kind == outbox.Kind.RUN_ACTION,
            sa.cast(box.c.payload, sa.Text).contains(action_id),
        )
    )
    for candidate in candidates:
        if (candidate.payload or {}).get("action_execution_id") == action_id:
            return candidate
    return None


def _ahead(connection: sa.Connection, found: Any) -> int:
    box = tables.outbox
    target = box.c.target.is_(None) if found.target is None else box.c.target == found.target
    return int(
        connection.execute(
            sa.select(sa.func.count())
            .select_from(box)
            .where(
                box.c.kind == outbox.Kind.RUN_ACTION,
                box.c.claimed_until.is_(None),
                box.c.created_at < found.created_at,
                target,
            )
        ).scalar_one()
    )


def _timers(connection: sa.Connection, execution_id: str) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {}
    rows = connection.execute(
        sa.select(tables.timers)
        .where(tables.timers.c.workflow_execution_id == execution_id)
        .order_by(tables.timers.c.due)
    )
    for timer in rows:
        task_id = (timer.payload or {}).get("task_execution_id")
        if isinstance(task_id, str):
            found.setdefault(task_id, []).append(timer)
    return found


def _failure(connection: sa.Connection, row: Any) -> Explanation:
    chain: list[str] = []
    cause: dict[str, Any] = {}
    current = row
    for _ in range(64):  # deeper than any sub-workflow limit
        failed = [task for task in trees.tasks(connection, current.id) if task.state == "ERROR"]
        if not failed:
            cause = {"execution_id": current.id, "workflow": current.workflow_name,
                     "error": current.state_info}  # fmt: skip
            break
        task = min(failed, key=lambda task: task.finished_at or task.updated_at or task.created_at)
        chain.append(f"task '{task.name}' of {current.workflow_name}")
        cause = {
            "execution_id": current.id,
            "workflow": current.workflow_name,
            "task": task.name,
            "task_execution_id": task.id,
            "error": task.state_info,
        }
        child = next(
            (
                trees.execution(connection, child_id)
                for child_id in trees.children(connection, task.id)
                if trees.execution(connection, child_id).state == "ERROR"
            ),
            None,
        )
        if child is not None:
            current = child
            continue
        failed_actions = [action for action in trees.actions(connection, task.id)
                          if action.state == "ERROR"]  # fmt: skip
        if failed_actions:
            action = failed_actions[0]
            cause.update(action=action.name, action_execution_id=action.id,
                         error=action.state_info or task.state_info)  # fmt: skip
        break
    where = " in ".join(reversed(chain)) if chain else f"workflow {row.workflow_name}"
    action_part = f", action {cause['action']}" if "action" in cause else ""
    summary = (
        f"Execution {row.id} ({row.workflow_name}) is ERROR: the first failure is {where}"
        f"{action_part}: {cause.get('error') or 'no error text'}"
    )
    return Explanation(execution_id=row.id, state=row.state, summary=summary, root_cause=cause)


def _spec(row: Any) -> Any:
    try:
        return _parsed(row.workflow_name, row.definition, row.workbook_name)
    except errors.SiroccoError:
        return None


@functools.lru_cache(maxsize=64)
def _parsed(name: str, definition: str, workbook: str | None) -> Any:
    return lang.parse_workflows(definition, workbook=workbook).workflow(name)


def _time(value: datetime | None) -> str:
    return value.isoformat(sep=" ", timespec="seconds") if value is not None else "?"
