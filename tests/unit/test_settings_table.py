"""docs/running.md's settings tables name every Settings field and every option of every command."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import click

from sirocco.cli.main import main
from sirocco.settings import Settings

PAGE = Path(__file__).resolve().parents[2] / "docs" / "running.md"


def _rows() -> list[list[str]]:
    rows = []
    for line in PAGE.read_text().splitlines():
        if line.startswith("| ") and not line.startswith("| ---"):
            rows.append([cell.strip() for cell in line.strip("|").split(" | ")])
    return rows


def _options(command: click.Command, path: str) -> Iterator[tuple[str, str]]:
    for parameter in command.params:
        if isinstance(parameter, click.Option):
            for name in [*parameter.opts, *parameter.secondary_opts]:
                if name.startswith("--") and name != "--help":
                    yield path, name
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            yield from _options(sub, f"{path} {name}")


def test_every_settings_field_has_its_variable_in_the_table() -> None:
    variables = {row[0] for row in _rows()}
    missing = [
        f"SIROCCO_{name.upper()}"
        for name in Settings.names()
        if f"`SIROCCO_{name.upper()}`" not in variables
    ]
    assert not missing, f"docs/running.md: add a row for {missing} to 'Environment variables'"


def test_every_command_option_is_in_the_table() -> None:
    rows = _rows()
    missing = []
    for command, option in _options(main, "sirocco"):
        found = any(
            f"`{command}`" in row[0] and re.search(rf"`{re.escape(option)}[ `]", row[1])
            for row in rows
            if len(row) >= 2
        )
        if not found:
            missing.append(f"{command} {option}")
    assert not missing, f"docs/running.md: add these to 'Command-line options': {missing}"


def test_the_table_names_no_option_that_does_not_exist() -> None:
    known = set(_options(main, "sirocco"))
    for row in _rows():
        if len(row) < 4 or not row[0].startswith("`sirocco"):
            continue
        commands = re.findall(r"`(sirocco[\w ]*)`", row[0])
        options = re.findall(r"`(--[\w-]+)", row[1])
        for command in commands:
            for option in options:
                assert (command, option) in known, f"docs/running.md names {command} {option}"
