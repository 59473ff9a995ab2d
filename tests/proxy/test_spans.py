"""One OpenTelemetry CLIENT span per proxied job, emitted off the call path."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from qiskit import QuantumCircuit
from qiskit_aer import AerSimulator

from collector import ExecutionProxy, VirtualClock
from collector.recorder import SpoolRecorder

from .backends import NotAuthorized, ScriptedBackend


def test_each_job_gets_one_client_span(store, tmp_path):
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    rec = SpoolRecorder(store, tmp_path / "spool")
    clock = VirtualClock(datetime(2026, 11, 16, 9, tzinfo=UTC))
    ok = ExecutionProxy(
        AerSimulator(),
        store=store,
        recorder=rec,
        project="chem",
        clock=clock,
        tracer_provider=provider,
    )
    qc = QuantumCircuit(1, 1)
    qc.measure(0, 0)
    job = ok.run(qc, shots=10)
    assert not exporter.get_finished_spans()  # nothing on the call path
    job.result()
    failing = ExecutionProxy(
        ScriptedBackend([NotAuthorized("401")]), store=store, recorder=rec, clock=clock
    )
    with pytest.raises(NotAuthorized):
        failing.run(qc, shots=10)
    rec.flush()
    spans = exporter.get_finished_spans()
    assert len(spans) == 2
    by_backend = {s.attributes["qsre.backend"]: s for s in spans}
    good = by_backend["aer_simulator"]
    assert good.kind == SpanKind.CLIENT
    assert good.attributes["qsre.job.id"] == job.qsre_job_id
    assert good.attributes["qsre.project"] == "chem"
    assert good.start_time == int(clock.now().timestamp() * 1e9)
    bad = by_backend["scripted_aer"]
    assert bad.status.status_code == StatusCode.ERROR
    # The store links each job to its trace: the id Jaeger/Tempo would show.
    for span in spans:
        (stored,) = store.find_jobs(span.attributes["qsre.job.id"])
        assert stored.trace_id == format(span.context.trace_id, "032x")
    rec.close()


def test_no_trace_id_without_spans(store, tmp_path):
    rec = SpoolRecorder(store, tmp_path / "spool")
    proxy = ExecutionProxy(AerSimulator(), store=store, recorder=rec)
    qc = QuantumCircuit(1, 1)
    qc.measure(0, 0)
    job = proxy.run(qc, shots=10)
    job.result()
    rec.flush()
    (stored,) = store.find_jobs(job.qsre_job_id)
    assert stored.trace_id is None
    rec.close()
