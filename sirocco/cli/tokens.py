"""``sirocco token create|list|revoke``: the built-in tokens of ``--auth tokens``."""

from __future__ import annotations

import json
import re
import sys
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import click

from sirocco import clock, errors

if TYPE_CHECKING:
    from sirocco.store.database import Database

_DURATION = re.compile(r"^(\d+)([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def _fail(message: str) -> None:
    click.echo(f"sirocco: {message}", err=True)
    sys.exit(2)


def expiry(value: str | None, now: datetime) -> datetime | None:
    """``--expires``: a duration (``30d``, ``12h``, ``90m``) or an ISO time (UTC)."""
    if not value:
        return None
    match = _DURATION.match(value.strip())
    if match:
        return now + timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise errors.InputError(
            f"--expires: '{value}' is neither a duration (30d, 12h, 90m) nor an ISO time"
        ) from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def _database(db_url: str | None) -> Database:
    from sirocco.store import migrate
    from sirocco.store.database import Database

    database = Database(db_url)
    migrate.upgrade(database)
    return database


@click.group()
def token() -> None:
    """Built-in API tokens (``--auth tokens``): sent in X-Auth-Token."""


@token.command("create")
@click.option("--project", required=True, help="The project the token acts for.")
@click.option("--role", type=click.Choice(["admin", "member"]), default="member", show_default=True)
@click.option("--expires", help="A duration (30d, 12h, 90m) or an ISO time (UTC); default never.")
@click.option("--description", help="A note shown by `sirocco token list`.")
@click.option("--db", "db_url", envvar="SIROCCO_DB", help="Database URL or SQLite file.")
def create(
    project: str, role: str, expires: str | None, description: str | None, db_url: str | None
) -> None:
    """Make a token and print its secret (shown this once; only its hash is stored)."""
    from sirocco.store import tokens

    now = clock.utcnow_seconds()
    try:
        expires_at = expiry(expires, now)
        database = _database(db_url)
        with database.transaction() as connection:
            made, secret = tokens.create(
                connection,
                project_id=project,
                role=role,
                now=now,
                expires_at=expires_at,
                description=description,
            )
        database.dispose()
    except errors.SiroccoError as exc:
        _fail(exc.message)
        return
    click.echo(secret)
    click.echo(
        f"token {made.id} for project {project} ({role}"
        + (f", expires {expires_at.isoformat(sep=' ')} UTC" if expires_at else "")
        + "): send it as X-Auth-Token, e.g. mistral --os-auth-token TOKEN",
        err=True,
    )


@token.command("list")
@click.option("--db", "db_url", envvar="SIROCCO_DB", help="Database URL or SQLite file.")
@click.option("--json", "as_json", is_flag=True, help="One JSON array.")
def list_tokens(db_url: str | None, as_json: bool) -> None:
    """The stored tokens (never their secrets)."""
    from sirocco.store import tokens

    try:
        database = _database(db_url)
        with database.read() as connection:
            found = tokens.list_all(connection)
        database.dispose()
    except errors.SiroccoError as exc:
        _fail(exc.message)
        return
    now = clock.utcnow_seconds()
    items = [
        {
            "id": item.id,
            "project_id": item.project_id,
            "role": item.role,
            "description": item.description,
            "created_at": item.created_at.isoformat(sep=" "),
            "expires_at": item.expires_at.isoformat(sep=" ") if item.expires_at else None,
            "expired": item.expires_at is not None and item.expires_at <= now,
        }
        for item in found
    ]
    if as_json:
        click.echo(json.dumps(items))
        return
    for item in items:
        state = "expired" if item["expired"] else f"expires {item['expires_at'] or 'never'}"
        note = f"  {item['description']}" if item["description"] else ""
        click.echo(f"{item['id']}  {item['project_id']}  {item['role']}  {state}{note}")


@token.command("revoke")
@click.argument("token_id")
@click.option("--db", "db_url", envvar="SIROCCO_DB", help="Database URL or SQLite file.")
def revoke(token_id: str, db_url: str | None) -> None:
    """Delete a token by id: it stops working at once."""
    from sirocco.store import tokens

    try:
        database = _database(db_url)
        with database.transaction() as connection:
            tokens.revoke(connection, token_id)
        database.dispose()
    except errors.SiroccoError as exc:
        _fail(exc.message)
        return
    click.echo(f"token {token_id} revoked")
