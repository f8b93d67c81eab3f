"""validate(), validate_value() and has_expressions(); problem texts are Mistral 23's."""

from __future__ import annotations

import pytest

from sirocco.expressions import has_expressions, validate, validate_value

MIXING = (
    "The line already contains an expression of type 'jinja'. "
    "Mixing expression types in a single line is not allowed."
)


@pytest.mark.parametrize(
    "text",
    [
        "plain",
        "",
        "<% $.x %>",
        "<% 1 + 2 %>",
        "<% $.a1 * $.a2 %>",
        "<% abc %>",
        "v=<% $.x %> and <% $.y %>",
        "{{ abc }}",
        "{{ _.a1 }} is {{ _.a2 }}",
        "The value is {{ _.a1 }}.",
        "{% if _.x %}a{% endif %}",
        "<% $.x\n %>",  # over two lines: text, not an expression
        "<% 1 %",
    ],
)
def test_valid_strings_have_no_problems(text: str) -> None:
    assert validate(text) == []


@pytest.mark.parametrize(
    ("text", "problems"),
    [
        ("<% $. %>", ["Parse error: unexpected end of statement"]),
        ("<% $.x ) %>", ["Parse error: unexpected ')' at position 5 of expression ' $.x ) '"]),
        ("<% * %>", ["Parse error: unexpected '*' at position 1 of expression ' * '"]),
        ("<% $.__x %>", ["Lexical error: illegal character '_' at position 3"]),
        ("<% %>", ["Parse error: unexpected end of statement"]),
        (
            "<% 1 + %> <% ) %>",
            [
                "Parse error: unexpected end of statement",
                "Parse error: unexpected ')' at position 1 of expression ' ) '",
            ],
        ),
        ("{{ _.x ) }}", ["Syntax error 'unexpected ')''."]),
        ("The value is {{ * }}.", ["Syntax error 'unexpected '*''."]),
        ("{{ }}", ["Syntax error 'Expected an expression, got 'end of print statement''."]),
        ("{% if %}", ["Syntax error 'Expected an expression, got 'end of statement block''."]),
        (
            "{% for x in y %}",
            [
                "Syntax error 'Unexpected end of template. Jinja was looking for the following "
                "tags: 'endfor' or 'else'. The innermost block that needs to be closed is "
                "'for'.'."
            ],
        ),
        ("<% $.x %> {{ _.x }}", [MIXING]),
        ("{{ _.x ) }} <% $.x ) %>", ["Syntax error 'unexpected ')''.", MIXING]),
    ],
)
def test_problems_are_reported_as_mistral_words_them(text: str, problems: list[str]) -> None:
    assert validate(text) == problems


def test_anything_but_a_string_has_no_problems() -> None:
    assert validate(["<% $. %>"]) == []  # type: ignore[arg-type]
    assert validate(None) == []  # type: ignore[arg-type]


def test_validate_value_walks_dict_values_and_list_items_with_paths() -> None:
    value = {
        "input": {"x": ["<% $.a %>", "ok", "<% $. %>"], "y": "{{ _.a ) }}"},
        "<% $. %>": "keys are not expressions",
        "publish": [{"z": "<% $.a %> {{ _.b }}"}],
        "count": 3,
    }
    assert validate_value(value) == [
        ("input.x[2]", "Parse error: unexpected end of statement"),
        ("input.y", "Syntax error 'unexpected ')''."),
        ("publish[0].z", MIXING),
    ]


def test_validate_value_of_a_string_has_an_empty_path() -> None:
    assert validate_value("<% $. %>") == [("", "Parse error: unexpected end of statement")]
    assert validate_value({"a": "<% $.x %>"}) == []
    assert validate_value(7) == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("<% $.x %>", True),
        ("a {{ _.x }}", True),
        ("{% if x %}{% endif %}", True),
        ("plain", False),
        ("<% $.x\n %>", False),
        ("{ {x} }", False),
        ({"a": ["b", {"c": "<% 1 %>"}]}, True),
        ({"<% 1 %>": "b"}, False),
        (["a", 1, None], False),
        (5, False),
    ],
)
def test_has_expressions(value: object, expected: bool) -> None:
    assert has_expressions(value) is expected
