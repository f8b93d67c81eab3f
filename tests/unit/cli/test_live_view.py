"""The live view: one header line whatever the tasks, a first frame at once, elapsed
times per task and overall, with-items and sub-workflow progress."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from typing import Any

from rich.console import Console

from sirocco.cli.live import LiveView

START = datetime(2026, 1, 1, 12, 0, 0)


class Clocks:
    """A monotonic clock and a wall clock that the test moves together."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def monotonic(self) -> float:
        return self.seconds

    def now(self) -> datetime:
        return START + timedelta(seconds=self.seconds)


def _view(width: int = 60) -> tuple[LiveView, Clocks, Console]:
    console = Console(file=io.StringIO(), width=width, force_terminal=False, color_system=None)
    clocks = Clocks()
    view = LiveView(
        "flows/deploy.yaml",
        console=console,
        clock=clocks.monotonic,
        now=clocks.now,
        auto_refresh=False,
    )
    return view, clocks, console


def _lines(view: LiveView, console: Console) -> list[str]:
    with console.capture() as captured:
        console.print(view.render())
    return captured.get().splitlines()


def _task(name: str, state: str, started: float | None, finished: float | None = None) -> Any:
    return {
        "name": name,
        "state": state,
        "state_info": None,
        "published": {},
        "_progress": None,
        "_subworkflow": None,
        "_started": START + timedelta(seconds=started) if started is not None else None,
        "_finished": START + timedelta(seconds=finished) if finished is not None else None,
    }


def _report(*tasks: Any, state: str = "RUNNING") -> dict[str, Any]:
    return {
        "id": "6a7c35a1-4874-4317-8f6d-94626774c50a",
        "workflow": "a_workflow_with_a_rather_long_name",
        "state": state,
        "state_info": None,
        "output": None,
        "tasks": list(tasks),
        "_created": START,
        "_finished": None,
    }


def test_the_first_frame_is_drawn_before_any_report() -> None:
    view, clocks, console = _view()
    clocks.seconds = 1.25
    lines = _lines(view, console)
    assert lines[0] == "flows/deploy.yaml  STARTING  1.2 s"
    assert lines[1].startswith("reading the file, opening the database")
    view.note("starting the workflow")
    assert _lines(view, console)[1] == "starting the workflow…"
    view.close(keep=False)
    assert "".join(_lines(view, console)).strip() == ""


def test_the_header_stays_one_line_as_tasks_appear() -> None:
    view, _clocks, console = _view(width=60)
    reports = [
        _report(),
        _report(_task("a", "RUNNING", 0.0)),
        _report(
            _task("a", "SUCCESS", 0.0, 1.0),
            _task("a_task_with_a_long_name", "RUNNING", 1.0),
            _task("c", "IDLE", None),
        ),
    ]
    for report in reports:
        view.update(report)
        lines = _lines(view, console)
        assert lines[0].startswith("a_workflow_with_a_rather_long_name  RUNNING  "), lines
        assert "RUNNING" not in lines[1]  # the header did not wrap onto a second line
        assert lines[1].startswith("┏")


def test_elapsed_times_per_task_and_overall() -> None:
    view, clocks, console = _view(width=100)
    clocks.seconds = 75.0
    view.update(
        _report(
            _task("fetch", "SUCCESS", 0.0, 2.5),
            _task("build", "RUNNING", 2.5),
            _task("later", "WAITING", None),
        )
    )
    lines = _lines(view, console)
    assert "RUNNING  1 min 15 s  1/3 tasks done" in lines[0]
    rows = {line.split("│")[1].strip(): line for line in lines if line.startswith("│")}
    assert "2.5 s" in rows["fetch"]
    assert "1 min 12 s" in rows["build"]
    assert " s " not in rows["later"].replace("WAITING", "")  # not started: no time
    clocks.seconds = 80.0  # redrawn without a new report: the running task's clock moves on
    rows = {line.split("│")[1].strip(): line for line in _lines(view, console) if "│" in line}
    assert "1 min 17 s" in rows["build"]
    assert "2.5 s" in rows["fetch"]


def test_with_items_and_sub_workflow_progress() -> None:
    view, _clocks, console = _view(width=100)
    items = {**_task("each", "RUNNING", 0.0), "_progress": (3, 10)}
    child = {**_task("deploy", "RUNNING", 0.0), "_subworkflow": (2, 5)}
    view.update(_report(items, child))
    rows = {line.split("│")[1].strip(): line for line in _lines(view, console) if "│" in line}
    assert "3/10 items" in rows["each"]
    assert "2/5 tasks" in rows["deploy"]


def test_many_tasks_show_the_latest_and_count_the_others() -> None:
    view, _clocks, console = _view(width=100)
    view.update(_report(*[_task(f"t{number}", "SUCCESS", 0.0, 0.1) for number in range(45)]))
    text = "\n".join(_lines(view, console))
    assert "… 5 earlier tasks" in text
    assert "t44" in text and "t4 " not in text


def test_a_task_state_info_is_condensed_to_one_short_line() -> None:
    view, _clocks, console = _view(width=200)
    response = (
        "{'content': 'no such user', 'status': 404, 'headers': {}, 'url': 'http://h/u?k=1', "
        "'history': [], 'encoding': None, 'reason': 'Not Found', 'cookies': {}, 'elapsed': 0.1}"
    )
    view.update(_report({**_task("get", "ERROR", 0.0, 1.0), "state_info": response}))
    rows = [line for line in _lines(view, console) if line.startswith("│ get")]
    assert len(rows) == 1
    assert "HTTP 404 Not Found from http://h/u: no such user" in rows[0]
    assert "'headers'" not in rows[0]
