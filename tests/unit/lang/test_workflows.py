"""Workflow keywords, documents with several workflows, and the definition text of each workflow."""

from __future__ import annotations

import copy
import json

import pytest

from sirocco import lang
from sirocco.lang import specs
from sirocco.lang.workflows import looks_like_uuid
from tests.unit.lang.helpers import HEADER, dedent, workflow


def test_every_workflow_keyword() -> None:
    flow = workflow(
        """
        wf:
          type: direct
          description: all keywords
          tags: [one, two]
          input:
            - a
            - b: 1
            - c: null
            - d: {x: [1]}
          output:
            result: <% $.r %>
            nested: {list: ["{{ _.r }}"]}
          output-on-error:
            why: <% $.reason %>
          vars:
            v: <% $.a %>
          task-defaults:
            timeout: 3
          tasks:
            t1:
              action: std.noop
        """
    )
    assert flow.name == "wf"
    assert flow.workflow_type == "direct"
    assert flow.description == "all keywords"
    assert flow.tags == ("one", "two")
    assert flow.input == (
        specs.InputParameter(name="a"),
        specs.InputParameter(name="b", has_default=True, default=1),
        specs.InputParameter(name="c", has_default=True, default=None),
        specs.InputParameter(name="d", has_default=True, default={"x": [1]}),
    )
    assert flow.output == {"result": "<% $.r %>", "nested": {"list": ["{{ _.r }}"]}}
    assert flow.output_on_error == {"why": "<% $.reason %>"}
    assert flow.vars == {"v": "<% $.a %>"}
    assert flow.tasks["t1"].policies.timeout == 3
    assert flow.workbook is None
    assert flow.line == 2


def test_absent_keywords_have_their_defaults() -> None:
    flow = workflow(
        """
        wf:
          tasks:
            t1: {action: std.noop}
        """
    )
    assert (flow.workflow_type, flow.description, flow.tags, flow.input) == ("direct", "", (), ())
    assert (flow.output, flow.output_on_error, flow.vars) == (None, None, {})


def test_an_input_name_written_again_replaces_the_first_entry() -> None:
    flow = workflow(
        """
        wf:
          input:
            - a
            - b
            - a: 5
          tasks:
            t1: {action: std.noop}
        """
    )
    assert [(item.name, item.has_default, item.default) for item in flow.input] == [
        ("a", True, 5),
        ("b", False, None),
    ]


def test_input_text_as_mistral_api_shows_it() -> None:
    flow = workflow(
        """
        wf:
          input:
            - a
            - b: 1
            - c: null
            - d: text
            - e: [1, 2]
            - f: true
          tasks:
            t1: {action: std.noop}
        """
    )
    # Mistral: '%s="%s"' % (name, default) for defaults (resources.Workflow._set_input).
    assert flow.input_text() == 'a, b="1", c="None", d="text", e="[1, 2]", f="True"'


def test_a_workflow_name_may_be_a_number() -> None:
    document = lang.parse_workflows(HEADER + "1:\n  tasks:\n    t1: {action: std.noop}\n")
    assert list(document.workflows) == ["1"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("123e4567-e89b-12d3-a456-426655440000", True),
        ("123E4567E89B12D3A456426655440000", True),
        ("{123e4567-e89b-12d3-a456-426655440000}", True),
        ("urn:uuid:123e4567-e89b-12d3-a456-426655440000", True),
        ("123e4567-e89b-12d3-a456-42665544000", False),
        ("my_workflow", False),
    ],
)
def test_uuid_like_names(name: str, expected: bool) -> None:
    assert looks_like_uuid(name) is expected


def test_one_workflow_keeps_the_whole_text_as_definition() -> None:
    text = HEADER + "# my flow\nwf:\n  tasks:\n    t1: {action: std.noop}\n"
    assert lang.parse_workflows(text).workflows["wf"].definition == text


def test_several_workflows_are_dumped_one_by_one() -> None:
    # What Mistral 23 stores (checked with its _cut_wf_definition_from_all).
    text = HEADER + dedent(
        """
        wf1:
          tasks:
            t1:
              action: std.noop
        wf2:
          input:
            - x: 1
          tasks:
            t1:
              action: std.echo output="é"
        """
    )
    document = lang.parse_workflows(text)
    assert document.workflows["wf1"].definition == (
        "version: '2.0'\nwf1:\n  tasks:\n    t1:\n      action: std.noop\n"
    )
    assert document.workflows["wf2"].definition == (
        "version: '2.0'\nwf2:\n  input:\n  - x: 1\n  tasks:\n    t1:\n"
        '      action: "std.echo output=\\"\\xE9\\""\n'
    )
    again = lang.parse_workflows(document.workflows["wf2"].definition).workflows["wf2"]
    assert (again.tasks["t1"].action, again.tasks["t1"].input) == ("std.echo", {"output": "é"})
    assert again.input == document.workflows["wf2"].input


def test_names_are_prefixed_by_the_workbook_and_version_may_be_absent() -> None:
    text = "main:\n  tasks:\n    t1:\n      workflow: helper\n"
    document = lang.parse_workflows(text, workbook="book")
    flow = document.workflows["book.main"]
    assert (flow.name, flow.workbook, flow.definition) == ("book.main", "book", text)
    assert flow.tasks["t1"].workflow == "helper"


def test_the_spec_tree_is_read_only_and_shared_by_identical_texts() -> None:
    text = (
        HEADER + "wf:\n  input:\n    - a: {x: [1]}\n  tasks:\n    t1: {action: std.echo output=1}\n"
    )
    first = lang.parse_workflows(text)
    assert lang.parse_workflows(text) is first
    spec = first.workflows["wf"]
    with pytest.raises(TypeError):
        spec.tasks["t1"].input["output"] = 2  # type: ignore[index]
    with pytest.raises(TypeError):
        spec.input[0].default["x"].append(2)
    copied = copy.deepcopy(spec.input[0].default)
    copied["x"].append(2)
    assert spec.input[0].default == {"x": [1]}
    assert json.loads(json.dumps(spec.tasks["t1"].input)) == {"output": 1}


def test_a_reverse_workflow() -> None:
    flow = workflow(
        """
        wf:
          type: reverse
          tasks:
            build:
              requires: [fetch]
            fetch:
              action: std.noop
        """
    )
    assert flow.workflow_type == "reverse"
    assert flow.start_tasks == ("fetch",)
    assert flow.inbound == {}
