"""YAML scenarios, in the conformance cases' format, run through the pure engine driver.

A scenario is a case (``tests/conformance/README.md``: ``workflow``, ``input``,
``params``, ``env``, ``steps``, ``expect``) that Sirocco wrote rather than
the oracle recorded: its ``script`` gives, per task name, the results its
actions return in turn (``value``, ``error``, ``cancel`` or ``hold``), and its
``expect`` may name the tasks in creation order (``task_order``). The clock
is the driver's fake one, so ``min_seconds``/``max_seconds`` are exact.
"""

from __future__ import annotations

import pathlib

import pytest

from tests.conformance import casekit, drive

HERE = pathlib.Path(__file__).parent


@pytest.mark.parametrize("path", sorted(HERE.glob("*.yaml")), ids=lambda path: path.stem)
def test_scenario(path: pathlib.Path) -> None:
    scenario = casekit.load(path)
    run, elapsed = drive.run(scenario)
    assert run.problems == []
    assert drive.check(run, scenario["expect"], elapsed) == []
