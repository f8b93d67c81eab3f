"""evaluate(): native values, interpolation, recursion, errors, and data left untouched.

Expected values were checked against Mistral 23's own evaluator
(``mistral.expressions.evaluate``) where Mistral defines them.
"""

from __future__ import annotations

import copy
from collections import ChainMap
from typing import Any

import pytest

from sirocco import errors
from sirocco.expressions import evaluate

DATA: dict[str, Any] = {
    "x": 1,
    "y": 2.5,
    "s": "hi",
    "t": True,
    "n": None,
    "d": {"a": 1, "b": [1, "x\ny"]},
    "l": [1, 2, {"b": [3]}],
    "__env": {"e": 5},
    "__execution": {"id": "E1"},
}


def chained(data: dict[str, Any]) -> ChainMap[str, Any]:
    """The same data split over three layers, as the engine passes it."""
    keys = list(data)
    return ChainMap(
        {key: data[key] for key in keys[:3]},
        {key: data[key] for key in keys[3:6]},
        {key: data[key] for key in keys[6:]},
    )


@pytest.fixture(params=["dict", "chain"])
def data(request: pytest.FixtureRequest) -> Any:
    return DATA if request.param == "dict" else chained(DATA)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("<% $.x %>", 1),
        ("<% $.y %>", 2.5),
        ("<% $.t %>", True),
        ("<% $.n %>", None),
        ("<% $.d %>", {"a": 1, "b": [1, "x\ny"]}),
        ("<% $.l %>", [1, 2, {"b": [3]}]),
        ("<%$.x%>", 1),
        ("<%   $.x   %>", 1),
        ("{{ _.x }}", 1),
        ("{{ _.t }}", True),
        ("{{ _.d.b }}", [1, "x\ny"]),
        ("{{ _['d']['a'] }}", 1),
        ("{{ _.n }}", None),
    ],
)
def test_a_string_that_is_one_expression_returns_the_native_value(
    data: Any, expression: str, expected: Any
) -> None:
    result = evaluate(expression, data)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("x=<% $.d %>", "x={'a': 1, 'b': [1, 'x\\ny']}"),
        ("<% $.t %> and <% $.n %>", "True and None"),
        ("<% $.x %><% $.x %>", "11"),
        ("a<% $.s %>b", "ahib"),
        (" <% $.x %>", " 1"),
        ("<% $.l %>-<% $.y %>", "[1, 2, {'b': [3]}]-2.5"),
        ("a {{ _.d }} b", "a {'a': 1, 'b': [1, 'x\\ny']} b"),
        ("{{ _.x }}{{ _.x }}", "11"),
        ("{{ _.t }} and {{ _.n }}", "True and None"),
        (" {{ _.x }}", " 1"),
        ("{{ _.x }}\n", "1"),  # Jinja drops one trailing newline
    ],
)
def test_text_mixed_with_expressions_interpolates_python_str(
    data: Any, expression: str, expected: str
) -> None:
    assert evaluate(expression, data) == expected


def test_strings_without_expressions_are_returned_as_they_are(data: Any) -> None:
    for text in ["plain", "<% 1 %", "50% off", "{ {x} }", "{# comment #}", ""]:
        assert evaluate(text, data) == text


def test_a_delimiter_pair_split_over_lines_is_text_as_in_mistral(data: Any) -> None:
    assert evaluate("<% $.x\n %>", data) == "<% $.x\n %>"
    assert evaluate("{{ _.x\n }}", data) == "{{ _.x\n }}"
    assert evaluate("a\n<% $.x %>\nb", data) == "a\n1\nb"


def test_jinja_wins_when_a_string_holds_both_kinds(data: Any) -> None:
    assert evaluate("{{ _.x }} <% $.x %>", data) == "1 <% $.x %>"
    assert evaluate("<% $.x %> {{ _.x }}", data) == "<% $.x %> 1"


def test_a_template_of_blocks_only_fails_as_in_mistral(data: Any) -> None:
    # Mistral 23 looks for the first {{ }} and fails without one (conformance case 195).
    with pytest.raises(errors.ExpressionEvaluationError) as failure:
        evaluate("{% if _.t %}yes{% endif %}", data)
    assert str(failure.value) == (
        "Can not evaluate Jinja expression "
        "[expression={% if _.t %}yes{% endif %}, error=list index out of range]"
    )
    # With an expression inside, the statements work.
    assert evaluate("{% if _.t %}{{ _.x }}{% endif %}", data) == "1"


def test_the_same_expression_twice_in_a_text_is_evaluated_once() -> None:
    text = evaluate("<% uuid() %>/<% uuid() %>", {"a": 1})
    first, second = text.split("/")
    assert first == second and len(first) == 36


def test_dict_values_and_list_items_are_evaluated_recursively_keys_never(data: Any) -> None:
    value = {
        "<% $.x %>": "<% $.x %>",
        "nested": {"list": ["<% $.s %>", "{{ _.y }}", 3, None, ["<% $.t %>"]]},
        "number": 7,
        "text": "v=<% $.x %>",
    }
    assert evaluate(value, data) == {
        "<% $.x %>": 1,
        "nested": {"list": ["hi", 2.5, 3, None, [True]]},
        "number": 7,
        "text": "v=1",
    }


def test_other_values_are_returned_unchanged(data: Any) -> None:
    marker = object()
    assert evaluate(marker, data) is marker
    assert evaluate(5, data) == 5
    assert evaluate(None, data) is None
    assert evaluate(("<% $.x %>",), data) == ("<% $.x %>",)


def test_neither_the_value_nor_the_data_is_changed() -> None:
    data = copy.deepcopy(DATA)
    layered = chained(data)
    value = {"a": ["<% $.l %>", {"b": "{{ _.d }}"}], "c": "<% $ %>"}
    value_before = copy.deepcopy(value)
    result = evaluate(value, layered)
    result["a"][0].append("changed")
    result["a"][1]["b"]["a"] = "changed"
    result["c"]["d"]["b"].append("changed")
    assert value == value_before
    assert data == DATA
    assert [dict(layer) for layer in layered.maps] == [dict(layer) for layer in chained(DATA).maps]


def test_results_are_plain_python_never_views_of_the_data(data: Any) -> None:
    whole = evaluate("<% $ %>", data)
    assert type(whole) is dict and whole == DATA
    assert type(evaluate("{{ _ }}", data)) is dict
    assert evaluate("<% $.l.select($) %>", data) == [1, 2, {"b": [3]}]
    assert type(evaluate("<% $.d.b %>", data)) is list
    assert type(evaluate("{{ (1, 2) }}", data)) is list
    assert evaluate("{{ [1, 1, 2] | unique }}", data) == [1, 2]  # a generator in Jinja


def test_a_missing_key_fails_in_yaql_as_in_mistral_23(data: Any) -> None:
    # The reference notes say null, but Mistral 23 with YAQL 3.2 raises (its own
    # test_wrong_expression expects it); $.get(key) is the way to read an optional key.
    with pytest.raises(errors.ExpressionEvaluationError) as raised:
        evaluate("<% $.missing %>", data)
    assert raised.value.message == (
        "Can not evaluate YAQL expression [expression=$.missing, error='missing']"
    )
    assert evaluate("<% $.get(missing) %>", data) is None
    assert evaluate("<% $.get(missing, 5) %>", data) == 5


def test_a_missing_key_fails_in_jinja(data: Any) -> None:
    with pytest.raises(errors.ExpressionEvaluationError) as raised:
        evaluate("{{ _.missing }}", data)
    # The engine's root (a ChainMap) is named as Mistral names its root, a plain dict
    # as a dict (conformance case 159).
    owner = "dict" if isinstance(data, dict) else "mistral.workflow.data_flow.ContextView"
    assert raised.value.message == (
        "Can not evaluate Jinja expression [expression={{ _.missing }}, "
        f"error='{owner} object' has no attribute 'missing']"
    )
    with pytest.raises(errors.ExpressionEvaluationError, match="has no attribute 'missing'"):
        evaluate("a {{ _.d.missing }}", data)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        (
            "<% $.s + 1 %>",
            "Can not evaluate YAQL expression [expression=$.s + 1, "
            'error=No function "#operator_+" matches supplied arguments]',
        ),
        (
            "<% $.x ) %>",
            "Can not evaluate YAQL expression [expression=$.x ), "
            "error=Parse error: unexpected ')' at position 4 of expression '$.x )']",
        ),
        (
            "<% $.n.x %>",
            "Can not evaluate YAQL expression [expression=$.n.x, "
            'error=Unknown function "#property#x"]',
        ),
        (
            "v=<% $.x %> <% $.nothing %>",
            "Can not evaluate YAQL expression [expression=$.nothing, error='nothing']",
        ),
        (
            "{{ _.x ) }}",
            "Can not evaluate Jinja expression [expression={{ _.x ) }}, error=unexpected ')']",
        ),
        (
            "{{ x }}",
            "Can not evaluate Jinja expression [expression={{ x }}, error='x' is undefined]",
        ),
        (
            "{{ 1 / 0 }}",
            "Can not evaluate Jinja expression [expression={{ 1 / 0 }}, error=division by zero]",
        ),
    ],
)
def test_failures_are_worded_like_mistral(data: Any, expression: str, message: str) -> None:
    with pytest.raises(errors.ExpressionEvaluationError) as raised:
        evaluate(expression, data)
    assert raised.value.message == message


def test_error_messages_never_quote_the_data() -> None:
    secret = {"token": "s3cr3t-token", "x": 1}
    for expression in ["<% $.missing %>", "{{ _.missing }}", "<% $.x + $.token.len() + 'a' %>"]:
        with pytest.raises(errors.ExpressionEvaluationError) as raised:
            evaluate(expression, secret)
        assert "s3cr3t" not in raised.value.message


def test_long_expressions_are_cut_in_messages() -> None:
    expression = "<% $.missing" + " + 1" * 1000 + " %>"
    with pytest.raises(errors.ExpressionEvaluationError) as raised:
        evaluate(expression, {"a": 1})
    assert len(raised.value.message) < 2200
    assert "..." in raised.value.message


def test_data_need_not_be_a_mapping() -> None:
    assert evaluate("<% $ %>", 3) == 3
    assert evaluate("<% str($) %>", 3) == "3"
    assert evaluate("{{ _ }}{{ _ }}", 3) == "33"
    assert evaluate("<% len($) %>", "hey") == 3
    assert evaluate("<% $.where($.some = thing).len() %>", [{"some": "thing"}]) == 1


def test_plain_copies_a_list_of_scalars_and_converts_what_is_not_exactly_plain() -> None:
    from sirocco.expressions.conversion import plain

    class Text(str):
        pass

    numbers = [1, 2.5, "a", True, None]
    copied = plain(numbers)
    assert copied == numbers and copied is not numbers and type(copied) is list
    assert plain((1, 2)) == [1, 2]
    mixed = plain([1, Text("b"), (3,)])
    assert mixed == [1, "b", [3]] and type(mixed[1]) is str and type(mixed[2]) is list
