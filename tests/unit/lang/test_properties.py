"""Property tests: whatever the input, the parser gives specs or raises DefinitionError only."""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sirocco import errors, lang
from sirocco.lang import loading, specs

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

KEYWORDS = [
    "version",
    "name",
    "workflows",
    "actions",
    "tasks",
    "type",
    "direct",
    "reverse",
    "input",
    "output",
    "output-on-error",
    "vars",
    "task-defaults",
    "tags",
    "description",
    "action",
    "workflow",
    "publish",
    "publish-on-error",
    "publish-on-skip",
    "on-success",
    "on-error",
    "on-complete",
    "on-skip",
    "join",
    "requires",
    "with-items",
    "retry",
    "count",
    "delay",
    "break-on",
    "continue-on",
    "wait-before",
    "wait-after",
    "timeout",
    "pause-before",
    "concurrency",
    "fail-on",
    "keep-result",
    "safe-rerun",
    "target",
    "base",
    "base-input",
    "next",
    "branch",
    "global",
    "atomic",
    "t1",
    "t2",
    "wf",
    "fail",
    "noop",
    "all",
    "one",
]
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-5, max_value=300),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.sampled_from(KEYWORDS),
    st.sampled_from(
        [
            "2.0",
            "<% $.x %>",
            "{{ _.x }}",
            "<% $. + %>",
            "{{ x | }}",
            "<% $.a %> {{ _.b }}",
            "x in <% $.l %>",
            "x in [1, 2]",
            "x in [oops",
            "std.echo output=1",
            'fail msg="m"',
            "fail(msg=<% $.m %>)",
            "count=2 delay=1",
            "t1 a=1",
            "a b",
            "123e4567-e89b-12d3-a456-426655440000",
            "",
            " ",
            "=x y",
        ]
    ),
    st.text(max_size=12),
)


def values(depth: int = 3) -> st.SearchStrategy[Any]:
    return st.recursive(
        SCALARS,
        lambda children: st.one_of(
            st.lists(children, max_size=4),
            st.dictionaries(st.one_of(st.sampled_from(KEYWORDS), SCALARS), children, max_size=5),
        ),
        max_leaves=12,
    )


PARSERS = st.sampled_from(
    [
        lang.parse_document,
        lang.parse_workflows,
        lang.parse_actions,
        lang.parse_workbook,
        lambda text: lang.parse_workflows(text, workbook="book"),
        lambda text: lang.parse_actions(text, workbook="book"),
    ]
)


def parse_with(parse: Any, text: str) -> None:
    try:
        parse(text)
    except errors.DefinitionError as error:
        assert error.problems, "a DefinitionError must list its problems"
        for problem in error.problems:
            assert problem.message and str(problem)


@SETTINGS
@given(PARSERS, st.text(max_size=300))
def test_any_text(parse: Any, text: str) -> None:
    parse_with(parse, text)


YAML_PIECES = st.sampled_from(
    [
        "\n",
        "  ",
        "    ",
        "- ",
        ": ",
        ":",
        "[",
        "]",
        "{",
        "}",
        ", ",
        "&a ",
        "*a",
        "@",
        "!!str ",
        "!x ",
        "'",
        '"',
        "#",
        "|",
        ">",
        "---",
        "...",
        "<%",
        "%>",
        "{{",
        "}}",
        "{%",
        "%}",
        "<<: ",
        "? ",
        "version: '2.0'\n",
        "tasks:\n",
        "name: wb\n",
        "wf:\n",
        "    t1:\n",
        "      action: ",
        "      on-success: ",
        "      join: ",
        "      with-items: ",
        "      retry: ",
        "\t",
        "\x00",
        *KEYWORDS,
    ]
)


@SETTINGS
@given(PARSERS, st.lists(YAML_PIECES, max_size=40).map("".join))
def test_yaml_like_text(parse: Any, text: str) -> None:
    parse_with(parse, text)


@SETTINGS
@given(PARSERS, values())
def test_any_structure_dumped_to_yaml(parse: Any, data: Any) -> None:
    parse_with(parse, yaml.safe_dump(data))


def workflow_bodies() -> st.SearchStrategy[dict[str, Any]]:
    task_names = st.sampled_from(["t1", "t2", "t3", "fail", "noop", "ghost"])
    task = st.fixed_dictionaries(
        {},
        optional={
            "action": st.sampled_from(["std.noop", "std.echo output=<% $.x %>", "<% $.a %>"]),
            "on-success": st.one_of(task_names, st.lists(task_names, max_size=3)),
            "on-error": st.lists(
                st.one_of(
                    task_names,
                    st.dictionaries(task_names, st.just("<% $.ok %>"), min_size=1, max_size=1),
                ),
                max_size=3,
            ),
            "on-complete": st.fixed_dictionaries(
                {"next": task_names}, optional={"publish": st.just({"global": {"g": 1}})}
            ),
            "join": st.sampled_from(["all", "one", 0, 1, 2]),
            "requires": st.lists(task_names, max_size=3),
            "retry": st.sampled_from(["count=1 delay=0", {"count": 1, "delay": 2}, "nope"]),
            "with-items": st.sampled_from(["x in <% $.l %>", ["x in [1]", "y in [2]"], "bad"]),
        },
    )
    return st.fixed_dictionaries(
        {"tasks": st.dictionaries(st.sampled_from(["t1", "t2", "t3"]), task, min_size=1)},
        optional={
            "type": st.sampled_from(["direct", "reverse"]),
            "task-defaults": st.fixed_dictionaries(
                {}, optional={"on-error": task_names, "requires": task_names, "timeout": st.just(3)}
            ),
        },
    )


@SETTINGS
@given(workflow_bodies())
def test_generated_workflows_are_read_consistently(body: dict[str, Any]) -> None:
    text = yaml.safe_dump({"version": "2.0", "wf": body})
    try:
        flow = lang.parse_workflows(text).workflows["wf"]
    except errors.DefinitionError:
        return
    assert set(flow.tasks) == set(body["tasks"])
    if flow.workflow_type == "direct":
        assert flow.start_tasks == tuple(
            name for name, sources in flow.inbound.items() if not sources
        )
        assert flow.start_tasks, "a direct workflow that parses has a start task"
        for name, spec in flow.tasks.items():
            for _, clause in spec.clauses():
                for transition in clause.transitions:
                    assert transition.name in flow.tasks or transition.is_engine_command
                    if transition.name in flow.tasks:
                        assert name in flow.inbound[transition.name]
    else:
        assert flow.start_tasks == tuple(
            name for name, spec in flow.tasks.items() if not spec.requires
        )
        for name, spec in flow.tasks.items():
            assert name not in spec.requires
            assert set(spec.requires) <= set(flow.tasks)
    assert all(isinstance(spec, specs.TaskSpec) for spec in flow.tasks.values())


@SETTINGS
@given(st.lists(YAML_PIECES, max_size=40).map("".join))
def test_libyaml_and_the_reference_reader_agree(text: str) -> None:
    if not loading._fast_path_reads_it_alike(text):
        return
    try:
        fast = loading._Builder(text).build(loading._fast_events(text))
    except Exception:
        return  # the fast path hands such texts to the reference reader
    try:
        slow = loading._Builder(text).build(yaml.parse(text, Loader=loading._MistralLoader))
    except yaml.YAMLError:
        return  # libyaml is laxer on a few odd texts ('|#'): they are read, never misread
    assert (fast.data, fast.duplicates) == (slow.data, slow.duplicates)
    # libyaml places an empty (null) value elsewhere; every other line is the same
    valued = _paths_with_values(fast.data) if fast.data else set()
    assert {path: line for path, line in fast.lines.items() if path in valued} == {
        path: line for path, line in slow.lines.items() if path in valued
    }


def _paths_with_values(data: Any, path: tuple[Any, ...] = ()) -> set[tuple[Any, ...]]:
    found = {path} if data is not None else set()
    if isinstance(data, dict):
        for key, value in data.items():
            found |= _paths_with_values(value, (*path, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found |= _paths_with_values(value, (*path, index))
    return found
