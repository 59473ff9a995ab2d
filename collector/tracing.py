"""One OpenTelemetry CLIENT span per job, built after the fact from a job snapshot.

The span is created from the finished job's recorded timestamps (explicit
``start_time``/``end_time``), so nothing is opened around the user's backend call
and no latency is added to it: the proxy hands the terminal snapshot to
``JobSpanEmitter.emit`` (about 20-40 µs), and the ``BatchSpanProcessor`` exports in
its own thread. A failing exporter is logged by the SDK and never reaches the caller;
``emit`` itself swallows and counts its own failures.

Attributes live in the ``qsre.`` namespace (``qsre.job.id``, ``qsre.backend``, ...):
job ids and circuit hashes belong here, never in metric labels.

A job's span is the root of its own trace, and its trace id is a pure function of
the job id (``job_trace_id``): the store's ``jobs.trace_id``, the dashboards' trace
links and ``qsre jobs show`` can name the trace without waiting for the span.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SpanExporter,
)
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.trace import SpanKind, Status, StatusCode

from collector import health
from collector.errors import CollectorError
from collector.ids import job_trace_id

log = logging.getLogger(__name__)

SPAN_NAME = "qsre.job"
INSTRUMENTATION_NAME = "qsre.collector"
# Statuses that mean the job failed (cancelled is a user decision, not an error).
ERROR_STATUSES = frozenset({"error", "unknown"})
_MAX_MESSAGE_CHARS = 1000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# snapshot field -> span attribute; values that are None are left out.
_ATTRIBUTES: tuple[tuple[str, str], ...] = (
    ("id", "qsre.job.id"),
    ("backend", "qsre.backend"),
    ("project", "qsre.project"),
    ("status", "qsre.status"),
    ("purpose", "qsre.purpose"),
    ("error_class", "qsre.error_class"),
    ("shots", "qsre.shots"),
    ("queue_seconds", "qsre.queue_seconds"),
    ("run_seconds", "qsre.run_seconds"),
    ("e2e_seconds", "qsre.e2e_seconds"),
    ("attempts", "qsre.attempts"),
    ("cost_usd", "qsre.cost_usd"),
    ("provider_job_id", "qsre.provider_job_id"),
    ("num_circuits", "qsre.num_circuits"),
    ("max_qubits", "qsre.max_qubits"),
    ("max_depth", "qsre.max_depth"),
    ("circuit_hash", "qsre.circuit_hash"),
    ("idempotency_key", "qsre.idempotency_key"),
)


class _JobTraceIds(IdGenerator):
    """The SDK tracer's id generator, except that a job span's trace id is the one
    ``job_trace_id`` names (set per thread around ``start_span``)."""

    def __init__(self, base: IdGenerator) -> None:
        self.base = base
        self.pending = threading.local()

    def generate_span_id(self) -> int:
        return self.base.generate_span_id()

    def generate_trace_id(self) -> int:
        trace_id = getattr(self.pending, "trace_id", None)
        return trace_id if trace_id is not None else self.base.generate_trace_id()


class TracingError(CollectorError):
    """Tracing could not be configured as asked (e.g. the ``otlp`` extra is missing)."""


def _as_datetime(value: Any, field: str) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError as exc:
            raise TracingError(
                f"job snapshot field {field}={value!r}: expected an ISO-8601 datetime"
            ) from exc
    if not isinstance(value, datetime):
        raise TracingError(f"job snapshot field {field}={value!r}: expected a datetime")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def to_unix_ns(when: datetime) -> int:
    """Exact nanoseconds since the epoch (no float rounding of microseconds)."""
    return ((when - _EPOCH) // timedelta(microseconds=1)) * 1000


def _snapshot_dict(job: Any) -> Mapping[str, Any]:
    if isinstance(job, Mapping):
        return job
    to_dict = getattr(job, "to_dict", None)
    if callable(to_dict):
        return to_dict()
    raise TracingError(f"job snapshot {job!r}: expected a mapping or a collector Job")


class JobSpanEmitter:
    """Turns terminal job snapshots into CLIENT spans on ``tracer_provider``.

    With no provider, the globally configured one is used (a no-op until
    ``configure_tracing`` or the application sets one). ``on_error`` is called with
    the recorder name ``"span"`` when a span could not be built (default: the
    process-wide ``collector.health.recorder_errors.inc``); the caller's code path
    never sees the exception.
    """

    def __init__(
        self,
        tracer_provider: trace.TracerProvider | None = None,
        *,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        provider = tracer_provider or trace.get_tracer_provider()
        self.tracer = provider.get_tracer(INSTRUMENTATION_NAME)
        self.on_error = on_error if on_error is not None else health.recorder_errors.inc
        # The SDK's Tracer draws trace ids from its own id_generator (one Tracer per
        # get_tracer call, so this one is ours); other tracers record nothing anyway.
        base = getattr(self.tracer, "id_generator", None)
        self._trace_ids = _JobTraceIds(base) if isinstance(base, IdGenerator) else None
        if self._trace_ids is not None:
            self.tracer.id_generator = self._trace_ids  # type: ignore[attr-defined]

    def emit(self, job: Mapping[str, Any] | Any) -> bool:
        """Record one span for a finished job. Returns False (and logs) if it could not."""
        try:
            self._emit(_snapshot_dict(job))
            return True
        except Exception:  # noqa: BLE001 - telemetry never breaks the user's call
            job_id = job.get("id") if isinstance(job, Mapping) else getattr(job, "id", None)
            log.exception("could not emit a span for job %r", job_id)
            try:
                self.on_error("span")
            except Exception:  # noqa: BLE001
                log.exception("span error callback failed")
            return False

    def _emit(self, snap: Mapping[str, Any]) -> None:
        submitted = _as_datetime(snap.get("submitted_at"), "submitted_at")
        if submitted is None:
            raise TracingError("job snapshot field submitted_at=None: expected a datetime")
        started = _as_datetime(snap.get("started_at"), "started_at")
        finished = _as_datetime(snap.get("finished_at"), "finished_at")
        if started is None and snap.get("queue_seconds") is not None:
            started = submitted + timedelta(seconds=float(snap["queue_seconds"]))
        if finished is None and snap.get("e2e_seconds") is not None:
            finished = submitted + timedelta(seconds=float(snap["e2e_seconds"]))
        end = finished or started or submitted
        attributes: dict[str, Any] = {}
        for field, key in _ATTRIBUTES:
            value = snap.get(field)
            if value is None or value == "":
                continue
            attributes[key] = value if isinstance(value, bool | int | float | str) else str(value)
        calibration = _as_datetime(snap.get("calibration_at"), "calibration_at")
        if calibration is not None:
            attributes["qsre.calibration_at"] = calibration.isoformat()
        if snap.get("error_class"):
            attributes["error.type"] = str(snap["error_class"])
        if self._trace_ids is not None and snap.get("id"):
            self._trace_ids.pending.trace_id = int(job_trace_id(str(snap["id"])), 16)
        try:
            span = self.tracer.start_span(
                SPAN_NAME,
                # An empty context: the job span is the root of its own trace, whatever
                # span the shipper's thread may be in.
                context=Context(),
                kind=SpanKind.CLIENT,
                start_time=to_unix_ns(submitted),
                attributes=attributes,
            )
        finally:
            if self._trace_ids is not None:
                self._trace_ids.pending.trace_id = None
        if started is not None:
            span.add_event("running", timestamp=to_unix_ns(started))
        if finished is not None:
            span.add_event(
                "finished", {"qsre.status": str(snap.get("status"))}, to_unix_ns(finished)
            )
        status = str(snap.get("status") or "")
        if status in ERROR_STATUSES:
            message = str(snap.get("error_message") or "")[:_MAX_MESSAGE_CHARS]
            error_class = snap.get("error_class") or "unknown"
            description = f"{error_class}: {message}" if message else str(error_class)
            span.set_status(Status(StatusCode.ERROR, description))
        elif status == "done":
            span.set_status(Status(StatusCode.OK))
        span.end(end_time=to_unix_ns(end))


def configure_tracing(
    service_name: str = "qsre",
    otlp_endpoint: str | None = None,
    console: bool = False,
    *,
    span_exporters: Sequence[SpanExporter] = (),
) -> TracerProvider:
    """A TracerProvider with one BatchSpanProcessor per exporter.

    ``otlp_endpoint`` (e.g. ``http://collector:4318/v1/traces``) needs the ``otlp``
    extra (``pip install 'qsre[otlp]'``); it is imported only when asked for.
    The provider is returned, not installed globally: pass it to ``JobSpanEmitter``
    (or call ``opentelemetry.trace.set_tracer_provider`` in the application).
    """
    exporters: list[SpanExporter] = list(span_exporters)
    if otlp_endpoint:
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        except ImportError as exc:
            raise TracingError(
                f"otlp_endpoint={otlp_endpoint!r} needs the OTLP HTTP exporter: install the "
                "'otlp' extra (pip install 'qsre[otlp]', i.e. "
                "opentelemetry-exporter-otlp-proto-http)"
            ) from exc
        exporters.append(OTLPSpanExporter(endpoint=otlp_endpoint))
    if console:
        exporters.append(ConsoleSpanExporter())
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    for exporter in exporters:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def enable_tracing(tracer_provider: Any = None) -> JobSpanEmitter:
    """One CLIENT span per finished job from every proxy of this process.

    Spans are emitted by the shipper thread from the spooled lifecycle events, with
    the job's own start/end times, so they add no latency to the user's call.
    Returns the emitter (``enable_tracing(None)`` uses the global tracer provider).
    """
    from collector.recorder import set_default_span_sink

    emitter = JobSpanEmitter(tracer_provider)
    set_default_span_sink(emitter.emit)
    return emitter


def disable_tracing() -> None:
    from collector.recorder import set_default_span_sink

    set_default_span_sink(None)
