"""A shared fixture that fails is reported once: the first test that used it errors with the
reason, the others of the same process are skipped, pointing there.

pytest keeps the exception of a failed module- or session-scoped fixture and raises
that same exception again for every test that asks for the fixture: a server that
did not start made one error per test (222 for the conformance module). The same
exception object seen again in a test's setup marks such a repeat.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

#: Setup exceptions already reported (kept alive, so their ids stay theirs).
_REPORTED: list[BaseException] = []


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if call.when != "setup" or call.excinfo is None or not report.failed:
        return report
    error = call.excinfo.value
    if any(seen is error for seen in _REPORTED):
        report.outcome = "skipped"
        path, line, _ = item.location
        message = f"Skipped: a shared fixture failed: {_first_line(error)} (reported once above)"
        report.longrepr = (str(path), (line or 0) + 1, message)
    else:
        _REPORTED.append(error)
    return report


def _first_line(error: Any) -> str:
    text = str(error).strip().splitlines()
    return text[0][:200] if text else type(error).__name__
