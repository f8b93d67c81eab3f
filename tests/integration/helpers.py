"""Helpers of the runtime tests: store definitions, start, wait, read rows back."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from sirocco import compose, lang, testing
from sirocco.actions.registry import ActionRegistry
from sirocco.cli.embedded import Embedded, open_embedded
from sirocco.clock import utcnow
from sirocco.executor.pool import ExecutorPool
from sirocco.lang import specs
from sirocco.limits import DEFAULT as DEFAULT_LIMITS
from sirocco.limits import Limits
from sirocco.runtime.loop import Runtime
from sirocco.runtime.service import Service
from sirocco.store import migrate, sources, tables
from sirocco.store.database import Database
from tests import waiting
from tests.integration import custom_actions
from tests.waiting import BOUND

ENDED = frozenset({"SUCCESS", "ERROR", "CANCELLED"})


def build(
    url: str, *, clock: Callable[[], datetime] | None = None, limits: Limits | None = None
) -> Embedded:
    """What ``open_embedded`` builds (not started), with the test actions, ``clock`` and
    ``limits``."""
    if clock is None and limits is None:
        app = open_embedded(url, start=False)
    else:
        database = Database(url)
        migrate.upgrade(database)
        registry = ActionRegistry(limits=limits or DEFAULT_LIMITS)
        runtime = Runtime(
            database, registry, clock=clock or utcnow, limits=limits or DEFAULT_LIMITS
        )
        parts = compose.Parts(
            database=database, registry=registry, runtime=runtime, service=Service(runtime)
        )
        pool = ExecutorPool(registry, runtime.report)
        runtime.attach_executor(pool.submit, pool.run_inline)
        parts.service.attach_executor(pool.submit)
        app = Embedded(parts=parts, pool=pool, start=runtime.start)
    for name, action_class in custom_actions.REGISTERED.items():
        app.parts.registry.register(name, action_class)
    return app


@contextmanager
def embedded(
    url: str,
    *,
    clock: Callable[[], datetime] | None = None,
    start: bool = True,
    limits: Limits | None = None,
) -> Iterator[Embedded]:
    """An embedded Sirocco on ``url`` (started unless told), with the test actions registered."""
    app = build(url, clock=clock, limits=limits)
    if start:
        app.parts.runtime.start()
    try:
        yield app
    finally:
        app.close()


def deploy(app: Embedded, text: str, *, namespace: str = "") -> None:
    """Store every workflow and ad-hoc action of ``text`` (a workflow, action or workbook
    file) as ``sirocco run`` does."""
    document = lang.parse_document(text, source="test.yaml")
    workflows: list[specs.WorkflowSpec] = []
    actions: list[specs.ActionSpec] = []
    if isinstance(document, specs.WorkbookSpec):
        workflows, actions = list(document.workflows.values()), list(document.actions.values())
    elif isinstance(document, specs.ActionsDocument):
        actions = list(document.actions.values())
    else:
        workflows = list(document.workflows.values())
    sources.save_for_run(
        app.parts.database,
        [(spec.name, spec.definition, spec.input_text(), spec.workbook) for spec in workflows],
        [(spec.name, spec.definition, spec.input_text(), spec.workbook) for spec in actions],
        namespace=namespace,
    )


def create_workflows(app: Embedded, text: str) -> None:
    """Store the workflows of ``text`` as ``POST /v2/workflows`` does."""
    from sirocco.store import definitions as stored

    with app.parts.database.transaction() as connection:
        stored.create_workflows(connection, text, now=app.parts.runtime.clock())


def start(
    app: Embedded,
    workflow: str,
    workflow_input: Mapping[str, Any] | None = None,
    **params: Any,
) -> str:
    return str(app.service.start_workflow(workflow=workflow, input=workflow_input, params=params))


def wait_for(
    app: Embedded, execution_id: str, states: Iterable[str] = ENDED, *, bound: float = BOUND
) -> Any:
    """The execution row once its state is one of ``states``; fails the test at the bound."""
    wanted = frozenset(states)
    return waiting.wait_for(
        lambda: _first(row for row in [execution(app, execution_id)] if row.state in wanted),
        what=f"execution {execution_id} to be {'/'.join(sorted(wanted))}",
        bound=bound,
        interval=0.01,
        seen=lambda: _execution_seen(app, execution_id),
    )


def run_on_clock(app: Embedded, execution_id: str, clock: testing.FakeClock) -> Any:
    """The execution row once it ended, moving ``clock`` to each timer's due time meanwhile.

    The clock stands still otherwise, so a state that lasts until a timer fires
    (DELAYED, a running action before its timeout) lasts until this is called,
    however slow the machine.
    """

    def ended() -> Any:
        row = execution(app, execution_id)
        if row.state in ENDED:
            return row
        with app.parts.database.read() as connection:
            due = connection.execute(sa.select(sa.func.min(tables.timers.c.due))).scalar()
        if due is not None:
            clock.move_to(due)
        return None

    return waiting.wait_for(
        ended,
        what=f"execution {execution_id} to end",
        interval=0.01,
        seen=lambda: _execution_seen(app, execution_id),
    )


def wait_task(app: Embedded, execution_id: str, name: str, states: Iterable[str]) -> Any:
    """The task row once task ``name`` is in one of ``states``."""
    wanted = frozenset(states)

    def arrived() -> Any:
        found = [row for row in tasks(app, execution_id) if row.name == name]
        return found[-1] if found and found[-1].state in wanted else None

    return waiting.wait_for(
        arrived,
        what=f"task {name} to be {'/'.join(sorted(wanted))}",
        interval=0.01,
        seen=lambda: _execution_seen(app, execution_id),
    )


def wait_until(condition: Callable[[], bool], *, what: str = "the condition") -> None:
    waiting.wait_for(condition, what=what, interval=0.01)


def wait_for_actions(app: Embedded, task_execution_id: str, states: Iterable[str]) -> list[Any]:
    """The task's action rows once there is at least one and all are in ``states``."""
    wanted = frozenset(states)

    def arrived() -> list[Any]:
        found = actions(app, task_execution_id)
        return found if found and all(row.state in wanted for row in found) else []

    return waiting.wait_for(
        arrived,
        what=f"the actions of task {task_execution_id} to be {'/'.join(sorted(wanted))}",
        interval=0.01,
        seen=lambda: actions(app, task_execution_id),
    )


def _first(rows: Iterable[Any]) -> Any:
    return next(iter(rows), None)


def _execution_seen(app: Embedded, execution_id: str) -> str:
    row = execution(app, execution_id)
    return f"it is {row.state} ({row.state_info}); tasks: {task_states(app, execution_id)}"


def run(
    app: Embedded,
    workflow: str,
    workflow_input: Mapping[str, Any] | None = None,
    **params: Any,
) -> Any:
    """Start ``workflow`` and return its execution row once it ended."""
    execution_id = start(app, workflow, workflow_input, **params)
    return wait_for(app, execution_id)


def execution(app: Embedded, execution_id: str) -> Any:
    table = tables.workflow_executions
    with app.parts.database.read() as connection:
        return connection.execute(sa.select(table).where(table.c.id == execution_id)).one()


def tasks(app: Embedded, execution_id: str) -> list[Any]:
    """Task rows of one execution in creation order."""
    table = tables.task_executions
    with app.parts.database.read() as connection:
        return list(
            connection.execute(
                sa.select(table)
                .where(table.c.workflow_execution_id == execution_id)
                .order_by(table.c.seq)
            )
        )


def task(app: Embedded, execution_id: str, name: str) -> Any:
    found = [row for row in tasks(app, execution_id) if row.name == name]
    assert len(found) == 1, f"{len(found)} tasks named {name}"
    return found[0]


def task_states(app: Embedded, execution_id: str) -> dict[str, str]:
    return {row.name: row.state for row in tasks(app, execution_id)}


def actions(app: Embedded, task_execution_id: str) -> list[Any]:
    """Action rows of one task, by item index then creation."""
    table = tables.action_executions
    with app.parts.database.read() as connection:
        return list(
            connection.execute(
                sa.select(table)
                .where(table.c.task_execution_id == task_execution_id)
                .order_by(table.c.index, table.c.created_at, table.c.attempt)
            )
        )


def children(app: Embedded, task_execution_id: str) -> list[Any]:
    """Sub-workflow executions started by one task."""
    table = tables.workflow_executions
    with app.parts.database.read() as connection:
        return list(
            connection.execute(
                sa.select(table).where(table.c.task_execution_id == task_execution_id)
            )
        )


def count_rows(app: Embedded, table: sa.Table) -> int:
    with app.parts.database.read() as connection:
        return int(connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())
