"""Jinja: Mistral's sandbox, the ``_`` root, a ChainMap root read like a dict, data unchanged."""

from __future__ import annotations

import copy
from collections import ChainMap
from typing import Any

import pytest

from sirocco import errors
from sirocco.expressions import evaluate, jinja_evaluator

DATA: dict[str, Any] = {
    "x": 1,
    "s": "hi",
    "t": True,
    "nums": [3, 1, 2],
    "d": {"a": 1, "b": [1, 2]},
    "servers": [{"name": "a", "on": True}, {"name": "b", "on": False}],
    "items": "the items variable",
    "maps": "the maps variable",
    "__env": {"e": 5},
    "__execution": {"id": "E1"},
}


def layered() -> ChainMap[str, Any]:
    data = copy.deepcopy(DATA)
    return ChainMap({"x": data.pop("x"), "maps": data.pop("maps")}, data)


@pytest.fixture(params=["dict", "chain"])
def data(request: pytest.FixtureRequest) -> Any:
    return copy.deepcopy(DATA) if request.param == "dict" else layered()


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("{{ _.x + 1 }}", 2),
        ("{{ _.nums | length }}", 3),
        ("{{ _.nums | sort }}", [1, 2, 3]),
        ("{{ _.nums | join('-') }}", "3-1-2"),
        ("{{ _.x is number }}", True),
        ("{{ _.s | upper }}", "HI"),
        ("{{ _.missing is defined }}", False),
        ("{{ _.servers | map(attribute='name') | list }}", ["a", "b"]),
        ("{{ _.servers | selectattr('on') | list }}", [{"name": "a", "on": True}]),
        ("{{ _.d.get('a') }}", 1),
        ("{{ _.get('x') }}", 1),
        ("{{ _.keys() | list | length }}", 10),
        ("{{ _['items'] }}", "the items variable"),
        ("{{ _.maps }}", "the maps variable"),
        ("{{ _['maps'] }}", "the maps variable"),
        ("{{ __env.e }}", 5),
        ("{{ __execution.id }}", "E1"),
        ("{{ _.__env.e }}", 5),
        ("{{ __task_execution }}", None),
        ("{{ _.d | tojson }}", '{"a": 1, "b": [1, 2]}'),
        ("{{ _ | length > 3 }}", True),
        ("{{ '%s-%s' % (_.x, _.s) }}", "1-hi"),
        ("{{ _.x ~ 'a' }}", "1a"),
    ],
)
def test_jinja_results_match_mistral(data: Any, expression: str, expected: Any) -> None:
    assert evaluate(expression, data) == expected


def test_items_is_the_dict_method_on_the_root_as_in_mistral(data: Any) -> None:
    assert evaluate("{{ _.items() | list | length }}", data) == 10


def test_data_keys_are_not_template_variables(data: Any) -> None:
    with pytest.raises(errors.ExpressionEvaluationError, match="'x' is undefined"):
        evaluate("{{ x }}", data)


def test_the_chain_map_root_answers_missing_names_like_a_dict() -> None:
    with pytest.raises(errors.ExpressionEvaluationError) as raised:
        evaluate("{{ _.parents }}", layered())
    root = "'mistral.workflow.data_flow.ContextView object'"  # as Mistral names its root
    assert f"{root} has no attribute 'parents'" in raised.value.message
    with pytest.raises(errors.ExpressionEvaluationError) as raised:
        evaluate("{{ _['new_child'] }}", layered())
    assert f"{root} has no attribute 'new_child'" in raised.value.message


def test_the_root_can_be_written_as_json(data: Any) -> None:
    assert evaluate("{{ _ | tojson }}", {"a": ChainMap({"b": 1})}) == '{"a": {"b": 1}}'
    assert '"x": 1' in evaluate("{{ _ | tojson }}", data)


def test_blocks_trim_their_lines() -> None:
    template = "{% for i in _.nums %}\n  {{ i }}\n{% endfor %}\n"
    assert evaluate(template, {"nums": [1, 2]}) == "  1\n  2\n"
    assert evaluate("{% for i in _.nums %}{{ i }},{% endfor %}", {"nums": [1, 2]}) == "1,2,"


def test_multiple_placeholders_render_a_text() -> None:
    text = (
        'Tenant "{{ _.project }}"\n'
        "{% if _.active %}\nActive: {{ _.active }}\n{% endif %}\n"
        "Nets: {{ _.nets }}"
    )
    data = {"project": "1-2-3", "active": 0, "nets": 1}
    assert evaluate(text, data) == 'Tenant "1-2-3"\nNets: 1'


@pytest.mark.parametrize(
    "expression",
    [
        "{{ _.nums.append(4) }}",
        "{{ _.d.update({'z': 1}) }}",
        "{{ _.d.b.pop() }}",
        "{{ _.update({'z': 1}) }}",
        "{{ _.pop('x') }}",
        "{{ _.clear() }}",
        "{{ __env.clear() }}",
        "{% for server in _.servers %}{{ server.update({'on': 1}) }}{% endfor %}",
        "{% set c = _.d.copy() %}{{ c.b.append(3) }}",
    ],
)
def test_templates_cannot_change_the_data(data: Any, expression: str) -> None:
    before = copy.deepcopy(dict(data))
    with pytest.raises(errors.ExpressionEvaluationError, match="is unsafe"):
        evaluate(expression, data)
    assert dict(data) == before


def test_templates_can_change_what_they_build(data: Any) -> None:
    template = "{% set m = [] %}{% for i in _.nums %}{{ m.append(i) }}{% endfor %}{{ m }}"
    assert evaluate(template, data) == "NoneNoneNone[3, 1, 2]"
    assert evaluate("{% set c = _.d.copy() %}{{ c.update({'z': 2}) }}{{ c.z }}", data) == "None2"


def test_the_sandbox_refuses_python_internals(data: Any) -> None:
    with pytest.raises(errors.ExpressionEvaluationError):
        evaluate("{{ _.__class__.__mro__ }}", data)
    with pytest.raises(errors.ExpressionEvaluationError):
        evaluate("{{ ''.__class__.__subclasses__() }}", data)


def test_an_undefined_value_inside_a_result_fails(data: Any) -> None:
    with pytest.raises(errors.ExpressionEvaluationError, match="has no attribute 'missing'"):
        evaluate("{{ [_.missing] }}", data)


def test_each_template_is_compiled_once() -> None:
    before = jinja_evaluator._compile_expression.cache_info()
    for _ in range(4):
        assert evaluate("{{ _.x * 3 + 1 }}", {"x": 2}) == 7
    after = jinja_evaluator._compile_expression.cache_info()
    assert (after.misses - before.misses, after.hits - before.hits) == (1, 3)
