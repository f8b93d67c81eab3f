"""``sirocco run`` and ``sirocco resume``: start or resume, follow, print, exit with the state.

The runtime (SQLAlchemy, the store, the engine) is imported only once the file
has been read and checked, so that a bad file is reported without that cost.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from sirocco import errors, lang
from sirocco.lang import specs

if TYPE_CHECKING:
    from sirocco.cli.embedded import Embedded

EXIT_CODES = {"SUCCESS": 0, "ERROR": 1, "CANCELLED": 1, "PAUSED": 3}
POLL = 0.05


class StoppedFollowing(errors.SiroccoError):
    """The command stopped following an execution that goes on (timeout or Ctrl-C)."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


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
    from sirocco.runtime import definitions

    with _embedded(db_url) as app:
        definitions.save_for_run(
            app.parts.database,
            [(spec.name, spec.definition, spec.input_text(), spec.workbook) for spec in workflows],
            [(spec.name, spec.definition, spec.input_text(), spec.workbook) for spec in actions],
        )
        execution_id = app.service.start_workflow(
            workflow=chosen.name, input=dict(workflow_input), params=dict(params)
        )
        return _follow(app, execution_id, as_json=as_json, timeout=timeout)


def resume_execution(
    execution_id: str,
    *,
    db_url: str | None,
    env: Mapping[str, Any] | None,
    as_json: bool,
    timeout: float,
) -> int:
    """Resume a paused execution (or take over one left RUNNING by a process that died),
    follow it, print its result, return the exit code."""
    with _embedded(db_url) as app:
        app.service.resume_workflow(execution_id, env=env)
        return _follow(app, execution_id, as_json=as_json, timeout=timeout)


@contextmanager
def _embedded(db_url: str | None) -> Iterator[Embedded]:
    """The embedded runtime on ``db_url``; a database that can't be used is a SiroccoError."""
    import sqlalchemy as sa

    from sirocco.cli.embedded import open_embedded
    from sirocco.cli.process import settle_process

    try:
        app = open_embedded(db_url)
    except sa.exc.SQLAlchemyError as exc:
        raise errors.ConfigurationError(f"can't use the database: {_first_line(exc)}") from exc
    settle_process(collect=False)
    try:
        yield app
    except sa.exc.SQLAlchemyError as exc:
        raise errors.SiroccoError(f"database error: {_first_line(exc)}") from exc
    finally:
        app.close()


def _first_line(exc: BaseException) -> str:
    """A driver error's first line (its message), without SQL and background links."""
    original = getattr(exc, "orig", None) or exc
    lines = str(original).strip().splitlines() or [type(original).__name__]
    return lines[0]


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
        raise errors.InputError(
            f"{source} has several workflows ({names}); choose one with --workflow."
        )
    for spec in workflows:
        if name in (spec.name, spec.name.split(".", 1)[-1]):
            return spec
    raise errors.NotFoundError(f"{source} has no workflow named '{name}'.")


# ---------------------------------------------------------------- following


def _follow(app: Embedded, execution_id: str, *, as_json: bool, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    view = None if as_json or not sys.stdout.isatty() else _LiveView()
    report: dict[str, Any] = {"state": "RUNNING"}
    later = f"(sirocco resume {execution_id} follows it again)"
    try:
        while True:
            report = read_report(app, execution_id)
            if view is not None:
                view.update(report)
            if report["state"] in EXIT_CODES:
                break
            if time.monotonic() > deadline:
                raise StoppedFollowing(
                    f"the execution {execution_id} did not end within {timeout:g} s; it is "
                    f"{report['state']} {later}",
                    1,
                )
            time.sleep(POLL)
    except KeyboardInterrupt:
        raise StoppedFollowing(
            f"interrupted; the execution {execution_id} is {report['state']} {later}", 130
        ) from None
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
    import sqlalchemy as sa

    from sirocco.store import tables

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
    """(finished items, all items) of a with-items task, from the engine's counters."""
    items = (runtime or {}).get("with_items")
    if not isinstance(items, Mapping):
        return None
    total = items.get("count")
    counts = [items.get(key, 0) for key in ("succeeded", "failed", "cancelled")]
    if not isinstance(total, int) or not all(isinstance(count, int) for count in counts):
        return None
    return min(sum(counts), total), total


def _strip(report: Mapping[str, Any]) -> dict[str, Any]:
    return {
        **report,
        "tasks": [
            {k: v for k, v in task.items() if not k.startswith("_")} for task in report["tasks"]
        ],
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
    if report["state"] == "PAUSED":
        print(f"resume it with: sirocco resume {report['id']} (and the same --db)")
    print(json.dumps(report["output"], indent=4, default=str, ensure_ascii=False))
