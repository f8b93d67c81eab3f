"""Ad-hoc action documents and workbooks."""

from __future__ import annotations

import pytest

from sirocco import lang
from sirocco.lang import specs
from tests.unit.lang.helpers import HEADER, dedent, only_problem, problems

ACTIONS = HEADER + dedent(
    """
    greet:
      description: says hello
      tags: [demo]
      base: std.echo output="Hello" extra=1
      base-input:
        output: <% $.name %>
        other: 2
      input:
        - name
        - polite: true
        - title: null
      output:
        text: <% $ %>
    shout:
      base: greet name="WORLD"
    """
)


def test_ad_hoc_actions() -> None:
    document = lang.parse_actions(ACTIONS)
    greet = document.actions["greet"]
    assert greet.base == "std.echo"
    # inline parameters of 'base' win over base-input, as in Mistral
    assert greet.base_input == {"output": "Hello", "other": 2, "extra": 1}
    assert greet.input == (
        specs.InputParameter(name="name"),
        specs.InputParameter(name="polite", has_default=True, default=True),
        specs.InputParameter(name="title", has_default=True, default=None),
    )
    assert greet.output == {"text": "<% $ %>"}
    assert (greet.description, greet.tags, greet.workbook, greet.line) == (
        "says hello",
        ("demo",),
        None,
        2,
    )
    shout = document.actions["shout"]
    assert (shout.base, shout.base_input, shout.output, shout.input) == (
        "greet",
        {"name": "WORLD"},
        None,
        (),
    )
    # Mistral stores the whole text as the definition of every action of the document.
    assert greet.definition == shout.definition == ACTIONS


def test_action_input_text_as_mistral_api_shows_it() -> None:
    greet = lang.parse_actions(ACTIONS).actions["greet"]
    # Mistral: "%s=%s" % (name, json.dumps(default)) (services/adhoc_actions.get_input_list)
    assert greet.input_text() == "name, polite=true, title=null"


def test_parse_document_recognises_an_action_document() -> None:
    assert isinstance(lang.parse_document(ACTIONS), specs.ActionsDocument)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a1:\n  input: [x]\n", "action 'a1': 'base' is required"),
        (
            "a1:\n  base: std.echo\n  base-input: <% $.x %>\n",
            "action 'a1', base-input: must be a non-empty mapping, not a string",
        ),
        ("a1:\n  base: std.echo\n  tasks: {}\n", "action 'a1', tasks: unknown keyword 'tasks'"),
        (
            "a1:\n  base: std.echo\n  output: <% $. + %>\n",
            "action 'a1', output: invalid expression '<% $. + %>': "
            "Parse error: unexpected end of statement",
        ),
        (
            "my action:\n  base: std.echo\n",
            "action 'my action': the action name 'my action' must not contain spaces",
        ),
    ],
)
def test_invalid_actions(text: str, message: str) -> None:
    assert only_problem(text, kind="actions").message == message


WORKBOOK = HEADER + dedent(
    """
    name: book
    description: a bundle
    tags: [x]
    workflows:
      version: '2.0'
      main:
        tasks:
          t1:
            action: local_action str1='Hi'
            on-complete: [t2]
          t2:
            workflow: helper
      helper:
        type: reverse
        tasks:
          t1:
            action: std.noop
    actions:
      local_action:
        input:
          - str1
        base: std.echo output=<% $.str1 %>
    """
)


def test_a_workbook() -> None:
    book = lang.parse_workbook(WORKBOOK)
    assert (book.name, book.description, book.tags, book.definition) == (
        "book",
        "a bundle",
        ("x",),
        WORKBOOK,
    )
    assert list(book.workflows) == ["book.main", "book.helper"]
    assert list(book.actions) == ["book.local_action"]
    main = book.workflows["book.main"]
    assert (main.name, main.workbook) == ("book.main", "book")
    assert main.tasks["t2"].workflow == "helper"
    action = book.actions["book.local_action"]
    assert (action.name, action.workbook, action.base) == ("book.local_action", "book", "std.echo")


def test_workbook_items_keep_their_lines_cut_from_the_text_as_mistral_does() -> None:
    book = lang.parse_workbook(WORKBOOK)
    assert book.workflows["book.helper"].definition == (
        "helper:\n  type: reverse\n  tasks:\n    t1:\n      action: std.noop\n"
    )
    assert book.actions["book.local_action"].definition == (
        "local_action:\n  input:\n    - str1\n  base: std.echo output=<% $.str1 %>\n"
    )
    # The cut text is read again with the workbook name, as the runtime does.
    again = lang.parse_workflows(book.workflows["book.main"].definition, workbook="book")
    assert list(again.workflows) == ["book.main"]
    actions = lang.parse_actions(book.actions["book.local_action"].definition, workbook="book")
    assert list(actions.actions) == ["book.local_action"]


def test_parse_document_recognises_a_workbook() -> None:
    assert isinstance(lang.parse_document(WORKBOOK), specs.WorkbookSpec)


def test_an_empty_workbook_is_valid() -> None:
    book = lang.parse_workbook(HEADER + "name: empty\n")
    assert (book.name, dict(book.workflows), dict(book.actions)) == ("empty", {}, {})


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("name: wb\nnamespace: x\n", 3, "namespace: unknown keyword 'namespace'"),
        (
            "workflows:\n  wf: {tasks: {t1: {action: std.noop}}}\n",
            1,
            "name: 'name' is required for a workbook",
        ),
        (
            "name: wb\nworkflows:\n  wf.1:\n    tasks: {t1: {action: std.noop}}\n",
            4,
            "workflow 'wf.1': the workflow name 'wf.1' may only use letters, digits, '_' and '-'",
        ),
        (
            "name: wb\nworkflows:\n  wf1:\n",
            4,
            "workflow 'wf1': must be a mapping describing the workflow, not null",
        ),
        (
            "name: wb\nworkflows: {}\n",
            3,
            "workflows: must be a non-empty mapping of workflow names to workflows, "
            "not an empty mapping",
        ),
        (
            "name: wb\nworkflows:\n  version: '3.0'\n  wf1: {tasks: {t1: {action: std.noop}}}\n",
            4,
            "workflows.version: Unsupported DSL version: '3.0' (use '2.0')",
        ),
        ("name: my book\n", 2, "name: the workbook name 'my book' must not contain spaces"),
    ],
)
def test_invalid_workbooks(text: str, line: int, message: str) -> None:
    problem = only_problem(text, kind="workbook")
    assert (problem.line, problem.message) == (line, message)


@pytest.mark.parametrize("version", ["'3.0'", "'v2.0'", "null"])
def test_a_workbook_needs_version_2(version: str) -> None:
    problem = only_problem(f"version: {version}\nname: wb\n", kind="workbook", header=False)
    assert problem.message.startswith("version: Unsupported DSL version")


def test_problems_in_workflows_and_actions_of_a_workbook_are_all_reported() -> None:
    found = problems(
        """
        name: wb
        workflows:
          wf1:
            tasks:
              t1:
                on-success: nope
        actions:
          a1:
            base-input: {a: 1}
        """,
        kind="workbook",
    )
    assert [str(problem) for problem in found] == [
        "line 7, workflow 'wf1', task 't1', on-success: Task 'nope' not found.",
        "line 9, action 'a1': 'base' is required",
    ]


def test_names_used_twice_in_a_workbook_or_an_action_document() -> None:
    found = problems(
        """
        name: wb
        workflows:
          w: {tasks: {t: {action: std.noop}}}
          w: {tasks: {t: {action: std.noop}}}
        actions:
          a: {base: std.noop}
          a: {base: std.noop}
        """,
        kind="workbook",
    )
    assert [str(problem) for problem in found] == [
        "line 5, workflow 'w': the workflow name is used twice (first at line 4)",
        "line 8, action 'a': the action name is used twice (first at line 7)",
    ]
    action = only_problem("a: {base: std.noop}\na: {base: std.echo}\n", kind="actions")
    assert str(action) == "line 3, action 'a': the action name is used twice (first at line 2)"
