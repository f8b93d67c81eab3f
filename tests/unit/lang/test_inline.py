"""Mistral's one-line grammar for inline parameters, transition targets and with-items.

The expected values of ``parse_command`` were produced by Mistral 23's own
``BaseSpec._parse_cmd_and_input`` on the same texts.
"""

from __future__ import annotations

import pytest

from sirocco.lang import inline


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("std.noop", ("std.noop", {})),
        ("std.echo(output=1)", ("std.echo(output=1)", {})),  # no space: a bare name
        ("std.echo output=1", ("std.echo", {"output": 1})),
        ("my.action-v2 a='x y' b=\"q\"", ("my.action-v2", {"a": "x y", "b": "q"})),
        ("<% $.name %> a=1", ("<% $.name %>", {"a": 1})),
        ("{{ _.name }} a=1", ("{{ _.name }}", {"a": 1})),
        ("{{ _.a }} x={{ _.b }}", ("{{ _.a }} x={{ _.b }}", {"x": "{{ _.b }}"})),  # greedy command
        ("a x=[1] y=[2]", ("a", {"x": "[1] y=[2]"})),  # the list is greedy, then not JSON
        ("a x=[1, [2]] y=2", ("a", {"x": [1, [2]], "y": 2})),
        ('a x="a=1 b=2" y=3', ("a", {"x": "a=1 b=2", "y": 3})),
        ('a x={"a": 1}', ("a", {})),  # no mapping literal in Mistral's grammar
        ("a k-1=2 _k=3", ("a", {"k-1": 2, "_k": 3})),
        ("{% if x %} a=1", ("{% if x %}", {"a": 1})),
        ("a x=-1 y=abc z=1.5 w=truex", ("a", {"z": 1, "w": True})),
        ("a x=<% $.a %><% $.b %>", ("a", {"x": "<% $.a %>"})),
        ("a x={{ _.a }}", ("a", {"x": "{{ _.a }}"})),
        ("a x=null y=false", ("a", {"x": None, "y": False})),
    ],
)
def test_parse_command(text: str, expected: tuple[str, dict[str, object]]) -> None:
    assert inline.parse_command(text) == expected


@pytest.mark.parametrize("text", ["=x y", "(a) b=1", '"quoted" b=1'])
def test_a_command_must_start_with_a_name_or_an_expression(text: str) -> None:
    assert inline.parse_command(text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("t2", ("t2", {})),
        ('fail msg="x"', ("fail", {"msg": "x"})),
        ('fail(msg="x")', ("fail", {"msg": "x"})),
        ('fail(msg="x y")', ("fail", {"msg": "x y"})),
        ("pause(msg=<% $.m %>)", ("pause", {"msg": "<% $.m %>"})),
    ],
)
def test_parse_transition_name(text: str, expected: tuple[str, dict[str, object]]) -> None:
    assert inline.parse_transition_name(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("x in <% $.a %>", ("x", "<% $.a %>")),
        ("x in {{ _.a }}", ("x", "{{ _.a }}")),
        ("x in [1, 2]", ("x", "[1, 2]")),
        ("xin[1,2]", ("x", "[1,2]")),
        ("x in <% $.a %> tail", ("x", "<% $.a %>")),
        ("x of [1]", None),
        ("x in $.a", None),
    ],
)
def test_parse_with_items(text: str, expected: tuple[str, str] | None) -> None:
    assert inline.parse_with_items(text) == expected
