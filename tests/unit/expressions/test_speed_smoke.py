"""A sanity run of many cached evaluations on a large layered context (no timing asserted)."""

from __future__ import annotations

import threading
from collections import ChainMap
from typing import Any

from sirocco.expressions import evaluate


def big_context() -> ChainMap[str, Any]:
    published = {f"key{index}": {"value": index, "list": [index] * 10} for index in range(20000)}
    return ChainMap({"item": 7}, {"__env": {"mode": "fast"}}, published, {"n": 3})


def test_ten_thousand_cached_evaluations_on_a_big_context() -> None:
    data = big_context()
    expressions = {
        "x": "<% $.item %>",
        "y": "<% $.key123.value + $.n %>",
        "z": "{{ _.key5.list | length }}",
        "w": "<% $.item > 5 and env().mode = fast %>",
    }
    results = [evaluate(expressions, data) for _ in range(2500)]
    assert results[0] == {"x": 7, "y": 126, "z": 10, "w": True}
    assert all(result == results[0] for result in results)


def test_evaluations_in_threads_agree() -> None:
    data = big_context()
    failures: list[BaseException] = []

    def work(offset: int) -> None:
        try:
            for index in range(40):
                key = f"key{offset * 1000 + index}"
                expected = offset * 1000 + index + 3
                assert evaluate(f"<% $.{key}.value + $.n %>", data) == expected
                assert evaluate(f"{{{{ _.{key}.value + _.n }}}}", data) == expected
        except BaseException as error:  # collected for the main thread
            failures.append(error)

    threads = [threading.Thread(target=work, args=(offset,)) for offset in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
