"""Turn workflow and ad-hoc action texts into specs for the engine tests."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from sirocco.lang import documents, loading, specs

Parse = Callable[[str], Mapping[str, specs.WorkflowSpec]]


def workflows(text: str) -> Mapping[str, specs.WorkflowSpec]:
    """All workflows of a workflow document (fails the test on any problem)."""
    document = loading.load(text)
    found, report = documents.read_workflows(document, text, None)
    problems = list(report.problems) if hasattr(report, "problems") else []
    assert not problems, problems
    return found.workflows


def workflow(text: str) -> specs.WorkflowSpec:
    """The first workflow of a workflow document."""
    return next(iter(workflows(text).values()))


def actions(text: str) -> list[specs.ActionSpec]:
    """The ad-hoc actions of an action document."""
    document = loading.load(text)
    found, report = documents.read_actions(document, text, None)
    problems = list(report.problems) if hasattr(report, "problems") else []
    assert not problems, problems
    return list(found.actions.values())


def workbook(text: str) -> specs.WorkbookSpec:
    """A workbook document."""
    document = loading.load(text)
    found, report = documents.read_workbook(document, text)
    problems = list(report.problems) if hasattr(report, "problems") else []
    assert not problems and found is not None, problems
    return found
