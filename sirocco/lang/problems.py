"""Every problem of a definition, each named by its place in words, its path and its line.

A problem reads as one sentence: ``line 12, workflow 'wf1', task 't2',
on-success: task 't9' does not exist``. Its ``message`` holds the place in
words and the fault; ``path`` is the dotted path
(``workflows.wf1.tasks.t2.on-success``), ``line`` the 1-based line.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sirocco import errors
from sirocco.lang.loading import LoadedDocument, Path

__all__ = ["DefinitionProblem", "Report", "describe_place", "dotted_path", "kind_of"]

_DEFAULT_SOURCES = ("", "<definition>")


class DefinitionProblem(errors.Problem):
    """A problem whose text is ``[source, ]line N, <place>: <fault>`` (the path is not repeated)."""

    __slots__ = ()

    def __str__(self) -> str:
        where = []
        if self.source not in _DEFAULT_SOURCES:
            where.append(self.source)
        if self.line is not None:
            where.append(f"line {self.line}")
        prefix = ", ".join(where)
        return f"{prefix}, {self.message}" if prefix else self.message


def dotted_path(path: Path) -> str:
    """A path as text: ``('workflows', 'wf', 'tags', 0)`` -> ``workflows.wf.tags[0]``."""
    text = ""
    for part in path:
        if isinstance(part, int) and not isinstance(part, bool):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def describe_place(path: Path) -> str:
    """The place of ``path`` in words: ``workflow 'wf', task 't', on-success[0]``."""
    words: list[str] = []
    rest = path
    if len(path) >= 2 and path[1] == "version":
        pass  # the version line inside a workbook's 'workflows' or 'actions'
    elif len(path) >= 2 and path[0] == "workflows":
        words.append(f"workflow '{path[1]}'")
        rest = path[2:]
        if len(rest) >= 2 and rest[0] == "tasks":
            words.append(f"task '{rest[1]}'")
            rest = rest[2:]
        elif rest[:1] == ("task-defaults",):
            words.append("task-defaults")
            rest = rest[1:]
    elif len(path) >= 2 and path[0] == "actions":
        words.append(f"action '{path[1]}'")
        rest = path[2:]
    field = dotted_path(rest)
    if field:
        words.append(field)
    return ", ".join(words)


def kind_of(value: Any) -> str:
    """A value's YAML kind in words, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "an empty string" if value == "" else "a string"
    if isinstance(value, dict):
        return "an empty mapping" if not value else "a mapping"
    if isinstance(value, list):
        return "an empty list" if not value else "a list"
    return type(value).__name__


class Report:
    """The problems found so far in one document."""

    def __init__(self, document: LoadedDocument, *, prefix: Path = ()) -> None:
        self.document = document
        self.prefix = prefix
        self.problems: list[DefinitionProblem] = []

    def add(self, path: Path, fault: str, *, line: int | None = None) -> None:
        """Record that the value at ``path`` has ``fault`` (a sentence fragment)."""
        place = describe_place(path)
        message = f"{place}: {fault}" if place else fault
        if line is None:
            line = self.line(path)
        self.problems.append(DefinitionProblem(message=message, path=dotted_path(path), line=line))

    def extend(self, problems: Iterable[DefinitionProblem]) -> None:
        self.problems.extend(problems)

    def line(self, path: Path) -> int | None:
        """The line where the value at ``path`` starts (or its nearest ancestor)."""
        size = len(self.prefix)
        if size and path[:size] == self.prefix:
            path = path[size:]
        return self.document.line(path)

    def sorted_problems(self) -> list[DefinitionProblem]:
        """Problems in order of line, then path (problems without a line first)."""
        return sorted(self.problems, key=lambda problem: (problem.line or 0, problem.path))

    def __bool__(self) -> bool:
        return bool(self.problems)
