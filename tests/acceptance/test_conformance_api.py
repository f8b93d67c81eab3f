"""The conformance cases over the REST API: ``run_cases.py`` against a real ``sirocco server``.

One server (a subprocess on a free port, with a fresh SQLite file) serves
the whole module; each case is one run of the shared runner, whose closing
``N passed, M failed`` line must say it passed.
"""

from __future__ import annotations

import os
import pathlib
import re
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from tests import processes
from tests.conformance import casekit

#: The shared runner: in ``shared/`` beside the checkout (as CI lays it out), else the
#: development machine's copy.
RUNNER = next(
    (
        candidate
        for candidate in (
            pathlib.Path(__file__).resolve().parents[3] / "shared/conformance/run_cases.py",
            pathlib.Path("/work/shared/conformance/run_cases.py"),
        )
        if candidate.exists()
    ),
    pathlib.Path("/work/shared/conformance/run_cases.py"),
)
SIROCCO = pathlib.Path(sys.executable).parent / "sirocco"

#: The runner's bound for one case (its own default, 60 s, is short on a loaded machine).
CASE_BOUND = 240


pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not RUNNER.is_file(), reason=f"{RUNNER} is not there"),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str | processes.StartFailure]:
    """The module's ``sirocco server``: its URL, or why it did not start (reported once)."""
    folder = tmp_path_factory.mktemp("conformance_api")
    port = processes.free_port()
    environment = {key: value for key, value in os.environ.items() if key != "SIROCCO_DB"}
    server = processes.Process(
        [SIROCCO, "server", "--port", str(port), "--db", f"sqlite:///{folder / 'sirocco.sqlite'}"],
        log=folder / "server.log",
        env=environment,
    )
    url = f"http://127.0.0.1:{port}/v2"
    try:
        try:
            server.wait_answering(url + "/")
        except AssertionError as failure:
            yield processes.StartFailure(str(failure))
        else:
            yield url
    finally:
        server.assert_stopped_cleanly()


@pytest.fixture
def base_url(server: str | processes.StartFailure) -> str:
    if isinstance(server, processes.StartFailure):
        server.report()
    return server


def _api_cases() -> list[Any]:
    found = []
    for path in casekit.case_files():
        marks = []
        reason = casekit.known_difference(path.stem, "api")
        if reason is not None:
            marks.append(pytest.mark.xfail(reason=reason, strict=True))
        found.append(pytest.param(path, id=path.stem, marks=marks))
    return found


_SUMMARY = re.compile(r"^(\d+) passed, (\d+) failed$", re.M)


@pytest.mark.parametrize("path", _api_cases())
def test_case_through_the_api(base_url: str, path: pathlib.Path) -> None:
    outcome = processes.run(
        [
            sys.executable,
            str(RUNNER),
            base_url,
            "--timeout",
            str(CASE_BOUND),
            "--cases",
            str(path.parent),
            path.stem,
        ]
    )
    summary = _SUMMARY.search(outcome.stdout)
    assert summary is not None, outcome.stdout + outcome.stderr
    passed, failed = int(summary.group(1)), int(summary.group(2))
    case = casekit.load(path)
    if casekit.is_skipped(case):
        assert (passed, failed) == (0, 0), outcome.stdout
        return
    assert (passed, failed) == (1, 0), outcome.stdout
