"""The public entry points: text in, spec tree out, every problem at once, cached by text."""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Literal

from sirocco import errors
from sirocco.lang import documents, loading
from sirocco.lang.problems import DefinitionProblem, Report
from sirocco.lang.specs import ActionsDocument, WorkbookSpec, WorkflowsDocument

__all__ = ["parse_actions", "parse_document", "parse_workbook", "parse_workflows"]

Document = WorkflowsDocument | ActionsDocument | WorkbookSpec
_Kind = Literal["workflows", "actions", "workbook", "document"]

#: How many parsed texts are kept (keyed by kind, text and workbook).
CACHE_SIZE = 256


def parse_workflows(
    text: str, *, source: str = "<definition>", workbook: str | None = None
) -> WorkflowsDocument:
    """Read a workflow document: ``version`` and one or more workflows.

    Args:
        text: the YAML text.
        source: where the text comes from (a file name), shown in problems.
        workbook: the workbook the text belongs to: names become
            ``<workbook>.<name>`` and ``version`` may be absent (as in the
            definitions Mistral cuts out of a workbook).

    Raises:
        sirocco.errors.DefinitionError: with every problem found.
    """
    result = _parse("workflows", text, source, workbook)
    assert isinstance(result, WorkflowsDocument)
    return result


def parse_actions(
    text: str, *, source: str = "<definition>", workbook: str | None = None
) -> ActionsDocument:
    """Read an ad-hoc action document: ``version`` and one or more actions.

    ``workbook`` works as for :func:`parse_workflows`.

    Raises:
        sirocco.errors.DefinitionError: with every problem found.
    """
    result = _parse("actions", text, source, workbook)
    assert isinstance(result, ActionsDocument)
    return result


def parse_workbook(text: str, *, source: str = "<definition>") -> WorkbookSpec:
    """Read a workbook: ``version``, ``name`` and its ``workflows`` and ``actions``.

    Raises:
        sirocco.errors.DefinitionError: with every problem found.
    """
    result = _parse("workbook", text, source, None)
    assert isinstance(result, WorkbookSpec)
    return result


def parse_document(text: str, *, source: str = "<definition>") -> Document:
    """Read any document, deciding its kind from its content.

    A mapping with a text ``name`` is a workbook; one whose entries (besides
    ``version``) all have ``base`` is an action document; anything else is read
    as a workflow document.

    Raises:
        sirocco.errors.DefinitionError: with every problem found.
    """
    return _parse("document", text, source, None)


def clear_cache() -> None:
    """Forget every cached result."""
    _parse_cached.cache_clear()


def _parse(kind: _Kind, text: str, source: str, workbook: str | None) -> Document:
    if not isinstance(text, str):
        problem = DefinitionProblem(message="a definition must be text", source=source)
        raise errors.DefinitionError([problem])
    try:
        return _parse_cached(kind, text, workbook)
    except errors.DefinitionError as error:
        problems = [dataclasses.replace(problem, source=source) for problem in error.problems]
        raise errors.DefinitionError(problems) from None
    except RecursionError:
        message = "the definition is nested too deeply"
        raise errors.DefinitionError([DefinitionProblem(message=message, source=source)]) from None


@functools.lru_cache(maxsize=CACHE_SIZE)
def _parse_cached(kind: _Kind, text: str, workbook: str | None) -> Document:
    try:
        document = loading.load(text)
    except loading.LoadError as error:
        message = f"Definition could not be parsed: {error.message}"
        raise errors.DefinitionError(
            [DefinitionProblem(message=message, line=error.line)]
        ) from None
    if kind == "document":
        kind = _kind_of(document.data)
    result: Any
    report: Report
    if kind == "workflows":
        result, report = documents.read_workflows(document, text, workbook)
    elif kind == "actions":
        result, report = documents.read_actions(document, text, workbook)
    else:
        result, report = documents.read_workbook(document, text)
    if report:
        raise errors.DefinitionError(report.sorted_problems())
    return result  # type: ignore[no-any-return]


def _kind_of(data: Any) -> _Kind:
    if not isinstance(data, dict):
        return "workflows"
    if isinstance(data.get("name"), str) or (
        "name" in data and data.keys() & {"workflows", "actions"}
    ):
        return "workbook"
    entries = [value for key, value in data.items() if key != "version"]
    if entries and all(isinstance(entry, dict) and "base" in entry for entry in entries):
        return "actions"
    return "workflows"
