"""``sirocco validate FILE...``: one line per definition file, saying if it is valid and why not."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TextIO

from sirocco import errors, lang
from sirocco.lang import specs

__all__ = ["validate_command", "validate_text"]


def validate_text(text: str, *, source: str) -> str:
    """One line about ``text``: ``ok: N workflows, M actions`` or ``error: <every problem>``."""
    try:
        document = lang.parse_document(text, source=source)
    except errors.DefinitionError as error:
        return "error: " + "; ".join(_without_source(problem) for problem in error.problems)
    workflows, actions = _counts(document)
    return f"ok: {workflows} workflows, {actions} actions"


def validate_command(paths: Sequence[str], *, out: TextIO | None = None) -> int:
    """Print ``<path>: ok: ...`` or ``<path>: error: ...`` per file; return 0 only if all are valid.

    Args:
        paths: the files to read (workflow, ad-hoc action or workbook definitions).
        out: where to print (standard output by default).
    """
    stream = out if out is not None else sys.stdout
    status = 0
    for path in paths:
        try:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
        except (OSError, UnicodeDecodeError) as error:
            line = f"error: cannot read the file: {_reason(error)}"
        else:
            try:
                line = validate_text(text, source=path)
            except Exception as error:  # a bug must still give one line, never a traceback
                line = f"error: Sirocco could not check this file ({type(error).__name__}: {error})"
        if not line.startswith("ok:"):
            status = 1
        print(f"{path}: {line}", file=stream)
    return status


def _counts(
    document: specs.WorkflowsDocument | specs.ActionsDocument | specs.WorkbookSpec,
) -> tuple[int, int]:
    if isinstance(document, specs.WorkflowsDocument):
        return len(document.workflows), 0
    if isinstance(document, specs.ActionsDocument):
        return 0, len(document.actions)
    return len(document.workflows), len(document.actions)


def _without_source(problem: errors.Problem) -> str:
    if problem.line is None:
        return problem.message
    return f"line {problem.line}, {problem.message}"


def _reason(error: Exception) -> str:
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error)
