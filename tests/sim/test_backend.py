from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from qiskit import QuantumCircuit, transpile
from qiskit.primitives import BackendSamplerV2
from qiskit.providers import JobStatus
from qiskit_aer.noise import NoiseModel

from collector.clock import VirtualClock
from qsre.sim.backend import SimBackend
from qsre.sim.config import (
    AuthFault,
    CorruptResultFault,
    OutageFault,
    OutOfMemoryFault,
    PeriodicDrift,
    QueueDelayFault,
    StepDrift,
    TransientFault,
)
from qsre.sim.errors import (
    InjectedAuthError,
    InjectedBackendOutage,
    InjectedResourceExhausted,
    InjectedTransientError,
)
from qsre.sim.noise_params import NoiseParams

START = datetime(2026, 1, 5, 9, tzinfo=UTC)
HOUR = timedelta(hours=1)


def readout0(n: int = 5) -> QuantumCircuit:
    qc = QuantumCircuit(n, n)
    qc.measure(range(n), range(n))
    return qc


def flip_rate(counts: dict[str, int]) -> float:
    shots = sum(counts.values())
    return sum(k.count("1") * v for k, v in counts.items()) / (shots * len(next(iter(counts))))


def test_target_reports_calibration_and_aer_reads_it() -> None:
    noise = NoiseParams(sq_error=1e-3, cx_error=2e-2, readout_error=3e-2, t1_us=100, t2_us=80)
    backend = SimBackend("cal", 5, clock=VirtualClock(START), noise=noise)
    t = backend.target
    assert t["cx"][(0, 1)].error == 2e-2 and t["sx"][(3,)].error == 1e-3
    assert t["measure"][(2,)].error == 3e-2
    assert t.qubit_properties[0].t1 == pytest.approx(100e-6)
    assert backend.target is t  # cached within a calibration epoch
    model = NoiseModel.from_backend(backend)
    assert "cx" in model.noise_instructions
    qc = QuantumCircuit(3, 3)
    qc.h(0)
    qc.cx(0, 2)
    qc.measure(range(3), range(3))
    compiled = transpile(qc, backend, initial_layout=[0, 1, 2])
    assert set(compiled.count_ops()) <= {"rz", "sx", "x", "cx", "measure", "barrier"}


def test_recalibration_daily_and_at_reported_steps() -> None:
    clock = VirtualClock(START)
    step_at = START + 3 * HOUR
    backend = SimBackend(
        "recal",
        clock=clock,
        calibration_offset_s=2 * 3600,
        drift=[
            StepDrift(param="cx_error", at=step_at, to=0.05, reported=True),
            StepDrift(param="readout_error", at=START + 5 * HOUR, to=0.2, reported=False),
        ],
    )
    assert backend.last_calibrated_at == datetime(2026, 1, 5, 2, tzinfo=UTC)
    old_target = backend.target
    clock.set(step_at)
    assert backend.last_calibrated_at == step_at
    assert backend.target is not old_target and backend.target["cx"][(0, 1)].error == 0.05
    clock.set(START + 6 * HOUR)  # unreported step: calibration silent, device not
    assert backend.last_calibrated_at == step_at
    assert backend.target["measure"][(0,)].error == 0.02
    assert backend.actual_params().readout_error == 0.2
    counts = backend.run(readout0(), shots=4000, seed_simulator=1).result().get_counts()
    assert flip_rate(counts) == pytest.approx(0.2, abs=0.01)
    clock.set(datetime(2026, 1, 6, 2, tzinfo=UTC))
    assert backend.last_calibrated_at == datetime(2026, 1, 6, 2, tzinfo=UTC)


def test_periodic_unreported_drift_moves_actual_noise_only() -> None:
    clock = VirtualClock(START)
    backend = SimBackend(
        "periodic",
        clock=clock,
        drift=[
            PeriodicDrift(param="readout_error", start=START, amplitude=0.01, period_s=4 * 3600)
        ],
    )
    values = []
    for _ in range(4):
        values.append(backend.actual_params().readout_error)
        assert backend.reported_params().readout_error == 0.02
        clock.advance(3600)
    assert values == pytest.approx([0.02, 0.03, 0.02, 0.01], abs=1e-9)


def test_metrics_and_status_follow_virtual_time_with_queue_fault() -> None:
    clock = VirtualClock(START)
    backend = SimBackend(
        "queue",
        clock=clock,
        queue_seconds=2.0,
        shot_seconds=1e-3,
        overhead_seconds=0.5,
        faults=[QueueDelayFault(start=START + HOUR, end=START + 2 * HOUR, extra_queue_seconds=600)],
    )
    job = backend.run(readout0(2), shots=1000)
    assert clock.now() == START  # the sim never moves the clock
    ts = job.metrics()["timestamps"]
    assert datetime.fromisoformat(ts["created"]) == START
    assert datetime.fromisoformat(ts["running"]) == START + timedelta(seconds=2)
    assert datetime.fromisoformat(ts["finished"]) == START + timedelta(seconds=3.5)
    assert job.metrics()["usage"]["quantum_seconds"] == pytest.approx(1.5)
    assert job.status() is JobStatus.QUEUED
    clock.advance(2.5)
    assert job.status() is JobStatus.RUNNING
    clock.advance(1.0)
    assert job.status() is JobStatus.DONE
    assert sum(job.result().get_counts().values()) == 1000

    clock.set(START + HOUR)
    spiked = backend.run(readout0(2), shots=1000).metrics()["timestamps"]
    queue_s = (
        datetime.fromisoformat(spiked["running"]) - datetime.fromisoformat(spiked["created"])
    ).total_seconds()
    assert queue_s == 602.0
    clock.set(START + 2 * HOUR)  # end is exclusive
    after = backend.run(readout0(2), shots=1000).metrics()["timestamps"]
    assert datetime.fromisoformat(after["running"]) - clock.now() == timedelta(seconds=2)


def test_transient_errors_only_inside_window_and_classified() -> None:
    clock = VirtualClock(START)
    backend = SimBackend(
        "blips",
        clock=clock,
        faults=[
            TransientFault(start=START + HOUR, end=START + 2 * HOUR, probability=1.0),
            TransientFault(start=START + 3 * HOUR, end=START + 4 * HOUR, when="result"),
        ],
    )
    backend.run(readout0(1), shots=10).result()
    clock.set(START + HOUR)
    with pytest.raises(ConnectionError) as info:
        backend.run(readout0(1), shots=10)
    assert isinstance(info.value, InjectedTransientError)
    assert info.value.qsre_error_class == "transient" and "503 Service Unavailable" in str(
        info.value
    )
    clock.set(START + 3 * HOUR)
    job = backend.run(readout0(1), shots=10)
    with pytest.raises(InjectedTransientError):
        job.result()
    clock.advance(60)
    assert job.status() is JobStatus.ERROR
    clock.set(START + 4 * HOUR)
    assert sum(backend.run(readout0(1), shots=10).result().get_counts().values()) == 10


def test_transient_probability_is_seeded() -> None:
    def failures(seed: int) -> int:
        backend = SimBackend(
            "p",
            clock=VirtualClock(START),
            seed=seed,
            faults=[TransientFault(start=START, probability=0.3)],
        )
        n = 0
        for _ in range(200):
            try:
                backend.run(readout0(1), shots=1)
            except InjectedTransientError:
                n += 1
        return n

    assert failures(5) == failures(5)
    assert 40 <= failures(5) <= 80


def test_auth_failure_window() -> None:
    clock = VirtualClock(START)
    backend = SimBackend(
        "auth", clock=clock, faults=[AuthFault(start=START + HOUR, end=START + 2 * HOUR)]
    )
    backend.run(readout0(1), shots=1)
    clock.set(START + HOUR + timedelta(minutes=30))
    with pytest.raises(InjectedAuthError) as info:
        backend.run(readout0(1), shots=1)
    assert info.value.qsre_error_class == "auth"
    assert "401 Unauthorized: invalid token" in str(info.value)
    clock.set(START + 2 * HOUR)
    backend.run(readout0(1), shots=1)


def test_outage_fails_every_call_then_recovers() -> None:
    clock = VirtualClock(START)
    backend = SimBackend(
        "down", clock=clock, faults=[OutageFault(start=START + HOUR, end=START + 2 * HOUR)]
    )
    job = backend.run(readout0(1), shots=5)
    clock.set(START + HOUR)
    for call in (lambda: backend.run(readout0(1), shots=5), job.result, job.status):
        with pytest.raises(InjectedBackendOutage) as info:
            call()
        assert info.value.qsre_error_class == "backend"
    clock.set(START + 2 * HOUR)
    assert sum(job.result().get_counts().values()) == 5


@pytest.mark.parametrize("mode", ["drop_shots", "wrong_width"])
def test_corrupted_results(mode: str) -> None:
    clock = VirtualClock(START)
    backend = SimBackend(
        "corrupt",
        clock=clock,
        faults=[CorruptResultFault(start=START + HOUR, end=START + 2 * HOUR, mode=mode)],
    )
    clean = backend.run(readout0(3), shots=1000).result().get_counts()
    assert sum(clean.values()) == 1000 and {len(k) for k in clean} == {3}
    clock.set(START + HOUR)
    counts = backend.run(readout0(3), shots=1000).result().get_counts()
    if mode == "drop_shots":
        assert sum(counts.values()) < 1000
    else:
        assert sum(counts.values()) == 1000 and {len(k) for k in counts} == {4}


def test_out_of_memory_fails_jobs_the_way_aer_does_and_is_recorded_as_resource(
    tmp_path,
) -> None:
    """F8: the job is accepted, ends in ERROR, and result() raises Aer's "Insufficient
    memory"; through the proxy it is one failed job of error class resource (not a
    job left queued, not the caller's invalid input)."""
    from sqlalchemy import select

    from collector.proxy import ExecutionProxy
    from collector.recorder import spool_recorder
    from collector.schema import JobRow
    from collector.store import Store

    clock = VirtualClock(START)
    backend = SimBackend(
        "oom",
        clock=clock,
        faults=[OutOfMemoryFault(start=START + HOUR, end=START + 2 * HOUR, min_qubits=3)],
    )
    assert sum(backend.run(readout0(3), shots=10).result().get_counts().values()) == 10
    clock.set(START + HOUR)
    small = backend.run(readout0(2), shots=10)  # fits: fewer than min_qubits
    assert sum(small.result().get_counts().values()) == 10
    job = backend.run(readout0(3), shots=10)
    with pytest.raises(InjectedResourceExhausted, match="Insufficient memory to run circuit"):
        job.result()
    assert job.status() is JobStatus.ERROR

    store = Store(f"sqlite:///{tmp_path / 'q.db'}")
    recorder = spool_recorder(store)
    proxy = ExecutionProxy(backend, store=store, project="p", clock=clock, recorder=recorder)
    with pytest.raises(InjectedResourceExhausted):
        proxy.run(readout0(3), shots=10).result()
    recorder.flush()
    with store.engine.connect() as conn:
        rows = conn.execute(select(JobRow.status, JobRow.error_class)).all()
    assert rows == [("error", "resource")]
    clock.set(START + 2 * HOUR)
    assert sum(backend.run(readout0(3), shots=10).result().get_counts().values()) == 10


def test_sampler_primitive_runs_on_the_sim() -> None:
    backend = SimBackend(
        "sampler",
        clock=VirtualClock(START),
        noise=NoiseParams(readout_error=0.0, cx_error=0.0, sq_error=0.0),
    )
    qc = QuantumCircuit(2)
    qc.h(0)
    qc.cx(0, 1)
    qc.measure_all()
    compiled = transpile(qc, backend, initial_layout=[1, 2])
    res = BackendSamplerV2(backend=backend).run([compiled], shots=500).result()
    counts = res[0].data.meas.get_counts()
    assert set(counts) == {"00", "11"} and sum(counts.values()) == 500


def test_run_rejects_oversized_circuits() -> None:
    backend = SimBackend("small", 3, clock=VirtualClock(START))
    with pytest.raises(ValueError, match="num_qubits"):
        backend.run(readout0(4), shots=1)
