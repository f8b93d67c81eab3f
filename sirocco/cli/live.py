"""The live view of ``sirocco run`` on a terminal: a one-line header and a table of tasks.

The view starts before the runtime is imported or the database opened, so its
first frame appears at once; it is redrawn ten times a second from the latest
report (``running.read_report``), so elapsed times advance between reports.
Only ``rich`` (and ``sirocco.masking``: state infos are shown with secrets masked)
is imported here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from sirocco import clock as clocks
from sirocco import masking

#: Tasks shown at most; earlier ones are counted on one line.
SHOWN_TASKS = 40
#: Characters of a task's state info shown in its row.
INFO_WIDTH = 120
FINISHED = frozenset({"SUCCESS", "ERROR", "CANCELLED"})
_COLOURS = {
    "SUCCESS": "green",
    "ERROR": "red",
    "CANCELLED": "red",
    "RUNNING": "yellow",
    "PAUSED": "cyan",
}


class LiveView:
    """The header (workflow, state, elapsed time, tasks done, id) and one row per task,
    redrawn in place."""

    def __init__(
        self,
        source: str,
        *,
        console: Console | None = None,
        clock: Callable[[], float] = clocks.monotonic,
        now: Callable[[], datetime] = clocks.utcnow,
        auto_refresh: bool = True,
    ) -> None:
        self._source = source
        self._clock = clock
        self._now = now
        self._opened = clock()
        self._note = "reading the file, opening the database"
        self._report: Mapping[str, Any] | None = None
        self._closed = False
        self._secret_parts = masking.configured_parts()
        self._live = Live(
            console=console or Console(),
            refresh_per_second=10,
            auto_refresh=auto_refresh,
            transient=False,
            redirect_stdout=False,
            redirect_stderr=False,
            get_renderable=self.render,
        )
        self._live.start(refresh=True)

    def note(self, text: str) -> None:
        """What is being done before the execution exists (shown under the header)."""
        self._note = text
        self._live.refresh()

    def update(self, report: Mapping[str, Any]) -> None:
        """Show ``report`` (the execution as ``read_report`` gives it)."""
        self._report = report
        self._live.refresh()

    def close(self, *, keep: bool = True) -> None:
        """Stop redrawing; leave the last frame on screen only if ``keep``."""
        if self._closed:
            return
        self._closed = True
        if not keep:
            self._report = None  # render() then draws nothing
        self._live.stop()

    # ------------------------------------------------------------ drawing

    def render(self) -> RenderableType:
        """The frame for now: always one header line, then the tasks (or what is being done)."""
        report = self._report
        if self._closed and report is None:
            return Text("")
        if report is None:
            header = Text.assemble(
                (self._source, "bold"), "  ", ("STARTING", "dim"), "  ", _duration(self._waited())
            )
            header.no_wrap, header.overflow = True, "ellipsis"
            return Group(header, Text(f"{self._note}…", style="dim"))
        return Group(self._header(report), self._table(report))

    def _waited(self) -> float:
        return max(0.0, self._clock() - self._opened)

    def _header(self, report: Mapping[str, Any]) -> Text:
        tasks = report["tasks"]
        done = sum(1 for task in tasks if task["state"] in FINISHED)
        header = Text.assemble(
            (str(report["workflow"]), "bold"),
            "  ",
            _styled(str(report["state"])),
            "  ",
            _duration(self._span(report.get("_created"), report.get("_finished"))),
            "  ",
            (f"{done}/{len(tasks)} tasks done", "dim"),
            "  ",
            (str(report["id"]), "dim"),
        )
        header.no_wrap, header.overflow = True, "ellipsis"
        return header

    def _table(self, report: Mapping[str, Any]) -> Table:
        table = Table(expand=False)
        table.add_column("task", no_wrap=True)
        table.add_column("state", no_wrap=True)
        table.add_column("progress", no_wrap=True)
        table.add_column("time", justify="right", no_wrap=True)
        table.add_column("info", overflow="fold")
        tasks = report["tasks"]
        hidden = max(0, len(tasks) - SHOWN_TASKS)
        if hidden:
            table.add_row(Text(f"… {hidden} earlier tasks", style="dim"), "", "", "", "")
        for task in tasks[hidden:]:
            started = task.get("_started")
            table.add_row(
                task["name"],
                _styled(task["state"]),
                _progress(task),
                _duration(self._span(started, task.get("_finished"))) if started else "",
                _info(masking.mask_text(task["state_info"] or "", self._secret_parts)),
            )
        return table

    def _span(self, start: datetime | None, end: datetime | None) -> float:
        if start is None:
            return self._waited()
        return max(0.0, ((end or self._now()) - start).total_seconds())


def _info(state_info: str | None) -> str:
    """A task's state info on one short line (an HTTP response as its status, ids left out)."""
    if not state_info:
        return ""
    # Imported here: the engine is loaded by the time a task exists, not at the first frame.
    from sirocco.engine import reasons

    lines = reasons.condensed(state_info, limit=INFO_WIDTH)
    return reasons.cut("; ".join(line.strip() for line in lines), INFO_WIDTH)


def _progress(task: Mapping[str, Any]) -> str:
    items = task.get("_progress")
    if items:
        return f"{items[0]}/{items[1]} items"
    subworkflow = task.get("_subworkflow")
    if subworkflow:
        return f"{subworkflow[0]}/{subworkflow[1]} tasks"
    return ""


def _styled(state: str) -> Text:
    return Text(state, style=_COLOURS.get(state, ""))


def _duration(seconds: float) -> Text:
    """0.4 s, 12 s, 3 min 05 s, 2 h 07 min."""
    if seconds < 10:
        text = f"{seconds:.1f} s"
    elif seconds < 60:
        text = f"{seconds:.0f} s"
    elif seconds < 3600:
        text = f"{int(seconds // 60)} min {int(seconds % 60):02d} s"
    else:
        text = f"{int(seconds // 3600)} h {int(seconds % 3600 // 60):02d} min"
    return Text(text, style="dim")
