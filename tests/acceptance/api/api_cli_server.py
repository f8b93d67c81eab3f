"""The running server the CLI tests talk to, how they run the real ``mistral`` CLI, and how
they read its tables.

Every command that prints a resource is run twice, as a table and with
``-f json``: :meth:`Server.both` parses the table, checks that it shows the
same fields and values as the JSON output, and returns the JSON. So a test's
assertions on the JSON hold for the table too.
"""

from __future__ import annotations

import io
import itertools
import json
import logging
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mistralclient import shell

from sirocco.cli.embedded import Embedded
from tests.waiting import wait_for


@dataclass
class Server:
    url: str
    embedded: Embedded
    folder: Path

    def mistral(self, *args: str) -> tuple[int, str, str]:
        """Run the ``mistral`` CLI (its own entry point, in this process) against the server."""
        out, err = io.StringIO(), io.StringIO()
        handler = logging.StreamHandler(err)
        root = logging.getLogger()
        root.addHandler(handler)
        try:
            with redirect_stdout(out), redirect_stderr(err):
                code = shell.main(["--os-mistral-url", self.url, *args])
        finally:
            root.removeHandler(handler)
        return int(code or 0), out.getvalue(), err.getvalue()

    def ok(self, *args: str) -> str:
        code, out, err = self.mistral(*args)
        assert code == 0, f"mistral {' '.join(args)} failed ({code}): {err}{out}"
        return out

    def fails(self, *args: str) -> str:
        """Run a command that must fail; return what it printed (stdout and stderr)."""
        code, out, err = self.mistral(*args)
        assert code == 1, f"mistral {' '.join(args)} should have failed: {out}{err}"
        return out + err

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "-f", "json"))

    def table(self, *args: str) -> Any:
        """The table a command prints: a dict (one resource) or a list of dicts (a list)."""
        return parse_table(self.ok(*args))

    def both(self, *args: str) -> Any:
        """Run a read command as a table and as JSON; check they agree; return the JSON."""
        shown = self.table(*args)
        data = self.json(*args)
        assert_table_matches(shown, data)
        return data

    def names(self, *args: str) -> list[str]:
        """The names a list command prints (the CLI shows one blank row for an empty list)."""
        return [item["Name"] for item in self.both(*args) if item["Name"]]

    def file(self, name: str, text: str) -> str:
        path = self.folder / name
        path.write_text(text)
        return str(path)

    def wait(self, execution_id: str, *states: str) -> dict[str, Any]:
        """Poll ``execution-get`` until the execution is in one of ``states``."""
        found: dict[str, Any] = {}

        def arrived() -> bool:
            found.update(self.json("execution-get", execution_id))
            return found["State"] in states

        wait_for(arrived, what=f"{execution_id} to be {'/'.join(states)}", seen=lambda: found)
        return found


# ---------------------------------------------------------------- tables


def parse_table(text: str) -> Any:
    """cliff's table output as data: ``Field | Value`` tables as a dict, others as rows.

    Column edges come from the ``+---+`` border; a row whose first cell is empty
    continues the cells of the row above (multi-line values).
    """
    lines = text.splitlines()
    border = next(line for line in lines if line.startswith("+"))
    edges = [index for index, char in enumerate(border) if char == "+"]
    rows: list[list[list[str]]] = []
    for line in lines:
        if not line.startswith("|"):
            continue
        cells = [_cell(line[start + 1 : end]) for start, end in itertools.pairwise(edges)]
        if rows and not cells[0] and len(rows) > 1:
            for column, cell in zip(rows[-1], cells, strict=True):
                column.append(cell)
        else:
            rows.append([[cell] for cell in cells])
    header = [_joined(cell) for cell in rows[0]]
    values = [[_joined(cell) for cell in row] for row in rows[1:]]
    if header == ["Field", "Value"]:
        return {row[0]: row[1] for row in values}
    return [dict(zip(header, row, strict=True)) for row in values]


def _cell(raw: str) -> str:
    # prettytable pads with one space; numbers are right-aligned, the rest left-aligned.
    return raw[1:].rstrip() if raw.startswith(" ") else raw.rstrip()


def _joined(lines: list[str]) -> str:
    if len(lines) == 1:
        return lines[0].strip()
    while lines and not lines[-1]:
        lines = lines[:-1]
    return "\n".join(lines)


def shown(value: Any) -> str:
    """How cliff's table prints a value that ``-f json`` prints as ``value``."""
    return "None" if value is None else str(value)


def running_seconds(text: str) -> float | None:
    """The seconds of a duration the CLI counts up to now, for what has not finished yet
    (``0:00:09...``; ``...`` alone for less than two seconds, so 0); None for any other
    text."""
    if text == "...":
        return 0.0
    parts = text.removesuffix("...").split(":")
    if not text.endswith("...") or len(parts) != 3:
        return None
    hours, minutes, seconds = parts
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def assert_table_matches(table: Any, data: Any) -> None:
    """The table shows the same fields, in the same order, with the same values as the JSON.

    A duration of something still running is counted by the CLI up to the moment it
    prints: the table, printed first, may show fewer seconds than the JSON, never more."""
    if isinstance(data, dict):
        assert list(table) == list(data), (list(table), list(data))
        for key, value in data.items():
            if key == "Duration" and isinstance(value, str):
                before, after = running_seconds(table[key]), running_seconds(value)
                if before is not None and after is not None:
                    assert before <= after, (key, table[key], value)
                    continue
            assert table[key] == shown(value), (key, table[key], value)
        return
    assert isinstance(table, list) and isinstance(data, list)
    if not data:  # cliff prints one empty row for an empty list
        assert all(not any(row.values()) for row in table), table
        return
    assert len(table) == len(data), (table, data)
    for row, item in zip(table, data, strict=True):
        assert_table_matches(row, item)
