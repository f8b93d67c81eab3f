"""``sirocco run`` and ``sirocco resume``: start or resume, follow, print, exit with the state.

The runtime (SQLAlchemy, the store, the engine) is imported only once the file
has been read and checked, so that a bad file is reported without that cost.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from sirocco import errors, lang
from sirocco.lang import specs

if TYPE_CHECKING:
    from sirocco.cli.embedded import Embedded
    from sirocco.cli.live import LiveView

EXIT_CODES = {"SUCCESS": 0, "ERROR": 1, "CANCELLED": 1, "PAUSED": 3}
POLL = 0.05


class StoppedFollowing(errors.SiroccoError):
    """The command stopped following an execution that goes on (timeout or Ctrl-C).

    ``interrupted``: by Ctrl-C; the actions still running in this process are
    abandoned (the process leaves without waiting for them).
    """

    def __init__(self, message: str, exit_code: int, *, interrupted: bool = False) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.interrupted = interrupted


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
    view: LiveView | None = None,
) -> int:
    """Store the file's definitions, run one workflow, print its result, return the exit code.

    ``view``: the live view already on the terminal (None: print plain text or JSON).
    """
    document = lang.parse_document(text, source=source)
    workflows, actions = _definitions(document)
    if not workflows:
        raise errors.DefinitionError(f"{source} defines no workflow to run.")
    chosen = _choose(workflows, workflow_name, source)
    from sirocco.store import sources

    with _embedded(db_url) as app:
        sources.save_for_run(
            app.parts.database,
            [(spec.name, spec.definition, spec.input_text(), spec.workbook) for spec in workflows],
            [(spec.name, spec.definition, spec.input_text(), spec.workbook) for spec in actions],
        )
        if view is not None:
            view.note("starting the workflow")
        deferred = DeferredInterrupt()
        try:
            execution_id = app.service.start_workflow(
                workflow=chosen.name, input=dict(workflow_input), params=dict(params)
            )
        except errors.InputError as exc:
            deferred.restore()
            raise _with_hint(exc, chosen) from None
        except BaseException:
            deferred.restore()
            raise
        return _follow(
            app, execution_id, as_json=as_json, timeout=timeout, view=view, deferred=deferred
        )


class DeferredInterrupt:
    """Ctrl-C held back while an execution starts (or resumes): the start commits and
    answers, and the command then stops following with the execution's id and what becomes
    of its actions, instead of leaving without saying which execution it started (under
    load a start takes seconds, and its actions may already run). Only the main thread
    can take signals; elsewhere nothing is held back."""

    def __init__(self) -> None:
        self.fired = False
        self._previous: Any = None
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._hold)

    def _hold(self, _signal: int, _frame: Any) -> None:
        self.fired = True

    def restore(self) -> None:
        """Ctrl-C as it was (once; a later call does nothing)."""
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None


def resume_execution(
    execution_id: str,
    *,
    db_url: str | None,
    env: Mapping[str, Any] | None,
    as_json: bool,
    timeout: float,
    view: LiveView | None = None,
) -> int:
    """Resume a paused execution (or take over one left RUNNING by a process that died),
    follow it, print its result, return the exit code."""
    with _embedded(db_url, start=False) as app:
        if view is not None:
            view.note("resuming the execution")
        # Taking over an execution left RUNNING may end it as the runtime starts (the actions
        # that can't be re-run fail at once): then there is only its result to show.
        taken_over = read_report(app, execution_id)["state"] == "RUNNING"
        app.start()
        deferred = DeferredInterrupt()
        try:
            app.service.resume_workflow(execution_id, env=env)
        except errors.InvalidStateError:
            if not taken_over:
                deferred.restore()
                raise
        except BaseException:
            deferred.restore()
            raise
        return _follow(
            app, execution_id, as_json=as_json, timeout=timeout, view=view, deferred=deferred
        )


@contextmanager
def _embedded(db_url: str | None, *, start: bool = True) -> Iterator[Embedded]:
    """The embedded runtime on ``db_url`` (its threads started unless ``start`` is false);
    a database that can't be used is a SiroccoError."""
    import sqlalchemy as sa

    from sirocco.cli.embedded import open_embedded
    from sirocco.cli.process import settle_process

    try:
        app = open_embedded(db_url, start=start)
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


def _with_hint(error: errors.InputError, chosen: specs.WorkflowSpec) -> errors.InputError:
    """The engine's input error, with what to do about it on the command line."""
    if chosen.workflow_type == "reverse" and error.message.startswith("Invalid task name"):
        names = ", ".join(chosen.tasks)
        return errors.InputError(
            f"{error.message}: reverse workflows need --param task_name=NAME, "
            f"the task to reach (one of: {names})"
        )
    return error


# ---------------------------------------------------------------- following


def _follow(
    app: Embedded,
    execution_id: str,
    *,
    as_json: bool,
    timeout: float,
    view: LiveView | None,
    deferred: DeferredInterrupt | None = None,
) -> int:
    deadline = time.monotonic() + timeout
    report: dict[str, Any] = {"state": "RUNNING"}
    later = f"(sirocco resume {execution_id} follows it again)"
    try:
        if deferred is not None:
            deferred.restore()
            if deferred.fired:  # Ctrl-C while the execution started
                raise KeyboardInterrupt
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
        if view is not None:
            view.close()
        raise StoppedFollowing(
            interrupted_message(app, execution_id, str(report["state"])), 130, interrupted=True
        ) from None
    finally:
        if view is not None:
            view.close()
    if as_json:
        sys.stdout.write(json.dumps(_strip(report), default=str) + "\n")
    else:
        from sirocco.cli.summary import print_summary

        print_summary(report, tasks=view is None, out=sys.stdout)
    return EXIT_CODES[report["state"]]


def interrupted_message(app: Embedded, execution_id: str, state: str) -> str:
    """What Ctrl-C leaves behind: the execution's state, its actions in flight and what
    ``sirocco resume`` will do with them (Mistral's ``safe-rerun`` rule)."""
    from sirocco.runtime import in_flight

    text = (
        f"interrupted; the execution {execution_id} is {state}, and "
        f"'sirocco resume {execution_id}' follows it again"
    )
    try:
        actions = in_flight.handed_over(app.parts.database, _execution_tree(app, execution_id))
    except Exception:  # a second Ctrl-C or a broken connection: say what is known
        return (
            f"{text}. Actions that were running stopped with this process: on resume they "
            "fail, as whether they took effect is unknown, except those whose task says "
            "'safe-rerun: true', which run again"
        )
    if not actions:
        return f"{text} (no action was running)"
    failing = [action for action in actions if not action.runs_again]
    again = [action for action in actions if action.runs_again]
    outcomes = []
    if failing:
        outcomes.append(
            f"{_listed(failing)} {_verb(failing, 'fails', 'fail')}, as whether "
            f"{_verb(failing, 'it', 'they')} took effect is unknown (an action whose task "
            "says 'safe-rerun: true' runs again instead)"
        )
    if again:
        outcomes.append(f"{_listed(again)} {_verb(again, 'runs', 'run')} again (safe-rerun: true)")
    return f"{text}. Actions that were running stopped with this process: on resume " + (
        "; ".join(outcomes)
    )


def _verb(actions: list[Any], one: str, several: str) -> str:
    return one if len(actions) == 1 else several


def _listed(actions: list[Any]) -> str:
    shown = ", ".join(f"{action.action_name} (task {action.task_name})" for action in actions[:5])
    more = f" and {len(actions) - 5} more" if len(actions) > 5 else ""
    return f"{shown}{more}"


def _execution_tree(app: Embedded, execution_id: str) -> list[str]:
    """The execution and its sub-workflows, at any depth."""
    from sirocco.store import runs

    with app.parts.database.read() as connection:
        return runs.tree(connection, execution_id)


def read_report(app: Embedded, execution_id: str) -> dict[str, Any]:
    """The execution as ``sirocco run --json`` prints it; keys that start with ``_`` are
    for the live view only (times, progress) and left out of the JSON."""
    from sirocco.store import blobs, runs

    with app.parts.database.read() as connection:
        row = runs.execution(connection, execution_id)
        if row is None:
            raise errors.NotFoundError(f"Workflow execution not found [id={execution_id}]")
        tasks = runs.tasks(connection, execution_id)
        subworkflows = runs.subworkflow_progress(
            connection, [task.id for task in tasks if task.type == "WORKFLOW"]
        )
        output = blobs.inline(connection, row.output)
        published = {task.id: blobs.inline(connection, task.published or {}) for task in tasks}
    return {
        "id": row.id,
        "workflow": row.workflow_name,
        "state": row.state,
        "state_info": row.state_info,
        "output": output,
        "tasks": [
            {
                "name": task.name,
                "state": task.state,
                "state_info": task.state_info,
                "published": published[task.id],
                "_progress": _progress(task.runtime),
                "_subworkflow": subworkflows.get(task.id),
                "_started": task.started_at,
                "_finished": task.finished_at,
            }
            for task in tasks
        ],
        "_created": row.created_at,
        "_finished": row.updated_at if row.state in _STILL else None,
    }


#: States in which an execution's clock stops (its elapsed time ends at updated_at).
_STILL = frozenset({"SUCCESS", "ERROR", "CANCELLED", "PAUSED"})


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
    """The report without the live view's keys."""
    return {
        **{key: value for key, value in report.items() if not key.startswith("_")},
        "tasks": [
            {k: v for k, v in task.items() if not k.startswith("_")} for task in report["tasks"]
        ],
    }
