"""Prometheus metrics of this process: what its steps did, and gauges read at scrape time.

Counters and histograms are fed by each committed step (``record_step``), and by the
executors (hand-off latency: from a RunAction's outbox row to the start of its run). The
gauges (outbox depth by kind, timers due, actions running per executor process) are read
from the database when ``/metrics`` is scraped; the database pool's use and the time
since the last successful step from this process's memory.
Workflow and action names are labels, at most ``SIROCCO_METRICS_MAX_LABEL_VALUES``
(100 by default) distinct values each; further names count as ``other``. Execution
ids are never labels.
"""

from __future__ import annotations

import collections
import logging
import os
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from sirocco import clock
from sirocco.engine.states import COMPLETED, TERMINAL
from sirocco.store import gauges
from sirocco.store.database import Database

log = logging.getLogger("sirocco.metrics")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OTHER = "other"
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)


class Tally:
    """What the counters count in a batch's writes, grouped by label values: a batch
    that ends 1,000 tasks increments each counter once per label set, not 1,000 times."""

    __slots__ = ("actions", "seconds", "started", "tasks")

    def __init__(self) -> None:
        #: Workflows started, by workflow name.
        self.started: collections.Counter[str] = collections.Counter()
        #: Tasks ended, by state.
        self.tasks: collections.Counter[str] = collections.Counter()
        #: Actions ended, by (action name, state).
        self.actions: collections.Counter[tuple[str, str]] = collections.Counter()
        #: The durations of the actions that ended, by action name.
        self.seconds: dict[str, list[float]] = {}


def tally(writes: Any, into: Tally) -> None:
    """Add what the counters count in ``writes`` (a ``store.writer.Writes``, before its
    flush empties it) to ``into``. Never raises."""
    try:
        for workflow in writes.new_workflows:
            into.started[workflow.workflow_name] += 1
        tasks = into.tasks
        for task in (*writes.new_tasks, *writes.task_updates):
            if task.state in COMPLETED:
                tasks[str(task.state)] += 1
        actions = into.actions
        for action in (*writes.new_actions, *writes.action_updates):
            if action.state in COMPLETED:
                actions[action.name, str(action.state)] += 1
                if action.updated_at is not None:
                    seconds = max((action.updated_at - action.created_at).total_seconds(), 0.0)
                    into.seconds.setdefault(action.name, []).append(seconds)
    except Exception:  # metrics never break a step
        log.exception("metrics: can't count a step's writes")


class CappedNames:
    """Label values, at most ``limit`` distinct ones; later ones become ``other``."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, name: str) -> str:
        with self._lock:
            if name in self._seen:
                return name
            if len(self._seen) < self.limit:
                self._seen.add(name)
                return name
        return OTHER


class _DatabaseGauges(Collector):
    def __init__(self, database: Database, clock: Callable[[], datetime]) -> None:
        self.database = database
        self.clock = clock

    def collect(self) -> Iterator[GaugeMetricFamily]:
        depth = GaugeMetricFamily(
            "sirocco_outbox_depth", "Outbox rows waiting, by kind.", labels=["kind"]
        )
        due = GaugeMetricFamily("sirocco_timers_due", "Timers whose due time passed.")
        running = GaugeMetricFamily(
            "sirocco_running_actions",
            "Actions held on a live lease, by the executor process that runs them.",
            labels=["executor"],
        )
        pool = GaugeMetricFamily(
            "sirocco_db_pool_connections",
            "This process's database connections: in_use, idle, limit.",
            labels=["state"],
        )
        for state, count in sorted(self.database.pool_use().items()):
            pool.add_metric([state], count)
        yield pool
        try:
            with self.database.read() as connection:
                now = self.clock()
                counts = gauges.outbox_depth(connection)
                late = gauges.timers_due(connection, now=now)
                held = gauges.running_actions(connection, now=now)
        except Exception as exc:  # a scrape during an outage answers without these
            log.warning("metrics: can't read the database: %s", exc)
            return
        for kind, count in sorted(counts.items()):
            depth.add_metric([kind], count)
        due.add_metric([], late)
        for holder, count in sorted(held.items()):
            running.add_metric([holder], count)
        yield depth
        yield due
        yield running


class Metrics:
    """The metrics of one process (one registry)."""

    def __init__(self, max_label_values: int = 100) -> None:
        self.registry = CollectorRegistry()
        self.workflow_names = CappedNames(max_label_values)
        self.action_names = CappedNames(max_label_values)
        self.last_step = 0.0
        self.executions_started = Counter(
            "sirocco_executions_started", "Workflow executions started.", ["workflow"],
            registry=self.registry,
        )  # fmt: skip
        self.executions_finished = Counter(
            "sirocco_executions_finished", "Workflow executions ended, by state.",
            ["workflow", "state"], registry=self.registry,
        )  # fmt: skip
        self.tasks = Counter(
            "sirocco_tasks_finished", "Task executions ended, by state.", ["state"],
            registry=self.registry,
        )  # fmt: skip
        self.actions = Counter(
            "sirocco_actions_finished", "Action executions ended, by state and action.",
            ["action", "state"], registry=self.registry,
        )  # fmt: skip
        self.action_seconds = Histogram(
            "sirocco_action_duration_seconds", "From an action's creation to its result.",
            ["action"], buckets=_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.integrity_repairs = Counter(
            "sirocco_integrity_repairs",
            "Executions that waited on nothing, set going again by the integrity check.",
            ["kind"], registry=self.registry,
        )  # fmt: skip
        self.handoff_seconds = Histogram(
            "sirocco_handoff_latency_seconds",
            "From a RunAction written (its outbox row) to an executor starting it.",
            buckets=_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.step_seconds = Histogram(
            "sirocco_step_duration_seconds", "One engine step (a batch, one transaction).",
            buckets=_BUCKETS, registry=self.registry,
        )  # fmt: skip
        since = Gauge(
            "sirocco_seconds_since_last_step",
            "Seconds since this process last committed a step (-1: none yet).",
            registry=self.registry,
        )
        since.set_function(lambda: clock.monotonic() - self.last_step if self.last_step else -1.0)

    def record_step(self, seconds: float, tallied: Tally, changed: Any) -> None:
        """Count what one committed batch wrote (``tallied``, from :func:`tally`;
        ``changed``: (id, workflow name, state, info) of executions whose state changed)."""
        try:
            self._record(seconds, tallied, changed)
        except Exception:  # metrics never break a step
            log.exception("metrics: can't record a step")

    def _record(self, seconds: float, tallied: Tally, changed: Any) -> None:
        self.last_step = clock.monotonic()
        self.step_seconds.observe(seconds)
        for name, count in tallied.started.items():
            self.executions_started.labels(self.workflow_names(name)).inc(count)
        for state, count in tallied.tasks.items():
            self.tasks.labels(state).inc(count)
        for (name, state), count in tallied.actions.items():
            self.actions.labels(self.action_names(name), state).inc(count)
        for name, durations in tallied.seconds.items():
            observe = self.action_seconds.labels(self.action_names(name)).observe
            for duration in durations:
                observe(duration)
        for _, workflow_name, state, _ in changed:
            if state in TERMINAL:
                self.executions_finished.labels(self.workflow_names(workflow_name), state).inc()

    def handed_off(self, seconds: float) -> None:
        """An executor started an action ``seconds`` after its command was written."""
        try:
            self.handoff_seconds.observe(max(seconds, 0.0))
        except Exception:  # metrics never break an executor
            log.exception("metrics: can't record a hand-off")

    def repaired(self, kind: str) -> None:
        """The integrity check made one repair of ``kind``."""
        self.integrity_repairs.labels(kind).inc()

    def watch(self, database: Database, clock: Callable[[], datetime]) -> None:
        """Read the outbox and timer gauges from ``database`` at each scrape (once)."""
        if not getattr(self, "_watching", False):
            self.registry.register(_DatabaseGauges(database, clock))
            self._watching = True

    def exposition(self) -> bytes:
        """The text format Prometheus scrapes."""
        return generate_latest(self.registry)


def _limit() -> int:
    try:
        return max(1, int(os.environ.get("SIROCCO_METRICS_MAX_LABEL_VALUES", "100")))
    except ValueError:
        return 100


#: This process's metrics.
METRICS = Metrics(_limit())
