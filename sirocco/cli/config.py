"""``sirocco config show``: every setting's effective value and where it came from."""

from __future__ import annotations

import json
import re
import sys
from typing import Any

import click

from sirocco import errors, masking

#: Settings whose names look secret to the masking but whose values are not.
_NOT_SECRET = frozenset({"auth", "secret_keys"})
_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^/:@\s]*:)(?P<password>[^@/\s]+)@")


def masked(name: str, value: object, parts: tuple[str, ...]) -> object:
    """``value`` as ``config show`` prints it: the password of a URL, secret-looking
    ``key=value`` pairs and settings whose name looks secret replaced by ``***``."""
    if value is None or not isinstance(value, str):
        return value
    if name not in _NOT_SECRET and masking.is_secret(name, parts):
        return masking.MASK
    value = _URL_PASSWORD.sub(lambda match: f"{match['head']}{masking.MASK}@", value)
    return masking.mask_text(value, parts)


@click.group("config")
def config_group() -> None:
    """The settings: where they come from (flags, SIROCCO_* variables, sirocco.toml)."""


@config_group.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per setting.")
@click.pass_context
def show_command(ctx: click.Context, as_json: bool) -> None:
    """Print each setting's effective value (secrets masked) and its origin: the
    environment, the config file's [section] key, or the default."""
    from sirocco import config
    from sirocco.cli.main import Invocation, fail

    invocation = ctx.find_root().obj
    if not isinstance(invocation, Invocation):  # pragma: no cover - always set by the group
        fail("config show runs under the sirocco command")
    try:
        rows = config.effective(invocation.config, invocation.environ)
    except errors.SiroccoError as exc:
        fail(exc.message)
    parts = masking.parts_of(next(str(row.value) for row in rows if row.name == "secret_keys"))
    found: list[dict[str, Any]] = [
        {
            "name": row.name,
            "section": config.place(row.name)[0],
            "key": config.place(row.name)[1],
            "variable": f"SIROCCO_{row.name.upper()}",
            "value": masked(row.name, row.value, parts),
            "origin": row.origin,
        }
        for row in rows
    ]
    found.sort(key=lambda row: row["section"])
    source = str(invocation.config.path) if invocation.config is not None else None
    if as_json:
        click.echo(json.dumps({"config_file": source, "settings": found}, indent=2))
        return
    click.echo(f"config file: {source or 'none'}")
    if sys.stdout.isatty():
        from rich.console import Console
        from rich.markup import escape
        from rich.table import Table

        table = Table(escape("[section] key"), "value", "origin")
        for row in found:
            cells = (f"[{row['section']}] {row['key']}", _shown(row["value"]), row["origin"])
            table.add_row(*(escape(cell) for cell in cells))
        Console().print(table, highlight=False)
        return
    for row in found:
        click.echo(f"[{row['section']}] {row['key']} = {_shown(row['value'])}  ({row['origin']})")


def _shown(value: Any) -> str:
    if value is None:
        return "(unset)"
    return json.dumps(value) if isinstance(value, str) else str(value)
