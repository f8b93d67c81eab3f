"""std.javascript and std.js, run in V8 through mini-racer."""

from __future__ import annotations

from typing import Any

import pytest

from sirocco.actions import registry, runner

REGISTRY = registry.ActionRegistry(load_entry_points=False)


def run(name: str, action_input: dict[str, Any]) -> runner.ActionOutcome | None:
    descriptor = REGISTRY.get(name)
    assert descriptor is not None
    return runner.run_action(descriptor, action_input, execution={"action_execution_id": "js-1"})


@pytest.mark.parametrize("name", ["std.javascript", "std.js"])
def test_script_is_a_function_body_with_dollar_bound_to_context(name: str) -> None:
    outcome = run(
        name,
        {
            "script": "var total = 0; $.items.forEach(function (i) { total += i; });\n"
            "return {total: total, name: $.name.toUpperCase(), none: null};",
            "context": {"items": [1, 2, 3.5], "name": "abc"},
        },
    )
    assert outcome == runner.ActionOutcome(result={"total": 6.5, "name": "ABC", "none": None})


def test_no_return_gives_null() -> None:
    assert run("std.js", {"script": "var x = 1;"}) == runner.ActionOutcome(result=None)


def test_context_defaults_to_null() -> None:
    assert run("std.js", {"script": "return $ === null;"}) == runner.ActionOutcome(result=True)


def test_arrays_and_strings_come_back_as_python_values() -> None:
    outcome = run("std.js", {"script": "return [1, 'two', [3]];"})
    assert outcome == runner.ActionOutcome(result=[1, "two", [3]])


def test_a_thrown_error_fails_the_action() -> None:
    outcome = run("std.js", {"script": "throw new Error('boom');"})
    assert outcome is not None and outcome.error
    assert outcome.message is not None
    assert outcome.message.startswith("The action raised an exception [action=std.js")
    assert "msg='JavaScriptAction failed: " in outcome.message
    assert "boom" in outcome.message


def test_a_syntax_error_fails_the_action() -> None:
    outcome = run("std.javascript", {"script": "return (;"})
    assert outcome is not None and outcome.error
    assert outcome.message is not None and "SyntaxError" in outcome.message


def test_calls_from_several_threads_at_once_do_not_crash_the_process() -> None:
    """mini-racer crashes the process when isolates run in several threads at once (the
    executor's pool does that); the action takes its calls one at a time. Run in a child
    process, so that a crash fails this test instead of the test runner."""
    import subprocess
    import sys
    import textwrap

    from tests.waiting import BOUND

    script = textwrap.dedent(
        """
        import threading
        from sirocco.actions.std.javascript import evaluate
        results = []
        def call(n):
            for _ in range(5):
                results.append(evaluate("return $.n * 2", {"n": n}))
        threads = [threading.Thread(target=call, args=(n,)) for n in range(4)]
        [thread.start() for thread in threads]
        [thread.join() for thread in threads]
        print(sorted(results))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=BOUND, check=False
    )
    assert done.returncode == 0, done
    assert done.stdout.strip() == str(sorted([n * 2 for n in range(4) for _ in range(5)]))
