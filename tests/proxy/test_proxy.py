"""The execution proxy records every job, once, with the fields users rely on."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from circuit_fixtures import bell
from qiskit import ClassicalRegister, QuantumCircuit, transpile
from qiskit.primitives import BackendSamplerV2
from qiskit_aer import AerSimulator

from collector import InvalidInput, QuotaExceeded, ResultCorrupt, VirtualClock
from collector.cost import Pricing
from collector.proxy import ExecutionProxy
from collector.quotas import Quotas
from collector.recorder import SpoolRecorder
from collector.retry import RetryPolicy

from .backends import NotAuthorized, ScriptedBackend, ServiceUnavailable


def measured(n: int) -> QuantumCircuit:
    qc = QuantumCircuit(n, n)
    qc.measure(range(n), range(n))
    return qc


def proxy_for(backend, store, recorder, **kw):
    return ExecutionProxy(backend, store=store, recorder=recorder, **kw)


def test_run_is_recorded_with_fields(store, recorder):
    clock = VirtualClock(datetime(2026, 11, 16, 9, tzinfo=UTC))
    proxy = proxy_for(
        AerSimulator(),
        store,
        recorder,
        project="chem",
        tags={"experiment": "vqe-12"},
        clock=clock,
        pricing=Pricing(per_shot_usd=0.001),
    )
    job = proxy.run(transpile([bell(), bell()], proxy), shots=400)
    counts = job.result().get_counts()
    assert sum(counts[0].values()) == 400
    assert recorder.flush()
    [rec] = store.jobs()
    assert rec.status == "done" and rec.error_class is None
    assert (rec.backend, rec.project, rec.tags) == (
        "aer_simulator",
        "chem",
        {"experiment": "vqe-12"},
    )
    assert rec.shots == 400 and rec.num_circuits == 2 and rec.attempts == 1
    assert rec.provider_job_id == job.job_id()
    assert rec.submitted_at == clock.now()
    assert rec.run_seconds is not None and rec.run_seconds >= 0
    assert rec.cost_usd == pytest.approx(0.001 * 400 * 2)
    assert rec.idempotency_key
    assert len(rec.circuit_hash) == 64 and rec.max_qubits == 2 and rec.max_depth >= 3
    stored = store.counts(rec.id)
    assert len(stored) == 2 and sum(stored[0].values()) == 400
    assert set(stored[0]) <= {"00", "01", "10", "11"}


def test_same_circuits_same_hash(store, recorder):
    proxy = proxy_for(AerSimulator(), store, recorder)
    proxy.run(bell(), shots=10).result()
    other = bell()
    other.name = "renamed"
    proxy.run(other, shots=10).result()
    proxy.run(measured(1), shots=10).result()
    recorder.flush()
    hashes = [j.circuit_hash for j in store.jobs(newest_first=False)]
    assert hashes[0] == hashes[1] != hashes[2]


def test_transpile_and_sampler_through_proxy(store, recorder):
    proxy = proxy_for(AerSimulator(), store, recorder, project="p")
    sampler = BackendSamplerV2(backend=proxy)
    res = sampler.run([transpile(bell(), proxy)], shots=128).result()
    assert sum(res[0].data.meas.get_counts().values()) == 128
    recorder.flush()
    [rec] = store.jobs()
    assert rec.status == "done" and rec.shots == 128


def test_transient_failures_retried_into_one_record(store, recorder):
    clock = VirtualClock()
    backend = ScriptedBackend([ServiceUnavailable("503 Service Unavailable")] * 2)
    proxy = proxy_for(backend, store, recorder, clock=clock, retry=RetryPolicy(max_attempts=5))
    job = proxy.run(bell(), shots=50)
    assert sum(job.result().get_counts().values()) == 50
    recorder.flush()
    [rec] = store.jobs()
    assert (rec.status, rec.attempts, backend.run_calls) == ("done", 3, 3)
    assert len({rec.idempotency_key}) == 1


def test_auth_failure_never_retried(store, recorder):
    backend = ScriptedBackend([NotAuthorized("401 Unauthorized: invalid token")] * 3)
    proxy = proxy_for(backend, store, recorder, clock=VirtualClock())
    with pytest.raises(NotAuthorized):
        proxy.run(bell(), shots=10)
    recorder.flush()
    [rec] = store.jobs()
    assert (rec.status, rec.error_class, rec.attempts, backend.run_calls) == ("error", "auth", 1, 1)


def test_retry_budget_exhausted_gives_one_error_record(store, recorder):
    backend = ScriptedBackend([ServiceUnavailable("503")] * 10)
    proxy = proxy_for(
        backend, store, recorder, clock=VirtualClock(), retry=RetryPolicy(max_attempts=3)
    )
    with pytest.raises(ServiceUnavailable):
        proxy.run(bell(), shots=10)
    recorder.flush()
    [rec] = store.jobs()
    assert (rec.status, rec.error_class, rec.attempts) == ("error", "transient", 3)


@pytest.mark.parametrize(
    ("run_input", "shots", "field"),
    [
        ("not a circuit", 10, "circuits"),
        ([], 10, "circuits"),
        ([measured(1), "x"], 10, "circuits[1]"),
        (QuantumCircuit(1), 10, "circuits[0]"),
        (QuantumCircuit(1, 1), 10, "circuits[0]"),
        (measured(1), 0, "shots"),
        (measured(1), -5, "shots"),
        (measured(1), 2.5, "shots"),
    ],
)
def test_bad_input_fails_fast_and_records_nothing(store, recorder, run_input, shots, field):
    proxy = proxy_for(AerSimulator(), store, recorder)
    with pytest.raises(InvalidInput) as err:
        proxy.run(run_input, shots=shots)
    assert err.value.field == field and field in str(err.value)
    recorder.flush()
    assert store.jobs() == []


def test_a_circuit_stripped_of_its_measurements_is_checked_again(store, recorder):
    """The measurement check is cached per circuit; remove_final_measurements()
    replaces the circuit's instruction list, so the next run is checked again."""
    proxy = proxy_for(AerSimulator(), store, recorder)
    qc = measured(2)
    proxy.run(qc, shots=10).result()
    proxy.run(qc, shots=10).result()  # from the cache
    qc.remove_final_measurements()
    qc.add_register(ClassicalRegister(2))
    with pytest.raises(InvalidInput) as err:
        proxy.run(qc, shots=10)
    assert err.value.field == "circuits[0]"
    recorder.flush()
    assert len(store.jobs()) == 2


def test_shot_cap_rejects_before_submission(store, recorder):
    backend = ScriptedBackend()
    proxy = proxy_for(backend, store, recorder, quotas=Quotas(max_shots_per_job=1000))
    with pytest.raises(QuotaExceeded) as err:
        proxy.run([bell(), bell()], shots=600)
    assert "max_shots_per_job" in str(err.value) and "1200" in str(err.value)
    assert backend.run_calls == 0
    recorder.flush()
    [rec] = store.jobs()
    assert (rec.status, rec.error_class, rec.attempts) == ("error", "quota", 0)


def test_project_daily_spend_cap(store, recorder):
    clock = VirtualClock(datetime(2026, 11, 16, 9, tzinfo=UTC))
    proxy = proxy_for(
        AerSimulator(),
        store,
        recorder,
        project="chem",
        clock=clock,
        pricing=Pricing(per_shot_usd=0.01),
        quotas=Quotas(project_daily_spend_usd=25.0),
    )
    proxy.run(bell(), shots=1000).result()  # $10
    proxy.run(bell(), shots=1000).result()  # $20
    with pytest.raises(QuotaExceeded) as err:
        proxy.run(bell(), shots=1000)  # would be $30
    assert err.value.limit == "project_daily_spend_usd" and err.value.value == pytest.approx(30)
    clock.advance(86400)  # a new day
    proxy.run(bell(), shots=1000).result()


def test_corrupt_results_marked_and_raised(store, recorder):
    proxy = proxy_for(ScriptedBackend(corrupt="width"), store, recorder)
    job = proxy.run(bell(), shots=100)
    with pytest.raises(ResultCorrupt) as err:
        job.result()
    assert "width" in str(err.value)
    recorder.flush()
    [rec] = store.jobs()
    assert (rec.status, rec.error_class) == ("error", "result_corrupt")


def test_counts_off_the_shots_are_recorded_not_raised(store, recorder):
    proxy = proxy_for(ScriptedBackend(corrupt="sum"), store, recorder)
    job = proxy.run(bell(), shots=100)
    assert sum(job.result().get_counts().values()) == 99  # the provider's result, as is
    recorder.flush()
    [rec] = store.jobs()
    # Aer does not round its counts: one lost shot is a corrupt result (it pages),
    # recorded with the evidence, while the caller still gets what the backend gave.
    assert (rec.status, rec.error_class, rec.shots_discrepancy) == ("error", "result_corrupt", -1)
    assert "-1 shots off 100 x 1" in rec.error_message
    assert sum(store.counts(rec.id)[0].values()) == 99


def test_store_failure_never_breaks_the_call(store, tmp_path):
    rec = SpoolRecorder(store, tmp_path / "spool")
    rec.writer.close(remove=False)  # every spool write now fails
    proxy = ExecutionProxy(AerSimulator(), store=store, recorder=rec)
    assert sum(proxy.run(bell(), shots=10).result().get_counts().values()) == 10
    from collector.health import recorder_errors

    assert recorder_errors.snapshot().get("spool_full", 0) >= 1


def test_circuit_info_follows_in_place_changes():
    """The per-circuit cache must notice a circuit changed between submissions."""
    from collector.circuit_info import circuit_info

    qc = QuantumCircuit(2, 2)
    qc.h(0)
    qc.measure([0, 1], [0, 1])
    first = circuit_info([qc])
    assert circuit_info([qc]) == first
    qc.cx(0, 1)
    second = circuit_info([qc])
    assert second["circuit_hash"] != first["circuit_hash"]
    assert second["max_depth"] > first["max_depth"] and second["max_qubits"] == 2
