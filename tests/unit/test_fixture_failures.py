"""A module fixture that fails errors one test and skips the others (tests/fixture_failures.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]


def test_a_failing_module_fixture_is_reported_once(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    pytester.makeconftest("from tests.fixture_failures import pytest_runtest_makereport\n")
    pytester.makepyfile(
        test_shared="""
        import pytest

        @pytest.fixture(scope="module")
        def server():
            raise RuntimeError("the server did not start: port taken")

        @pytest.fixture
        def fresh():
            raise RuntimeError("each time anew")

        @pytest.mark.parametrize("case", range(5))
        def test_case(server, case):
            pass

        def test_fresh_one(fresh):
            pass

        def test_fresh_two(fresh):
            pass

        def test_plain():
            pass
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rs")
    # one error for the module fixture, two for the function fixture (new each time)
    result.assert_outcomes(errors=3, skipped=4, passed=1)
    result.stdout.fnmatch_lines(["*a shared fixture failed: the server did not start*"])
