"""The conformance cases (what real Mistral 23 returned), run through the pure driver.

Steps that are API calls become events (resume, cancel, rerun, skip);
``wait_*`` steps run the driver until the condition holds. ``min_seconds``
and ``max_seconds`` are checked against the fake clock (``tests/conformance/drive.py``).
"""

from __future__ import annotations

import pathlib
from typing import Any

import pytest

from tests.conformance import casekit, drive


def _cases() -> list[Any]:
    found = []
    for path in casekit.case_files():
        case = casekit.load(path)
        if casekit.is_definition_error(case) or casekit.is_skipped(case):
            continue  # a definition error: the language and API tests cover it
        marks = []
        reason = casekit.known_difference(path.stem, "driver")
        if reason is not None:
            marks.append(pytest.mark.xfail(reason=reason, strict=True))
        found.append(pytest.param(path, id=path.stem, marks=marks))
    return found


@pytest.mark.parametrize("path", _cases())
def test_conformance_case(path: pathlib.Path) -> None:
    case = casekit.load(path)
    run, elapsed = drive.run(case)
    assert run.problems == []
    assert drive.check(run, case["expect"], elapsed) == []
