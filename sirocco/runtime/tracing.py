"""OpenTelemetry traces of workflow executions, built from their records when they end.

One trace per root execution; a span per workflow execution, per task execution and
per action execution; a sub-workflow's span is the child of the task that started it.
The engine is pure and a step is a batch, so spans are not opened and closed around
code: when a step commits records that ended (a workflow, a task, an action), the
runtime makes their spans from the records' own times (created, started, finished).

Ids are derived from the records' ids, so that any process can name any span without
asking another: the trace id is the root execution's id (128 bits), a span id the low
64 bits of its record's id. The RunAction command carries the W3C ``traceparent`` of
its action's span (in its ``execution`` ids, so in the outbox row and in the broker's
message); the executor makes it current while the action runs and ``std.http`` sends
it as a header.

Off unless ``SIROCCO_TRACING`` is ``console`` (spans printed on standard error) or
``otlp`` (the OTLP/HTTP exporter of the ``[otlp]`` extra, set up by the standard
``OTEL_EXPORTER_OTLP_*`` variables; ``OTEL_SERVICE_NAME`` defaults to ``sirocco``,
``OTEL_TRACES_SAMPLER`` applies). When off, OpenTelemetry is not imported and a step
pays one test of a module global.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sirocco import errors
from sirocco.engine import commands, reasons
from sirocco.engine.states import COMPLETED, TERMINAL

log = logging.getLogger("sirocco.tracing")

MODES = ("none", "console", "otlp")
_EPOCH = datetime(1970, 1, 1)
_MASK64 = (1 << 64) - 1

#: The tracer of this process (None: tracing is off).
_tracer: Any = None
_provider: Any = None
_lock = threading.Lock()
#: The ids the next span takes (read by the id generator in the exporting thread).
_chosen = threading.local()


def enabled() -> bool:
    """Whether this process makes traces."""
    return _tracer is not None


# ---------------------------------------------------------------- ids


def trace_id(root_execution_id: str) -> int:
    """The trace id of a root execution and of everything below it."""
    return int(root_execution_id.replace("-", ""), 16) or 1


def span_id(record_id: str) -> int:
    """The span id of a workflow, task or action execution."""
    return int(record_id.replace("-", "")[-16:], 16) & _MASK64 or 1


def traceparent(root_execution_id: str, record_id: str) -> str:
    """The W3C ``traceparent`` of a record's span (sampled)."""
    return f"00-{trace_id(root_execution_id):032x}-{span_id(record_id):016x}-01"


def stamp(command: commands.RunAction, root_execution_id: str) -> commands.RunAction:
    """``command`` carrying the trace context of its action's span."""
    context = traceparent(root_execution_id, command.action_execution_id)
    return dataclasses.replace(command, execution={**command.execution, "traceparent": context})


# ---------------------------------------------------------------- spans from records


@dataclass(frozen=True, slots=True, kw_only=True)
class SpanRecord:
    """A span to export, made from a record that ended."""

    name: str
    trace_id: int
    span_id: int
    parent_span_id: int | None
    start: datetime
    end: datetime
    attributes: Mapping[str, str | int]
    error: str | None = None


def collect(writes: Any, roots: Mapping[str, str]) -> list[SpanRecord]:
    """The spans of what ``writes`` (a ``store.writer.Writes`` before its flush) ended;
    ``roots``: the root execution id of each execution the step touched. Never raises."""
    found: list[SpanRecord] = []
    try:
        for workflow in (*writes.new_workflows, *writes.workflow_updates):
            if workflow.state in TERMINAL:
                found.append(_workflow_span(workflow))
        for task in (*writes.new_tasks, *writes.task_updates):
            root = roots.get(task.workflow_execution_id)
            if task.state in COMPLETED and root is not None:
                found.append(_task_span(task, root))
        for action in (*writes.new_actions, *writes.action_updates):
            root = roots.get(action.workflow_execution_id or "")
            if action.state in COMPLETED and root is not None and action.task_execution_id:
                found.append(_action_span(action, root))
    except Exception:  # tracing never breaks a step
        log.exception("tracing: can't make the spans of a step")
    return found


def root_of(workflow: Any) -> str:
    """The root execution id of a workflow execution record."""
    return str(workflow.root_execution_id or workflow.id)


def _workflow_span(workflow: Any) -> SpanRecord:
    parent = workflow.task_execution_id
    return SpanRecord(
        name=f"workflow {workflow.workflow_name}",
        trace_id=trace_id(root_of(workflow)),
        span_id=span_id(workflow.id),
        parent_span_id=span_id(parent) if parent else None,
        start=workflow.created_at,
        end=workflow.updated_at or workflow.created_at,
        attributes={
            "sirocco.workflow_execution_id": workflow.id,
            "sirocco.workflow_name": workflow.workflow_name,
            "sirocco.state": str(workflow.state),
        },
        error=_error(workflow),
    )


def _task_span(task: Any, root: str) -> SpanRecord:
    return SpanRecord(
        name=f"task {task.name}",
        trace_id=trace_id(root),
        span_id=span_id(task.id),
        parent_span_id=span_id(task.workflow_execution_id),
        start=task.started_at or task.created_at,
        end=task.finished_at or task.updated_at or task.created_at,
        attributes={
            "sirocco.task_execution_id": task.id,
            "sirocco.task_name": task.name,
            "sirocco.state": str(task.state),
        },
        error=_error(task),
    )


def _action_span(action: Any, root: str) -> SpanRecord:
    return SpanRecord(
        name=f"action {action.name}",
        trace_id=trace_id(root),
        span_id=span_id(action.id),
        parent_span_id=span_id(action.task_execution_id),
        start=action.created_at,
        end=action.updated_at or action.created_at,
        attributes={
            "sirocco.action_execution_id": action.id,
            "sirocco.action_name": action.name,
            "sirocco.state": str(action.state),
            "sirocco.index": int(action.index),
            "sirocco.attempt": int(action.attempt),
        },
        error=_error(action),
    )


def _error(record: Any) -> str | None:
    if str(record.state) != "ERROR":
        return None
    return reasons.one_line(record.state_info) or "ERROR"


# ---------------------------------------------------------------- exporting


def export(spans: Iterable[SpanRecord]) -> None:
    """Hand spans to this process's exporter (nothing when tracing is off). Never raises."""
    tracer = _tracer
    if tracer is None:
        return
    try:
        _export(tracer, spans)
    except Exception:  # tracing never breaks a step
        log.exception("tracing: can't export spans")


def _export(tracer: Any, spans: Iterable[SpanRecord]) -> None:
    from opentelemetry import context as otel_context
    from opentelemetry import trace
    from opentelemetry.trace import NonRecordingSpan, SpanContext, Status, StatusCode, TraceFlags

    for item in spans:
        if item.parent_span_id is None:
            parent = otel_context.Context()  # a root span, whatever this thread runs
        else:
            remote = SpanContext(
                trace_id=item.trace_id,
                span_id=item.parent_span_id,
                is_remote=True,
                trace_flags=TraceFlags(TraceFlags.SAMPLED),
            )
            parent = trace.set_span_in_context(NonRecordingSpan(remote), otel_context.Context())
        _chosen.ids = (item.trace_id, item.span_id)
        try:
            span = tracer.start_span(
                item.name,
                context=parent,
                start_time=_nanoseconds(item.start),
                attributes=dict(item.attributes),
            )
        finally:
            _chosen.ids = None
        if item.error is not None:
            span.set_status(Status(StatusCode.ERROR, item.error))
        span.end(end_time=max(_nanoseconds(item.end), _nanoseconds(item.start)))


def _nanoseconds(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1) * 1000


def configure(mode: str | None) -> None:
    """Turn tracing on as ``mode`` says (``SIROCCO_TRACING``): ``none`` leaves it off."""
    mode = (mode or "none").strip().lower()
    if mode not in MODES:
        raise errors.ConfigurationError(
            f"SIROCCO_TRACING must be one of {', '.join(MODES)}, not {mode!r}"
        )
    if mode == "none" or enabled():
        return
    if mode == "console":
        import sys

        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        install(ConsoleSpanExporter(out=sys.stderr), batch=True)
        return
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    except ImportError:
        raise errors.ConfigurationError(
            "SIROCCO_TRACING=otlp needs the OTLP exporter: pip install 'sirocco[otlp]'"
        ) from None
    install(OTLPSpanExporter(), batch=True)


def install(exporter: Any, *, batch: bool = False) -> None:
    """Send this process's spans to ``exporter`` (an OpenTelemetry ``SpanExporter``; the
    tests give the SDK's in-memory one), one at a time or in batches."""
    global _tracer, _provider
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    named = os.environ.get("OTEL_SERVICE_NAME") or "service.name=" in os.environ.get(
        "OTEL_RESOURCE_ATTRIBUTES", ""
    )
    resource = Resource.create({} if named else {"service.name": "sirocco"})
    provider = TracerProvider(resource=resource, id_generator=_chosen_ids())
    processor = BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter)
    provider.add_span_processor(processor)
    with _lock:
        if _provider is not None:
            _provider.shutdown()
        _provider = provider
        _tracer = provider.get_tracer("sirocco")


def uninstall() -> None:
    """Flush and stop tracing (tests; a process's exit flushes by itself)."""
    global _tracer, _provider
    with _lock:
        provider, _provider, _tracer = _provider, None, None
    if provider is not None:
        provider.shutdown()


def _chosen_ids() -> Any:
    """An id generator that gives the ids :func:`_export` chose for the span it starts."""
    from opentelemetry.sdk.trace.id_generator import IdGenerator, RandomIdGenerator

    fallback = RandomIdGenerator()

    class ChosenIds(IdGenerator):  # type: ignore[misc]
        def generate_span_id(self) -> int:
            ids = getattr(_chosen, "ids", None)
            return ids[1] if ids else fallback.generate_span_id()

        def generate_trace_id(self) -> int:
            ids = getattr(_chosen, "ids", None)
            return ids[0] if ids else fallback.generate_trace_id()

    return ChosenIds()
