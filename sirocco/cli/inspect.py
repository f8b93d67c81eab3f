"""``sirocco explain ID``: what an execution waits on, or why it failed, over the database
(``--db``) or a server (``--url``)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import click

from sirocco import errors


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

            now = datetime.now(UTC).replace(tzinfo=None)
            found = _from_database(
                db_url, lambda connection: explain.explain(connection, execution_id, now=now)
            ).as_json()
        if as_json:
            click.echo(json.dumps(found, indent=2, sort_keys=True))
        else:
            click.echo(found["explanation"])

    run_safely(body)
