"""An execution's tree over the database or a server, and ``sirocco logs``: its events in time.

The tree has the shape of :func:`sirocco.store.overview.tree` whichever the source: an
execution node (``workflow_name``, ``state``, ``state_info``, ``started_at``,
``finished_at``) whose ``children`` are its tasks (``name``, ``state``, ``published``,
``attempts``, ``actions``), whose ``children`` are the sub-workflow executions they
started. A server gives it through Mistral's ``/report`` and each execution's
``/tasks``; its times are whole seconds.

The events are what the tree says happened: each execution, task and action started
and, once it did, ended in a state (with the error of an ERROR), in time order.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import click

ENDED = ("SUCCESS", "ERROR", "CANCELLED")
#: Seconds between two reads of a followed execution.
FOLLOW_INTERVAL = 0.5


def read_tree(db_url: str | None, url: str | None, token: str | None, execution_id: str) -> Any:
    """The execution's tree from ``url`` when given, else from the database."""
    from sirocco.cli import inspect

    if url:
        return tree_from_server(lambda path: inspect._from_server(url, path, token), execution_id)
    from sirocco.store import overview

    return inspect._from_database(
        db_url, lambda connection: overview.tree(connection, execution_id)
    )


def tree_from_server(get: Callable[[str], Any], execution_id: str) -> dict[str, Any]:
    """The tree from a server's answers (``get(path)``: the decoded JSON of a GET)."""
    report = get(f"/v2/executions/{execution_id}/report")["root_workflow_execution"]
    return _execution_node(get, report)


def _execution_node(get: Callable[[str], Any], entry: dict[str, Any]) -> dict[str, Any]:
    state = entry.get("state")
    tasks = {task["id"]: task for task in get(f"/v2/executions/{entry['id']}/tasks")["tasks"]}
    node: dict[str, Any] = {
        "kind": "execution",
        "id": entry["id"],
        "workflow_name": entry.get("name"),
        "state": state,
        "state_info": entry.get("state_info") if state == "ERROR" else None,
        "started_at": entry.get("created_at"),
        "finished_at": entry.get("updated_at") if state in ENDED else None,
        "children": [],
    }
    for task_entry in entry.get("task_executions", []):
        task = tasks.get(task_entry["id"], {})
        runtime = _decoded(task.get("runtime_context")) or {}
        retry = runtime.get("retry_task_policy") if isinstance(runtime, dict) else None
        actions = task_entry.get("action_executions", [])
        errors = _action_errors(get, task_entry["id"], actions)
        retries = retry.get("retry_no", 0) if isinstance(retry, dict) else 0
        node["children"].append(
            {
                "kind": "task",
                "id": task_entry["id"],
                "name": task_entry.get("name"),
                "state": task_entry.get("state"),
                "state_info": (
                    task_entry.get("state_info") if task_entry.get("state") == "ERROR" else None
                ),
                "started_at": task.get("started_at") or task_entry.get("created_at"),
                "finished_at": task.get("finished_at")
                or (task_entry.get("updated_at") if task_entry.get("state") in ENDED else None),
                "published": _decoded(task.get("published")) or {},
                "attempts": (retries + 1) if actions else 0,
                "actions": [
                    {
                        "id": action["id"],
                        "name": action.get("name"),
                        "state": action.get("state"),
                        "state_info": errors.get(action["id"], action.get("state_info")),
                        "started_at": action.get("created_at"),
                        "finished_at": (
                            action.get("updated_at") if action.get("state") in ENDED else None
                        ),
                    }
                    for action in actions
                ],
                "children": [
                    _execution_node(get, child)
                    for child in task_entry.get("workflow_executions", [])
                ],
            }
        )
    return node


def _action_errors(
    get: Callable[[str], Any], task_id: str, actions: list[dict[str, Any]]
) -> dict[str, Any]:
    """The errors of a task's failed actions, which the report leaves out (as Mistral's)."""
    if not any(action.get("state") == "ERROR" for action in actions):
        return {}
    found = get(f"/v2/tasks/{task_id}/action_executions?include_output=true")
    found = found["action_executions"]
    return {action["id"]: action.get("state_info") or _error_of(action) for action in found}


def _error_of(action: dict[str, Any]) -> Any:
    """A failed action's error: Mistral's API gives it as the output's ``result``."""
    output = _decoded(action.get("output"))
    if action.get("state") != "ERROR" or not isinstance(output, dict):
        return None
    result = output.get("result")
    return result if result is None or isinstance(result, str) else json.dumps(result)


def _decoded(value: Any) -> Any:
    """A JSON text field of Mistral's API (``published``, ``runtime_context``) decoded."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def events(tree: dict[str, Any]) -> list[dict[str, Any]]:
    """What happened in the tree, in time order: one event per start and per end of each
    execution, task and action (and the current state of one that waits, e.g. DELAYED)."""
    found = list(_events(tree, depth=0, workflow=tree.get("workflow_name") or ""))
    order = {id(event): number for number, event in enumerate(found)}
    return sorted(found, key=lambda event: (_when(event["time"]), order[id(event)]))


def _events(node: dict[str, Any], *, depth: int, workflow: str) -> Iterator[dict[str, Any]]:
    kind = node["kind"]
    name = node.get("workflow_name") if kind == "execution" else node.get("name")
    where = node.get("workflow_name") or workflow
    state = node.get("state")

    def event(when: Any, state: str, info: Any = None) -> dict[str, Any]:
        return {
            "time": _text_time(when),
            "kind": kind,
            "id": node["id"],
            "name": name,
            "workflow": where,
            "state": state,
            "info": str(info).strip() if info else None,
            "depth": depth,
        }

    if node.get("started_at"):
        yield event(node["started_at"], "RUNNING" if state in ENDED else str(state))
    for action in node.get("actions", []):
        yield from _action_events(action, task=name, workflow=where, depth=depth + 1)
    for child in node.get("children", []):
        yield from _events(child, depth=depth + (1 if kind == "task" else 0), workflow=where)
    if state in ENDED and node.get("finished_at"):
        info = node.get("state_info")
        if kind == "execution" and info:  # its tasks' events carry the details
            info = str(info).strip().splitlines()[0]
        yield event(node["finished_at"], str(state), info)


def _action_events(
    action: dict[str, Any], *, task: Any, workflow: str, depth: int
) -> Iterator[dict[str, Any]]:
    base = {"kind": "action", "id": action["id"], "name": action.get("name"),
            "workflow": workflow, "task": task, "depth": depth}  # fmt: skip
    state = action.get("state")
    if action.get("started_at"):
        started = "RUNNING" if state in ENDED else state
        yield {**base, "time": _text_time(action["started_at"]), "state": started, "info": None}
    if state in ENDED and action.get("finished_at"):
        info = action.get("state_info")
        yield {**base, "time": _text_time(action["finished_at"]), "state": state,
               "info": str(info).strip() if info else None}  # fmt: skip


def _text_time(value: Any) -> str:
    return value.isoformat(sep=" ") if isinstance(value, datetime) else str(value)


def _when(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return datetime.min


def key(event: dict[str, Any]) -> tuple[str, str, str]:
    """What makes an event new to a follower: the same thing in the same state is not."""
    return (event["kind"], event["id"], event["state"])


def line(event: dict[str, Any]) -> str:
    """An event as one plain line: time, what, name, state and the error's first line."""
    head, state, tail = parts(event)
    return f"{head} {state}{tail}"


def parts(event: dict[str, Any]) -> tuple[str, str, str]:
    """An event's line in three: what comes before its state, the state, what follows."""
    what = event["kind"]
    if what == "action":
        label = f"{event['name']} (task {event['task']})"
    elif what == "execution":
        label = f"{event['name']} {event['id']}"
    else:
        label = str(event["name"])
    head = f"{event['time'][:23]}  {'  ' * event['depth']}{what} {label}"
    tail = ": " + " ".join(event["info"].split())[:300] if event.get("info") else ""
    return head, str(event["state"]), tail


@click.command("logs")
@click.argument("execution_id")
@click.option("--db", "db_url", envvar="SIROCCO_DB", help="Database URL or SQLite file.")
@click.option("--url", envvar="SIROCCO_URL", help="A Sirocco server's base URL.")
@click.option("--token", envvar="SIROCCO_TOKEN", help="API token for --url (X-Auth-Token).")
@click.option("--follow", "-f", is_flag=True, help="Print events as they come, until it ends.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per event.")
def logs_command(
    execution_id: str,
    db_url: str | None,
    url: str | None,
    token: str | None,
    follow: bool,
    as_json: bool,
) -> None:
    """Print an execution's events: executions, tasks and actions starting and ending,
    with their errors, in time order; with --follow, until the execution ends (exit 0
    for SUCCESS, 1 for ERROR or CANCELLED)."""
    from sirocco.cli import inspect

    ended: list[str] = []

    def body() -> None:
        seen: set[tuple[str, str, str]] = set()
        console = None
        if not as_json and sys.stdout.isatty():
            from rich.console import Console

            console = Console(highlight=False)
        while True:
            tree = read_tree(db_url, url, token, execution_id)
            try:
                for event in events(tree):
                    if key(event) not in seen:
                        seen.add(key(event))
                        _print(event, as_json, console)
            except BrokenPipeError:  # `sirocco logs ID | head`: the reader is gone
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
                sys.exit(0)
            if not follow or tree["state"] in ENDED:
                ended.append(str(tree["state"]))
                return
            time.sleep(FOLLOW_INTERVAL)

    inspect.run_safely(body)
    if follow and ended and ended[0] != "SUCCESS":
        sys.exit(1)


_COLOURS = {"SUCCESS": "green", "ERROR": "red", "CANCELLED": "yellow", "RUNNING": "cyan"}


def _print(event: dict[str, Any], as_json: bool, console: Any) -> None:
    if as_json:
        click.echo(json.dumps(event, default=str))
    elif console is not None:
        from rich.markup import escape

        head, state, tail = parts(event)
        colour = _COLOURS.get(state, "magenta")
        console.print(f"{escape(head)} [{colour}]{escape(state)}[/{colour}]{escape(tail)}")
    else:
        click.echo(line(event))
        sys.stdout.flush()
