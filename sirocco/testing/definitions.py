"""Workflow and ad-hoc action definitions read from YAML text, for a test to run.

``load_workflows`` and ``load_actions`` read the same documents that
``mistral workflow-create`` and ``mistral action-create`` take, with the same
checks; a text with problems raises ``DefinitionError`` listing all of them.
"""

from __future__ import annotations

from collections.abc import Sequence

from sirocco.lang import documents, loading, specs

__all__ = ["DefinitionError", "load_actions", "load_workflows"]


class DefinitionError(ValueError):
    """The definition has problems (each one names its line and place)."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = list(problems)


def _load(text: str) -> loading.LoadedDocument:
    try:
        return loading.load(text)
    except loading.LoadError as error:
        where = f"line {error.line}: " if error.line is not None else ""
        raise DefinitionError([f"{where}{error.message}"]) from None


def load_workflows(text: str) -> dict[str, specs.WorkflowSpec]:
    """The workflows of a workflow document, by name (the first is the one to run)."""
    found, report = documents.read_workflows(_load(text), text, None)
    if report.problems:
        raise DefinitionError([str(problem) for problem in report.problems])
    return dict(found.workflows)


def load_actions(text: str) -> list[specs.ActionSpec]:
    """The ad-hoc actions of an action document."""
    found, report = documents.read_actions(_load(text), text, None)
    if report.problems:
        raise DefinitionError([str(problem) for problem in report.problems])
    return list(found.actions.values())
