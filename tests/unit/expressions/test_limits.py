"""The budget of an evaluation: each limit refuses the expression that crosses it, naming it."""

from __future__ import annotations

import pytest

from sirocco import expressions
from sirocco.limits import Limits

SMALL = Limits(expression_max_items=1000, expression_max_bytes=10_000)

CASES = [
    ("<% len(range(1000000000).toList()) %>", "1000 items per collection"),
    ("<% range(1000000000) %>", "1000 items per collection"),
    ("<% range(1001) %>", "1000 items per collection"),
    ("<% range(5000).select($ * 2).sum() %>", "1000 items per collection"),
    ("<% range(100).reduce($1 + $1, 'ab') %>", "10000 bytes per value"),
    ("<% 'x' * 1000000000 %>", "10000 bytes per value"),
    ("<% range(100).reduce($1 * $1, 3) %>", "10000 bytes per value"),
    ("<% pow(9, 1000000000) %>", "65536 bytes per number"),
    ("{{ 'x' * 1000000000 }}", "10000 bytes per value"),
    ("{{ [1] * 1000000000 }}", "10000 bytes per value"),
    ("{{ 9 ** 1000000000 }}", "65536 bytes per number"),
    (
        "{% set ns = namespace(s='ab') %}{% for i in range(100) %}"
        "{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s | length }}",
        "10000 bytes per value",
    ),
    ("{{ 'x' }}{% for i in range(100000) %}xxxxxxxxxx{% endfor %}", "10000 bytes per value"),
]


@pytest.mark.parametrize(("expression", "limit"), CASES)
def test_an_expression_over_a_limit_is_refused(expression: str, limit: str) -> None:
    with pytest.raises(expressions.LimitExceeded) as raised:
        expressions.evaluate(expression, {}, None, expressions.Budget(SMALL))
    assert f"Expression evaluation exceeded the limit of {limit}" in raised.value.message


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("<% range(1000).sum() %>", 499500),
        ("<% range(1000) %>", list(range(1000))),
        ("<% pow(2, 100) %>", 2**100),
        ("{{ 2 ** 100 }}", 2**100),
        ("{{ 'ab' * 100 }}", "ab" * 100),
        ("<% len(str(range(1000).toList())) %>", len(str(list(range(1000))))),
    ],
)
def test_within_the_limits_the_results_are_unchanged(expression: str, expected: object) -> None:
    assert expressions.evaluate(expression, {}, None, expressions.Budget(SMALL)) == expected


def test_time_limits_need_a_clock_and_read_only_it() -> None:
    readings = iter(range(0, 10_000, 5))  # each reading 5 s after the one before

    def clock() -> float:
        return float(next(readings))

    budget = expressions.Budget(Limits(expression_timeout=7), clock)
    with pytest.raises(expressions.LimitExceeded) as raised:
        expressions.evaluate("<% range(100000).select($).len() %>", {}, None, budget)
    assert "the evaluation time limit of 7 s per expression" in raised.value.message
    untimed = expressions.Budget(Limits(expression_timeout=7))
    assert expressions.evaluate("<% range(100000).len() %>", {}, None, untimed) == 100000


def test_numbers_stay_under_64_kib_whatever_the_bytes_limit() -> None:
    with pytest.raises(expressions.LimitExceeded) as raised:
        expressions.evaluate("<% range(100).reduce($1 * $1, 3) %>", {}, None, expressions.Budget())
    assert "the limit of 65536 bytes per number" in raised.value.message


def test_the_step_limit_counts_only_the_time_expressions_evaluate() -> None:
    now = [0.0]
    budget = expressions.Budget(
        Limits(expression_timeout=-1, step_expression_timeout=10), lambda: now[0]
    )

    def evaluated_for(seconds: float) -> None:
        start = now[0]

        def slow(value: object) -> object:
            now[0] = start + seconds  # the evaluation took this long
            return value

        data = {"f": slow}
        expressions.evaluate("{{ _.f(1) }}", data, None, budget)

    for _ in range(3):
        evaluated_for(3)  # 9 s of evaluation in all
        now[0] += 1000  # the step's other work (database, actions) does not count
    with pytest.raises(expressions.LimitExceeded) as raised:
        evaluated_for(3)
        expressions.evaluate("{{ 1 }}", {}, None, budget)
    assert "the evaluation time limit of 10 s per engine step" in raised.value.message
