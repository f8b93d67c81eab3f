"""Branch contexts as layers: extension, flattening, versioned merges, branch isolation."""

from __future__ import annotations

from collections import ChainMap

from sirocco import testing
from sirocco.engine import dataflow
from sirocco.engine.states import State

from . import parsing


def test_extend_layers_published_values_without_copying() -> None:
    base = dataflow.extend(dataflow.EMPTY_CONTEXT, {"a": 1, "b": {"c": 2}})
    top = dataflow.extend(base, {"a": 10})

    assert isinstance(top.values, ChainMap)
    assert dict(top.values) == {"a": 10, "b": {"c": 2}}
    assert dict(base.values) == {"a": 1, "b": {"c": 2}}
    assert top.versions["a"] == 2 and top.versions["b.c"] == 1
    assert dataflow.extend(top, {}) is top


def test_deep_chains_are_flattened() -> None:
    context = dataflow.EMPTY_CONTEXT
    for number in range(100):
        context = dataflow.extend(context, {f"k{number}": number, "last": number})
        assert context.depth <= dataflow.MAX_LAYERS
    assert context.values["k0"] == 0
    assert context.values["last"] == 99
    assert context.versions["last"] == 100
    assert len(dict(context.values)) == 101
    # Keys keep the order they were first published in, across flattenings.
    assert list(context.values) == ["k0", "last", *(f"k{number}" for number in range(1, 100))]
    assert list(context.versions)[:3] == ["k0", "last", "k1"]


def test_a_chain_of_chains_is_one_list_of_layers_with_chainmap_lookups() -> None:
    inner = dataflow.chain({"a": 1}, {"a": 2, "b": None})
    data = dataflow.chain({"t": 0}, inner, {"b": 3, "c": 4})
    expected = ChainMap({"t": 0}, ChainMap({"a": 1}, {"a": 2, "b": None}), {"b": 3, "c": 4})

    assert len(data.maps) == 4  # the inner chain's two layers, in its place
    for key in ("t", "a", "b", "c", "missing"):
        assert (key in data) == (key in expected)
        assert data.get(key, "default") == expected.get(key, "default")
        assert data.get(key) == expected.get(key)
    assert data["b"] is None  # a stored None is a hit, not a miss
    assert dict(data) == dict(expected)
    assert list(data) == list(expected)
    try:
        data["missing"]
    except KeyError as error:
        assert error.args == ("missing",)
    else:
        raise AssertionError("a missing key must raise KeyError")


def test_merge_prefers_higher_versions_and_merges_nested_dicts() -> None:
    start = dataflow.extend(dataflow.EMPTY_CONTEXT, {"x": "start", "d": {"a": 1}})
    left = dataflow.extend(start, {"x": "left", "d": {"b": 2}})
    right = dataflow.extend(start, {"y": "right"})

    merged = dataflow.merge([left, right])
    assert merged.values == {"x": "left", "d": {"a": 1, "b": 2}, "y": "right"}
    assert dict(left.values)["d"] == {"b": 2}  # inputs untouched
    merged_other_way = dataflow.merge([right, left])
    assert merged_other_way.values["x"] == "left"


def test_merge_ties_keep_the_last_context() -> None:
    one = dataflow.extend(dataflow.EMPTY_CONTEXT, {"x": 1})
    two = dataflow.extend(dataflow.EMPTY_CONTEXT, {"x": 2})

    assert dataflow.merge([one, two]).values["x"] == 2
    assert dataflow.merge([two, one]).values["x"] == 1


def test_branches_do_not_see_each_other() -> None:
    spec = parsing.workflow(
        """
version: '2.0'
wf:
  tasks:
    fork:
      action: std.noop
      on-success: [left, right]
    left:
      action: std.noop
      publish:
        only_left: 1
      on-success: left_next
    left_next:
      action: std.echo output=<% $.get(only_left) %>
    right:
      action: std.noop
      on-success: right_next
    right_next:
      action: std.echo output=<% $.get(only_left) %>
"""
    )
    run = testing.run_until_idle(spec)

    assert run.task("left_next").result == 1
    assert run.task("right_next").result is None
    assert run.workflow.output == {"only_left": 1}


def test_long_chain_keeps_every_published_value() -> None:
    lines = ["version: '2.0'", "wf:", "  tasks:"]
    size = 150
    for number in range(size):
        lines += [
            f"    t{number}:",
            "      action: std.noop",
            "      publish:",
            f"        k{number}: {number}",
        ]
        if number + 1 < size:
            lines.append(f"      on-success: t{number + 1}")
    run = testing.run_until_idle(parsing.workflow("\n".join(lines)))

    assert run.workflow.state == State.SUCCESS
    assert run.workflow.output == {f"k{number}": number for number in range(size)}


def test_contexts_out_of_a_task_show_hashed_versions() -> None:
    assert dataflow.visible(dataflow.EMPTY_CONTEXT) is dataflow.EMPTY_CONTEXT.values
    nothing_published = dataflow.extend(dataflow.EMPTY_CONTEXT, {})
    assert dict(dataflow.visible(nothing_published)) == {"__versions": {}}

    first = dataflow.extend(dataflow.EMPTY_CONTEXT, {"a": 1, "b": {"c": 2}})
    second = dataflow.extend(first, {"a": 3})
    shown = dataflow.visible(second)
    # md5("a") and md5("b.c"), as Mistral's hash_version_keys writes them.
    assert dict(shown["__versions"]) == {
        "0cc175b9c0f1b6a831c399e269772661": 2,
        "4e28e05897892c5707f8ae02929ef952": 1,
    }
    assert shown["a"] == 3
    assert "__versions" not in second.values  # the default output never shows it
    assert dataflow.merge([first, second]).versioned


def test_versions_key_in_expressions_after_the_first_task() -> None:
    spec = parsing.workflow(
        """
version: '2.0'
wf:
  output:
    keys: <% $.keys().toList().orderBy($) %>
  tasks:
    a:
      action: std.noop
      publish:
        first: <% $.keys().toList().orderBy($) %>
      on-success: b
    b:
      action: std.noop
      publish:
        second: <% $.keys().toList().orderBy($) %>
"""
    )
    run = testing.run_until_idle(spec)

    assert run.task("a").published["first"] == ["__env", "__execution", "__task_execution"]
    assert run.task("b").published["second"] == [
        "__env",
        "__execution",
        "__task_execution",
        "__versions",
        "first",
    ]
    assert run.workflow.output["keys"] == ["__env", "__execution", "__versions", "first", "second"]
