"""Small helpers for the language tests: parse a text, or collect its problems."""

from __future__ import annotations

import textwrap

import pytest

from sirocco import errors, lang
from sirocco.lang import specs

HEADER = "version: '2.0'\n"


def dedent(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def workflow(text: str, name: str = "wf") -> specs.WorkflowSpec:
    """The workflow ``name`` of a workflow document written without its version line."""
    document = lang.parse_workflows(HEADER + dedent(text))
    return document.workflows[name]


def task(text: str, name: str = "t1", workflow_name: str = "wf") -> specs.TaskSpec:
    return workflow(text, workflow_name).tasks[name]


def problems(text: str, *, kind: str = "workflows", header: bool = True) -> list[errors.Problem]:
    """Every problem of a text that must be invalid."""
    body = (HEADER if header else "") + dedent(text)
    parse = {
        "workflows": lang.parse_workflows,
        "actions": lang.parse_actions,
        "workbook": lang.parse_workbook,
        "document": lang.parse_document,
    }[kind]
    with pytest.raises(errors.DefinitionError) as caught:
        parse(body)
    return list(caught.value.problems)


def only_problem(text: str, **options: object) -> errors.Problem:
    found = problems(text, **options)  # type: ignore[arg-type]
    assert len(found) == 1, [str(problem) for problem in found]
    return found[0]
