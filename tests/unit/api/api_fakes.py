"""A fake engine service for the API tests: it writes execution rows directly, and records calls."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from concurrent.futures import Future
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from sirocco import errors
from sirocco.runtime.work import Started
from sirocco.store import definitions, tables
from sirocco.store.database import Database

T0 = datetime(2026, 1, 2, 3, 4, 5)


class FakeService:
    """Implements the part of ``sirocco.runtime.service.Service`` the API calls, with its
    signatures (test_api_fakes.py checks them)."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.calls: list[tuple[str, Any]] = []

    # ------------------------------------------------------------ workflows

    def start_workflow(
        self,
        *,
        workflow: str,
        namespace: str = "",
        input: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        description: str = "",
        execution_id: str | None = None,
        project_id: str | None = None,
    ) -> str:
        self.calls.append(("start_workflow", (workflow, namespace, dict(input or {}), params)))
        with self.database.transaction() as connection:
            found = definitions.get_workflow_row(connection, workflow, namespace)
            definitions.check_workflow_input(found, input)
            identifier = execution_id or str(uuid.uuid4())
            connection.execute(
                sa.insert(tables.workflow_executions).values(
                    id=identifier,
                    workflow_name=found["name"],
                    workflow_id=found["id"],
                    namespace=namespace,
                    description=description,
                    definition=found["definition"],
                    state="RUNNING",
                    input=dict(input or {}),
                    params={**dict(params or {}), "namespace": namespace},
                    context={"__execution": {"id": identifier}, "g": 1},
                    tags=[],
                    created_at=T0,
                    updated_at=T0,
                )
            )
        return identifier

    def request_start(self, **arguments: Any) -> Future[Started]:
        # Without the engine's record: the API reads the row this fake wrote.
        started: Future[Started] = Future()
        started.set_result(Started(self.start_workflow(**arguments)))
        return started

    def _set_state(self, execution_id: str, state: str, info: str | None = None) -> None:
        table = tables.workflow_executions
        with self.database.transaction() as connection:
            connection.execute(
                sa.update(table)
                .where(table.c.id == execution_id)
                .values(state=state, state_info=info)
            )

    def pause_workflow(self, execution_id: str) -> None:
        self.calls.append(("pause_workflow", execution_id))
        self._set_state(execution_id, "PAUSED")

    def resume_workflow(self, execution_id: str, env: Mapping[str, Any] | None = None) -> None:
        self.calls.append(("resume_workflow", (execution_id, env)))
        self._set_state(execution_id, "RUNNING")

    def stop_workflow(self, execution_id: str, state: str, message: str | None = None) -> None:
        self.calls.append(("stop_workflow", (execution_id, state, message)))
        self._set_state(execution_id, state, message)

    def rerun_task(
        self, task_execution_id: str, *, reset: bool = True, env: Mapping[str, Any] | None = None
    ) -> None:
        self.calls.append(("rerun_task", (task_execution_id, reset, env)))
        table = tables.task_executions
        with self.database.transaction() as connection:
            connection.execute(
                sa.update(table).where(table.c.id == task_execution_id).values(state="RUNNING")
            )

    def skip_task(self, task_execution_id: str) -> None:
        self.calls.append(("skip_task", task_execution_id))
        table = tables.task_executions
        with self.database.transaction() as connection:
            connection.execute(
                sa.update(table).where(table.c.id == task_execution_id).values(state="SKIPPED")
            )

    def update_env(self, execution_id: str, env: Mapping[str, Any]) -> None:
        self.calls.append(("update_env", (execution_id, dict(env))))
        table = tables.workflow_executions
        with self.database.transaction() as connection:
            row = connection.execute(sa.select(table).where(table.c.id == execution_id)).one()
            if row.state not in ("IDLE", "PAUSED", "ERROR"):
                raise errors.InvalidStateError("not allowed")
            params = dict(row.params or {})
            params["env"] = {**(params.get("env") or {}), **env}
            connection.execute(
                sa.update(table).where(table.c.id == execution_id).values(params=params)
            )

    def delete_execution(self, execution_id: str, *, force: bool = False) -> None:
        self.calls.append(("delete_execution", (execution_id, force)))
        table = tables.workflow_executions
        with self.database.transaction() as connection:
            connection.execute(
                sa.delete(tables.action_executions).where(
                    tables.action_executions.c.workflow_execution_id == execution_id
                )
            )
            connection.execute(
                sa.delete(tables.task_executions).where(
                    tables.task_executions.c.workflow_execution_id == execution_id
                )
            )
            connection.execute(sa.delete(table).where(table.c.id == execution_id))

    # ------------------------------------------------------------ actions

    def list_actions(self) -> list[Mapping[str, Any]]:
        return [
            {
                "name": "std.echo",
                "input": "output, delay=0",
                "description": "Echo.",
                "is_system": True,
            },
            {"name": "std.noop", "input": "", "description": "Nothing.", "is_system": True},
            {"name": "std.async_noop", "input": "", "description": "Later.", "is_system": True},
        ]

    def run_action(
        self,
        *,
        name: str,
        input: Mapping[str, Any],
        namespace: str = "",
        description: str = "",
        save_result: bool = False,
        run_sync: bool = False,
        target: str | None = None,
        timeout: float | None = None,
        project_id: str | None = None,
    ) -> Mapping[str, Any]:
        self.calls.append(("run_action", (name, dict(input), save_result, run_sync)))
        if name not in {action["name"] for action in self.list_actions()}:
            raise errors.ActionNotFoundError(f"Failed to find action [action_name={name}]")
        is_async = name == "std.async_noop"
        if run_sync and is_async:
            raise errors.InputError("Action does not support synchronous execution.")
        output = input.get("output") if name == "std.echo" else None
        record = {
            "name": name,
            "state": "RUNNING" if is_async else "SUCCESS",
            "state_info": None,
            "input": dict(input),
            "output": None if is_async else output,
            "accepted": True,
            "params": {"save_result": save_result, "run_sync": run_sync},
            "description": description,
            "tags": [],
            "created_at": T0,
            "updated_at": None,
        }
        if not (save_result or is_async):
            return {**record, "id": None}
        identifier = str(uuid.uuid4())
        with self.database.transaction() as connection:
            connection.execute(
                sa.insert(tables.action_executions).values(
                    id=identifier, is_sync=not is_async, **record
                )
            )
        return {**record, "id": identifier}

    def complete_action(self, action_execution_id: str, *, state: str, output: Any) -> None:
        self.calls.append(("complete_action", (action_execution_id, state, output)))
        table = tables.action_executions
        with self.database.transaction() as connection:
            connection.execute(
                sa.update(table)
                .where(table.c.id == action_execution_id)
                .values(state=state, output=output, updated_at=T0)
            )


def add_task(
    database: Database,
    execution_id: str,
    name: str,
    *,
    state: str = "SUCCESS",
    seq: int = 0,
    result: Any = None,
    published: Mapping[str, Any] | None = None,
    triggered_by: list[str] | None = None,
    next_tasks: list[list[str]] | None = None,
    created_at: datetime = T0,
) -> str:
    """Insert a task execution row and return its id."""
    identifier = str(uuid.uuid4())
    with database.transaction() as connection:
        connection.execute(
            sa.insert(tables.task_executions).values(
                id=identifier,
                workflow_execution_id=execution_id,
                name=name,
                seq=seq,
                type="ACTION",
                state=state,
                result=result,
                published=dict(published or {}),
                triggered_by=triggered_by or [],
                next_tasks=next_tasks or [],
                runtime={},
                tags=[],
                processed=state in ("SUCCESS", "ERROR"),
                created_at=created_at,
                updated_at=created_at,
                started_at=created_at,
                finished_at=created_at if state in ("SUCCESS", "ERROR") else None,
            )
        )
    return identifier


def add_action(
    database: Database,
    execution_id: str | None,
    task_id: str | None,
    *,
    name: str = "std.echo",
    state: str = "SUCCESS",
    output: Any = None,
    created_at: datetime = T0,
) -> str:
    """Insert an action execution row and return its id."""
    identifier = str(uuid.uuid4())
    with database.transaction() as connection:
        connection.execute(
            sa.insert(tables.action_executions).values(
                id=identifier,
                name=name,
                task_execution_id=task_id,
                workflow_execution_id=execution_id,
                state=state,
                input={"output": output},
                output=output,
                accepted=True,
                params={},
                description="",
                tags=[],
                created_at=created_at,
                updated_at=created_at,
            )
        )
    return identifier
