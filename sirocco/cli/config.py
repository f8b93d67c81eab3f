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
def show_command(context: click.Context, as_json: bool) -> None:
    """Print each setting's effective value (secrets masked) and its origin: the
    environment, the config file's [section] key, or the default."""
    from sirocco import config
    from sirocco.cli.main import Invocation, fail

    invocation = context.find_root().obj
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
    unknown = _unknown_variables(invocation.environ, [row["variable"] for row in found])
    for variable, close in unknown.items():
        hint = f" (did you mean {close}?)" if close else ""
        click.echo(f"sirocco: note: {variable} is not a setting; ignored{hint}", err=True)
    if as_json:
        report = {"config_file": source, "settings": found, "unknown_variables": list(unknown)}
        click.echo(json.dumps(report, indent=2))
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


#: ``SIROCCO_*`` variables that are not settings but are read: the config file, and
#: the server and token of ``--url``.
_OTHER_VARIABLES = frozenset({"SIROCCO_CONFIG", "SIROCCO_URL", "SIROCCO_TOKEN"})


def _unknown_variables(environ: dict[str, str], known: list[str]) -> dict[str, str | None]:
    """The ``SIROCCO_*`` variables that nothing reads (a typo, most often), each with the
    setting's variable it is closest to, if any."""
    import difflib

    return {
        name: next(iter(difflib.get_close_matches(name, known, n=1, cutoff=0.8)), None)
        for name in sorted(environ)
        if name.startswith("SIROCCO_") and name not in known and name not in _OTHER_VARIABLES
    }


def _shown(value: Any) -> str:
    if value is None:
        return "(unset)"
    return json.dumps(value) if isinstance(value, str | bool) else str(value)  # as in TOML
