"""The conformance cases over the REST API: ``run_cases.py`` against a real ``sirocco server``.

One server (a subprocess on a free port, with a fresh SQLite file) serves
the whole module; each case is one run of the shared runner, whose closing
``N passed, M failed`` line must say it passed.
"""

from __future__ import annotations

import os
import pathlib
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

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


pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not RUNNER.is_file(), reason=f"{RUNNER} is not there"),
]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("conformance_api")
    port = _free_port()
    log = (folder / "server.log").open("w")
    environment = {key: value for key, value in os.environ.items() if key != "SIROCCO_DB"}
    server = subprocess.Popen(
        [
            str(SIROCCO),
            "server",
            "--port",
            str(port),
            "--db",
            f"sqlite:///{folder / 'sirocco.sqlite'}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=environment,
    )
    url = f"http://127.0.0.1:{port}/v2"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert server.poll() is None, (folder / "server.log").read_text()
            try:
                with urllib.request.urlopen(url + "/", timeout=1):
                    break
            except OSError:
                assert time.monotonic() < deadline, "sirocco server did not answer"
                time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(5)
        log.close()


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
    outcome = subprocess.run(
        [sys.executable, str(RUNNER), base_url, "--cases", str(path.parent), path.stem],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    summary = _SUMMARY.search(outcome.stdout)
    assert summary is not None, outcome.stdout + outcome.stderr
    passed, failed = int(summary.group(1)), int(summary.group(2))
    case = casekit.load(path)
    if casekit.is_skipped(case):
        assert (passed, failed) == (0, 0), outcome.stdout
        return
    assert (passed, failed) == (1, 0), outcome.stdout
