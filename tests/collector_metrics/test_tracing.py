"""Job spans built from snapshots, checked with the SDK's in-memory exporter."""

from __future__ import annotations

from datetime import timedelta

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from collector.exporter import RecorderErrors
from collector.records import Job
from collector.tracing import JobSpanEmitter, TracingError, configure_tracing, to_unix_ns

from .conftest import job


@pytest.fixture
def spans():
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return JobSpanEmitter(provider), exporter


def test_done_job_span_has_job_times_attributes_and_events(spans, t0):
    emitter, exporter = spans
    snap = job(
        "job-1",
        t0,
        shots=4000,
        queue_seconds=2.5,
        run_seconds=7.25,
        cost_usd=0.8,
        attempts=2,
        provider_job_id="prov-9",
        circuit_hash="abc123",
        max_qubits=5,
        calibration_at=t0 - timedelta(hours=3),
    )
    assert emitter.emit(snap) is True
    (span,) = exporter.get_finished_spans()
    assert span.kind == SpanKind.CLIENT
    assert span.start_time == to_unix_ns(t0)
    assert span.end_time == to_unix_ns(t0 + timedelta(seconds=9.75))
    assert span.status.status_code == StatusCode.OK
    a = span.attributes
    assert a["qsre.job.id"] == "job-1"
    assert a["qsre.backend"] == "aer" and a["qsre.project"] == "alpha"
    assert a["qsre.shots"] == 4000 and a["qsre.attempts"] == 2
    assert a["qsre.queue_seconds"] == 2.5 and a["qsre.run_seconds"] == 7.25
    assert a["qsre.cost_usd"] == 0.8
    assert a["qsre.provider_job_id"] == "prov-9" and a["qsre.circuit_hash"] == "abc123"
    assert a["qsre.calibration_at"] == (t0 - timedelta(hours=3)).isoformat()
    assert "qsre.error_class" not in a
    events = {e.name: e.timestamp for e in span.events}
    assert events == {
        "running": to_unix_ns(t0 + timedelta(seconds=2.5)),
        "finished": to_unix_ns(t0 + timedelta(seconds=9.75)),
    }


def test_failed_job_span_has_error_status_and_class(spans, t0):
    emitter, exporter = spans
    snap = job("job-2", t0, status="error", error_class="auth", error_message="401 Unauthorized")
    # Snapshots from the spool carry ISO strings.
    snap = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in snap.items()}
    emitter.emit(snap)
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code == StatusCode.ERROR
    assert span.status.description == "auth: 401 Unauthorized"
    assert span.attributes["qsre.error_class"] == "auth"
    assert span.attributes["error.type"] == "auth"
    assert span.start_time == to_unix_ns(t0)


def test_stored_job_record_is_accepted(spans, t0):
    emitter, exporter = spans
    rec = Job(
        id="j",
        backend="b",
        project="",
        status="cancelled",
        submitted_at=t0,
        finished_at=t0 + timedelta(seconds=1),
    )
    assert emitter.emit(rec)
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code == StatusCode.UNSET
    assert span.end_time - span.start_time == 1_000_000_000
    assert "qsre.project" not in span.attributes


def test_bad_snapshot_is_logged_and_counted_never_raised(spans, t0):
    emitter, exporter = spans
    errors = RecorderErrors()
    emitter.on_error = errors.inc
    assert emitter.emit({"id": "x", "submitted_at": "not a date"}) is False
    assert emitter.emit(object()) is False
    assert errors.snapshot()["span"] == 2
    assert exporter.get_finished_spans() == ()


class _Exploding(SpanExporter):
    def __init__(self):
        self.calls = 0

    def export(self, spans):
        self.calls += 1
        raise ConnectionError("collector down")

    def shutdown(self):
        pass


def test_failing_exporter_never_reaches_the_caller(t0):
    exploding = _Exploding()
    provider = configure_tracing("qsre-test", span_exporters=[exploding])
    emitter = JobSpanEmitter(provider)
    for i in range(5):
        assert emitter.emit(job(f"j{i}", t0)) is True
    provider.force_flush(5000)
    provider.shutdown()
    assert exploding.calls >= 1


def test_configure_tracing_batches_to_given_exporters(t0):
    memory = InMemorySpanExporter()
    provider = configure_tracing("svc", span_exporters=[memory])
    JobSpanEmitter(provider).emit(job("j", t0))
    provider.force_flush(5000)
    (span,) = memory.get_finished_spans()
    assert span.resource.attributes["service.name"] == "svc"
    provider.shutdown()


def test_otlp_without_extra_is_a_clear_error():
    try:
        import opentelemetry.exporter.otlp.proto.http.trace_exporter  # noqa: F401
    except ImportError:
        with pytest.raises(TracingError, match=r"otlp"):
            configure_tracing(otlp_endpoint="http://127.0.0.1:4318/v1/traces")
    else:
        provider = configure_tracing(otlp_endpoint="http://127.0.0.1:4318/v1/traces")
        provider.shutdown()
