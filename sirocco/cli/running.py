"""``sirocco run`` and ``sirocco resume``: start or resume, follow, print, exit with the state."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from sirocco import errors, lang
from sirocco.cli.embedded import Embedded, open_embedded
from sirocco.lang import specs
from sirocco.runtime import definitions
from sirocco.store import tables

EXIT_CODES = {"SUCCESS": 0, "ERROR": 1, "CANCELLED": 1, "PAUSED": 3}
POLL = 0.05


def run_file(
    text: str,
    *,
    source: str,
    workflow_name: str | None,
    workflow_input: Mapping[str, Any],
    params: Mapping[str, Any],
    db_url: str | None,
    as_json: bool,
    timeout: float,
) -> int:
    """Store the file's definitions, run one workflow, print its result, return the exit code."""
    document = lang.parse_document(text, source=source)
    workflows, actions = _definitions(document)
    if not workflows:
        raise errors.DefinitionError(f"{source} defines no workflow to run.")
    chosen = _choose(workflows, workflow_name, source)
    app = open_embedded(db_url)
    try:
        definitions.save_for_run(
            app.parts.database,
            [(spec.name, spec.definition, spec.input_text(), spec.workbook) for spec in workflows],
            [(spec.name, spec.definition, spec.input_text(), spec.workbook) for spec in actions],
        )
        execution_id = app.service.start_workflow(
            workflow=chosen.name, input=dict(workflow_input), params=dict(params)
        )
        return _follow(app, execution_id, as_json=as_json, timeout=timeout)
    finally:
        app.close()


def resume_execution(
    execution_id: str,
    *,
    db_url: str | None,
    env: Mapping[str, Any] | None,
    as_json: bool,
    timeout: float,
) -> int:
    app = open_embedded(db_url)
    try:
        app.service.resume_workflow(execution_id, env=env)
        return _follow(app, execution_id, as_json=as_json, timeout=timeout)
    finally:
        app.close()


def _definitions(
    document: Any,
) -> tuple[list[specs.WorkflowSpec], list[specs.ActionSpec]]:
    if isinstance(document, specs.WorkbookSpec):
        return list(document.workflows.values()), list(document.actions.values())
    if isinstance(document, specs.ActionsDocument):
        return [], list(document.actions.values())
    return list(document.workflows.values()), []


def _choose(
    workflows: list[specs.WorkflowSpec], name: str | None, source: str
) -> specs.WorkflowSpec:
    if name is None:
        if len(workflows) == 1:
            return workflows[0]
        names = ", ".join(spec.name for spec in workflows)
        raise errors.InputError(f"{source} has several workflows ({names}); choose one with --workflow.")
    for spec in workflows:
        if name in (spec.name, spec.name.split(".", 1)[-1]):
            return spec
    raise errors.NotFoundError(f"{source} has no workflow named '{name}'.")


# ---------------------------------------------------------------- following


def _follow(app: Embedded, execution_id: str, *, as_json: bool, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    view = None if as_json or not sys.stdout.isatty() else _LiveView()
    try:
        while True:
            report = read_report(app, execution_id)
            if view is not None:
                view.update(report)
            if report["state"] in EXIT_CODES:
                break
            if time.monotonic() > deadline:
                raise errors.SiroccoError(
                    f"the execution {execution_id} did not end within {timeout:g} s; it is "
                    f"{report['state']} (follow it with `sirocco resume` or the API)"
                )
            time.sleep(POLL)
    finally:
        if view is not None:
            view.close()
    if as_json:
        sys.stdout.write(json.dumps(_strip(report), default=str) + "\n")
    else:
        _print_summary(report, plain=view is None)
    return EXIT_CODES[report["state"]]


def read_report(app: Embedded, execution_id: str) -> dict[str, Any]:
    """The execution as ``sirocco run --json`` prints it."""
    workflow_table = tables.workflow_executions
    task_table = tables.task_executions
    with app.parts.database.read() as connection:
        row = connection.execute(
            sa.select(workflow_table).where(workflow_table.c.id == execution_id)
        ).first()
        if row is None:
            raise errors.NotFoundError(f"Workflow execution not found [id={execution_id}]")
        tasks = connection.execute(
            sa.select(
                task_table.c.name,
                task_table.c.state,
                task_table.c.state_info,
                task_table.c.published,
                task_table.c.runtime,
            )
            .where(task_table.c.workflow_execution_id == execution_id)
            .order_by(task_table.c.seq)
        ).all()
    return {
        "id": row.id,
        "workflow": row.workflow_name,
        "state": row.state,
        "state_info": row.state_info,
        "output": row.output,
        "tasks": [
            {
                "name": task.name,
                "state": task.state,
                "state_info": task.state_info,
                "published": task.published or {},
                "_progress": _progress(task.runtime),
            }
            for task in tasks
        ],
    }


def _progress(runtime: Mapping[str, Any] | None) -> tuple[int, int] | None:
    items = (runtime or {}).get("with_items")
    if not isinstance(items, Mapping):
        return None
    total = items.get("count")
    done = items.get("done", items.get("completed"))
    if isinstance(total, int) and isinstance(done, int):
        return done, total
    return None


def _strip(report: Mapping[str, Any]) -> dict[str, Any]:
    return {
        **report,
        "tasks": [{k: v for k, v in task.items() if not k.startswith("_")} for task in report["tasks"]],
    }


class _LiveView:
    """Tasks appearing with their state, and with-items progress, redrawn in place."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.live import Live

        self._console = Console()
        self._live = Live(console=self._console, refresh_per_second=10, transient=False)
        self._live.start()

    def update(self, report: Mapping[str, Any]) -> None:
        from rich.table import Table

        table = Table(title=f"{report['workflow']}  {report['id']}  [{report['state']}]")
        table.add_column("task")
        table.add_column("state")
        table.add_column("progress")
        table.add_column("info", overflow="fold")
        for task in report["tasks"][-40:]:
            progress = task["_progress"]
            table.add_row(
                task["name"],
                _styled(task["state"]),
                f"{progress[0]}/{progress[1]}" if progress else "",
                (task["state_info"] or "")[:120],
            )
        self._live.update(table)

    def close(self) -> None:
        self._live.stop()


def _styled(state: str) -> str:
    colour = {"SUCCESS": "green", "ERROR": "red", "RUNNING": "yellow", "PAUSED": "cyan"}.get(state)
    return f"[{colour}]{state}[/{colour}]" if colour else state


def _print_summary(report: Mapping[str, Any], *, plain: bool) -> None:
    if plain:
        for task in report["tasks"]:
            print(f"{task['name']}: {task['state']}")
    print(f"execution {report['id']}: {report['state']}")
    if report["state_info"]:
        print(f"state info: {report['state_info']}")
    print(json.dumps(report["output"], indent=4, default=str, ensure_ascii=False))
