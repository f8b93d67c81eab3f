"""``sirocco explain ID``: what an execution waits on, or why it failed, over the database
(``--db``) or a server (``--url``)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import datetime
from typing import Any

import click

from sirocco import clock, errors


def _fail(message: str) -> None:
    click.echo(f"sirocco: {message}", err=True)
    sys.exit(2)


def _from_server(
    url: str, path: str, token: str | None, params: dict[str, Any] | None = None
) -> Any:
    import httpx

    headers = {"Accept": "application/json"}
    if token:
        headers["X-Auth-Token"] = token
    try:
        response = httpx.get(url.rstrip("/") + path, headers=headers, params=params, timeout=30.0)
    except httpx.HTTPError as exc:
        raise errors.SiroccoError(f"can't reach {url}: {type(exc).__name__}: {exc}") from None
    if response.status_code >= 400:
        try:
            reason = response.json().get("faultstring") or response.text
        except ValueError:
            reason = response.text
        raise errors.SiroccoError(f"{url} answered {response.status_code}: {reason}")
    return response.json()


def _from_database(db_url: str | None, read: Callable[[Any], Any]) -> Any:
    from sirocco.store import migrate
    from sirocco.store.database import Database

    database = Database(db_url)
    try:
        if migrate.current(database) is None:
            raise errors.SiroccoError("the database has no Sirocco schema (sirocco db upgrade)")
        with database.read() as connection:
            return read(connection)
    finally:
        database.dispose()


def source_options(command: Callable[..., None]) -> Callable[..., None]:
    """``--db``, ``--url`` and ``--token``: where the command reads executions."""
    command = click.option(
        "--token", envvar="SIROCCO_TOKEN", help="API token for --url (X-Auth-Token)."
    )(command)
    command = click.option("--url", envvar="SIROCCO_URL", help="A Sirocco server's base URL.")(
        command
    )
    return click.option("--db", "db_url", envvar="SIROCCO_DB", help="Database URL or SQLite file.")(
        command
    )


def run_safely(action: Callable[[], None]) -> None:
    """Run a command's body: errors become one line and exit code 2."""
    try:
        action()
    except errors.SiroccoError as exc:
        _fail(exc.message)
    except Exception as exc:  # driver errors: one line, not a traceback
        _fail(f"can't read the executions: {type(exc).__name__}: {exc}")


@click.command("explain")
@click.argument("execution_id")
@source_options
@click.option("--json", "as_json", is_flag=True, help="Print the explanation as JSON.")
def explain_command(
    execution_id: str, db_url: str | None, url: str | None, token: str | None, as_json: bool
) -> None:
    """Say what a RUNNING or PAUSED execution waits on, or why an ERROR one failed."""

    def body() -> None:
        if url:
            found = _from_server(url, f"/v2/executions/{execution_id}/explain", token)
        else:
            from sirocco.store import explain

            now = clock.utcnow()
            found = _from_database(
                db_url, lambda connection: explain.explain(connection, execution_id, now=now)
            ).as_json()
        if as_json:
            click.echo(json.dumps(found, indent=2, sort_keys=True))
        else:
            click.echo(found["explanation"])

    run_safely(body)


def _duration(start: Any, end: Any) -> str:
    if not start:
        return ""
    begin = datetime.fromisoformat(str(start))
    finish = datetime.fromisoformat(str(end)) if end else clock.utcnow()
    return f"{(finish - begin).total_seconds():.1f}s"


def _text(value: Any) -> str:
    return "" if value is None else str(value)


@click.command("executions")
@click.option("--state", "states", multiple=True, help="Only executions in this state.")
@click.option("--workflow", help="Only executions of this workflow.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
@source_options
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
def executions_command(
    states: tuple[str, ...],
    workflow: str | None,
    limit: int,
    db_url: str | None,
    url: str | None,
    token: str | None,
    as_json: bool,
) -> None:
    """List executions, newest first."""

    def body() -> None:
        wanted = [state.upper() for state in states]
        if url:
            params: dict[str, Any] = {"limit": limit, "sort_keys": "created_at",
                                      "sort_dirs": "desc"}  # fmt: skip
            if workflow:
                params["workflow_name"] = workflow
            if len(wanted) == 1:
                params["state"] = wanted[0]
            elif wanted:
                params["state"] = "in:" + ",".join(wanted)
            found = _from_server(url, "/v2/executions", token, params)["executions"]
        else:
            from sirocco.store import overview

            found = _from_database(
                db_url,
                lambda connection: overview.executions(
                    connection, states=wanted, workflow=workflow, limit=limit
                ),
            )
        rows = [
            {key: _text(item.get(key)) for key in
             ("id", "workflow_name", "state", "created_at", "updated_at", "state_info")}
            for item in found
        ]  # fmt: skip
        if as_json:
            click.echo(json.dumps(rows, indent=2))
        elif sys.stdout.isatty():
            from rich.console import Console
            from rich.table import Table

            table = Table("id", "workflow", "state", "created", "duration", "info")
            for row in rows:
                end = row["updated_at"] if row["state"] not in ("RUNNING", "PAUSED") else None
                duration = _duration(row["created_at"], end)
                table.add_row(row["id"], row["workflow_name"], row["state"], row["created_at"],
                              duration, row["state_info"][:60])  # fmt: skip
            Console().print(table)
        else:
            for row in rows:
                click.echo("\t".join(
                    (row["id"], row["workflow_name"], row["state"], row["created_at"],
                     row["state_info"].replace("\n", " ")[:200])))  # fmt: skip

    run_safely(body)


@click.command("show")
@click.argument("execution_id")
@source_options
@click.option("--json", "as_json", is_flag=True, help="Print the tree as JSON.")
def show_command(
    execution_id: str, db_url: str | None, url: str | None, token: str | None, as_json: bool
) -> None:
    """Print an execution's task tree: states, durations, published data, errors, attempts."""

    def body() -> None:
        from sirocco.cli import timeline

        tree = timeline.read_tree(db_url, url, token, execution_id)
        if as_json:
            click.echo(json.dumps(tree, indent=2, default=str))
        elif sys.stdout.isatty():
            from rich.console import Console
            from rich.tree import Tree

            root = Tree(_line(tree))
            _rich_children(root, tree)
            Console().print(root)
        else:
            click.echo(_line(tree))
            _plain_children(tree, 1)

    run_safely(body)


def _line(node: dict[str, Any]) -> str:
    if node.get("kind") == "execution":
        head = f"{node['workflow_name']} {node['id']} {node['state']}"
    else:
        head = f"{node['name']} {node['state']}"
        if node.get("attempts", 0) > 1:
            head += f" attempts={node['attempts']}"
    head += f" {_duration(node.get('started_at'), node.get('finished_at'))}".rstrip()
    if node.get("published"):
        head += f" published={json.dumps(node['published'], default=str)[:200]}"
    if node.get("state_info"):
        head += f" error={str(node['state_info']).splitlines()[0][:200]}"
    return head


def _rich_children(branch: Any, node: dict[str, Any]) -> None:
    for child in node.get("children", []):
        _rich_children(branch.add(_line(child), highlight=False), child)


def _plain_children(node: dict[str, Any], depth: int) -> None:
    for child in node.get("children", []):
        click.echo("  " * depth + "- " + _line(child))
        _plain_children(child, depth + 1)
