"""Real parts end to end: a simulated backend with injected faults, the execution proxy
recording through its spool into the store, and the signals evaluated on virtual time
every few minutes. Each fault must raise its alert while it lasts and nothing else."""

from __future__ import annotations

import contextlib
from datetime import timedelta

from qiskit import QuantumCircuit

from collector.clock import VirtualClock
from collector.proxy import ExecutionProxy
from collector.recorder import SpoolRecorder
from qsre.sim.backend import SimBackend
from qsre.sim.config import AuthFault, CorruptResultFault, OutageFault, QueueDelayFault

from .conftest import evaluate, kinds

HOUR = timedelta(hours=1)
MIN = timedelta(minutes=1)


def test_injected_faults_raise_their_alerts_and_only_then(store, t0, tmp_path) -> None:
    clock = VirtualClock(t0)
    faults = [
        CorruptResultFault(start=t0 + 20 * MIN, end=t0 + 30 * MIN, mode="drop_shots"),
        AuthFault(start=t0 + HOUR, end=t0 + HOUR + 30 * MIN),
        OutageFault(start=t0 + 2 * HOUR, end=t0 + 2 * HOUR + 30 * MIN),
        QueueDelayFault(start=t0 + 3 * HOUR, end=t0 + 4 * HOUR, extra_queue_seconds=1800.0),
    ]
    backend = SimBackend("sim-e2e", 2, clock=clock, faults=faults, seed=5)
    recorder = SpoolRecorder(store, tmp_path / "spool")
    proxy = ExecutionProxy(backend, store=store, clock=clock, recorder=recorder, project="team")
    qc = QuantumCircuit(2)
    qc.h(0)
    qc.cx(0, 1)
    qc.measure_all()
    end = t0 + 5 * HOUR
    t = t0
    while t < end:
        clock.set(t)
        # Injected faults fail the call, as intended; the proxy records them.
        with contextlib.suppress(Exception):
            proxy.run(qc, shots=100).result()
        t += 2 * MIN
    assert recorder.flush(30.0)
    recorder.close()

    timeline = {}
    now = t0 + 5 * MIN
    while now <= end:
        timeline[now] = {k for k, _ in kinds(evaluate(store, now))}
        now += 5 * MIN

    def firing(kind):
        return sorted(n for n, ks in timeline.items() if kind in ks)

    corrupt = firing("result_corruption")
    assert corrupt[0] <= t0 + 25 * MIN
    assert all(t0 + 20 * MIN <= n < t0 + 60 * MIN for n in corrupt)  # 30 min window
    auth = firing("auth_failure")
    assert auth[0] <= t0 + HOUR + 5 * MIN and auth[-1] <= t0 + HOUR + 60 * MIN
    assert all(t0 + HOUR <= n < t0 + HOUR + 60 * MIN for n in auth)
    down = firing("backend_down")
    assert down[0] <= t0 + 2 * HOUR + 10 * MIN
    assert all(t0 + 2 * HOUR < n <= t0 + 2 * HOUR + 40 * MIN for n in down)
    queue = firing("queue_overload")
    # Queued jobs finish 30 minutes late: the median of finished jobs shows it then.
    assert queue and queue[0] <= t0 + 3 * HOUR + 45 * MIN
    assert all(t0 + 3 * HOUR < n <= t0 + 4 * HOUR + 50 * MIN for n in queue)
    others = set().union(*timeline.values()) - {
        "result_corruption",
        "auth_failure",
        "backend_down",
        "queue_overload",
    }
    assert others == set()
