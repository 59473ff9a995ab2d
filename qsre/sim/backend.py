"""A simulated quantum backend whose noise drifts in (virtual) time and which can be
told to misbehave: the world `qsre demo`, the tests and game days run against.

``SimBackend`` is a real ``BackendV2``: ``transpile(qc, sim)`` and
``NoiseModel.from_backend(sim)`` work, and its ``target`` reports the calibration
*as last measured* (reported drift only, frozen at ``last_calibrated_at``), while
``run`` simulates the noise that is *actually* present now (all drift, firmware bug).
The backend never advances the clock; job timestamps are computed in virtual time.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from qiskit import QuantumCircuit
from qiskit.providers import BackendV2, JobStatus, JobV1, Options
from qiskit.result import Result
from qiskit.transpiler import Target
from qiskit_aer import AerSimulator

from collector.clock import Clock, SystemClock, sleep_on
from qsre.sim.config import (
    AuthFault,
    CorruptResultFault,
    FirmwareBugFault,
    OutageFault,
    OutOfMemoryFault,
    QueueDelayFault,
    TransientFault,
)
from qsre.sim.drift import Drift, last_calibration, params_at
from qsre.sim.errors import (
    InjectedAuthError,
    InjectedBackendOutage,
    InjectedResourceExhausted,
    InjectedTransientError,
    SimConfigError,
)
from qsre.sim.faults import Fault, active, apply_firmware_bug, corrupt_result, firmware_affects
from qsre.sim.noise import build_noise_model, build_target
from qsre.sim.noise_params import NoiseParams

_AER_RUN_OPTIONS = ("shots", "memory", "seed_simulator")


class SimJob(JobV1):
    """A finished simulation presented on a virtual timeline.

    ``status()`` follows virtual time (QUEUED until ``running``, RUNNING until
    ``finished``); ``result()`` of a job that succeeds never blocks, since the
    simulation already ran. A job that fails raises from ``result()`` only once it has
    ended (the clock sleeps until ``finished``, advancing a virtual clock), as a
    provider's blocking ``result()`` does: its status is then ERROR, which is what
    tells a caller that the error is the job's outcome and not a failed fetch.
    """

    def __init__(
        self,
        backend: SimBackend,
        job_id: str,
        result: Result | None,
        error: Exception | None,
        created: datetime,
        running: datetime,
        finished: datetime,
    ) -> None:
        super().__init__(backend, job_id)
        self._result = result
        self._error = error
        self.created_at = created
        self.running_at = running
        self.finished_at = finished

    def submit(self) -> None:
        raise RuntimeError(f"job {self.job_id()} was submitted by SimBackend.run already")

    def _sim(self) -> SimBackend:
        backend = self.backend()
        assert isinstance(backend, SimBackend)
        return backend

    def status(self) -> JobStatus:
        sim = self._sim()
        now = sim.clock.now()
        sim.check_outage(now)
        if now < self.running_at:
            return JobStatus.QUEUED
        if now < self.finished_at:
            return JobStatus.RUNNING
        return JobStatus.ERROR if self._error is not None else JobStatus.DONE

    def result(self) -> Result:
        clock = self._sim().clock
        self._sim().check_outage(clock.now())
        if self._error is not None:
            sleep_on(clock, (self.finished_at - clock.now()).total_seconds())
            raise self._error
        assert self._result is not None
        return self._result

    def metrics(self) -> dict[str, Any]:
        """IBM-runtime-like timestamps (virtual time) and usage."""
        return {
            "timestamps": {
                "created": self.created_at.isoformat(),
                "running": self.running_at.isoformat(),
                "finished": self.finished_at.isoformat(),
            },
            "usage": {
                "quantum_seconds": (self.finished_at - self.running_at).total_seconds(),
            },
        }


class SimBackend(BackendV2):
    """A simulated device; see the module docstring for reported vs actual noise."""

    def __init__(
        self,
        name: str,
        num_qubits: int = 5,
        *,
        clock: Clock | None = None,
        seed: int = 0,
        noise: NoiseParams | None = None,
        drift: Sequence[Drift] = (),
        faults: Sequence[Fault] = (),
        calibration_interval_s: float = 86400.0,
        calibration_offset_s: float = 0.0,
        queue_seconds: float = 2.0,
        shot_seconds: float = 2e-4,
        overhead_seconds: float = 1.0,
        noise_resolution_s: float = 60.0,
    ) -> None:
        super().__init__(name=name, description=f"qsre simulated backend {name}")
        if not 1 <= num_qubits <= 12:
            raise SimConfigError("num_qubits", num_qubits, "1..12 (density-matrix simulation)")
        self.clock: Clock = clock or SystemClock()
        start = self.clock.now()
        # Unresolved '+1d' offsets count from construction time.
        self.drift: tuple[Drift, ...] = tuple(d.resolved(start) for d in drift)
        self.faults: tuple[Fault, ...] = tuple(f.resolved(start) for f in faults)
        self.base_noise = noise or NoiseParams()
        self._num_qubits = num_qubits
        self.calibration_interval_s = calibration_interval_s
        self.calibration_offset_s = calibration_offset_s
        self.queue_seconds = queue_seconds
        self.shot_seconds = shot_seconds
        self.overhead_seconds = overhead_seconds
        self.noise_resolution_s = noise_resolution_s
        self._rng = np.random.default_rng(seed)
        self._lock = threading.Lock()
        self._job_count = 0
        self._targets: OrderedDict[datetime, Target] = OrderedDict()
        self._simulators: OrderedDict[tuple[float, ...], AerSimulator] = OrderedDict()

    # --- calibration (what the backend reports) -------------------------------------

    @property
    def last_calibrated_at(self) -> datetime:
        """When the reported calibration was last taken (aware UTC)."""
        return last_calibration(
            self.clock.now(), self.calibration_interval_s, self.calibration_offset_s, self.drift
        )

    def reported_params(self, when: datetime | None = None) -> NoiseParams:
        """Parameters the calibration reports: reported drift frozen at the last recalibration."""
        when = when or self.clock.now()
        calibrated = last_calibration(
            when, self.calibration_interval_s, self.calibration_offset_s, self.drift
        )
        return params_at(self.base_noise, [d for d in self.drift if d.reported], calibrated)

    def actual_params(self, when: datetime | None = None) -> NoiseParams:
        """Parameters the hardware really has: every drift, reported or not, at ``when``."""
        when = when or self.clock.now()
        # Continuous drift is sampled on a grid so the noise-model cache stays useful.
        epoch_s = when.timestamp()
        grid_s = epoch_s - epoch_s % self.noise_resolution_s
        return params_at(self.base_noise, self.drift, when - timedelta(seconds=epoch_s - grid_s))

    @property
    def target(self) -> Target:
        calibrated = self.last_calibrated_at
        with self._lock:
            target = self._targets.get(calibrated)
            if target is None:
                target = build_target(self.reported_params(), self._num_qubits)
                self._targets[calibrated] = target
                while len(self._targets) > 16:
                    self._targets.popitem(last=False)
            return target

    @property
    def max_circuits(self) -> int | None:
        return None

    @classmethod
    def _default_options(cls) -> Options:
        return Options(shots=1024, memory=False, seed_simulator=None)

    # --- faults ---------------------------------------------------------------------

    def check_outage(self, now: datetime) -> None:
        if active(self.faults, OutageFault, now):
            raise InjectedBackendOutage(
                f"503 Service Unavailable: backend {self.name} is offline (outage since "
                f"{active(self.faults, OutageFault, now)[0].start})"
            )

    def _simulator(self, params: NoiseParams) -> AerSimulator:
        key = params.key()
        sim = self._simulators.get(key)
        if sim is None:
            sim = AerSimulator(
                method="density_matrix",
                noise_model=build_noise_model(params, self._num_qubits),
                max_parallel_threads=1,
            )
            self._simulators[key] = sim
            while len(self._simulators) > 64:
                self._simulators.popitem(last=False)
        return sim

    # --- execution ------------------------------------------------------------------

    def run(self, run_input: QuantumCircuit | Sequence[QuantumCircuit], **options: Any) -> SimJob:
        """Simulate now with the actual noise; raise or fail as injected faults say."""
        now = self.clock.now()
        self.check_outage(now)
        if active(self.faults, AuthFault, now):
            raise InjectedAuthError(f"401 Unauthorized: invalid token (backend {self.name})")
        circuits = [run_input] if isinstance(run_input, QuantumCircuit) else list(run_input)
        for i, qc in enumerate(circuits):
            if not isinstance(qc, QuantumCircuit):
                raise SimConfigError(f"run_input[{i}]", type(qc).__name__, "a QuantumCircuit")
            if qc.num_qubits > self._num_qubits:
                raise SimConfigError(
                    f"run_input[{i}].num_qubits", qc.num_qubits, f"<= {self._num_qubits}"
                )
        defaults = {k: self.options.get(k) for k in _AER_RUN_OPTIONS}
        run_options = {k: v for k, v in {**defaults, **options}.items() if k in _AER_RUN_OPTIONS}
        shots = int(run_options.get("shots") or 1024)
        with self._lock:
            for fault in active(self.faults, TransientFault, now):
                if fault.when == "submit" and self._rng.random() < fault.probability:
                    raise InjectedTransientError(
                        f"503 Service Unavailable: transient error submitting to {self.name}"
                    )
            failing = any(
                f.when == "result" and self._rng.random() < f.probability
                for f in active(self.faults, TransientFault, now)
            )
            corrupt = [
                f
                for f in active(self.faults, CorruptResultFault, now)
                if self._rng.random() < f.probability
            ]
            # (index, circuit) of the first circuit the host has no memory for.
            starved = next(
                (
                    (i, qc)
                    for f in active(self.faults, OutOfMemoryFault, now)
                    for i, qc in enumerate(circuits)
                    if qc.num_qubits >= f.min_qubits and self._rng.random() < f.probability
                ),
                None,
            )
            if run_options.get("seed_simulator") is None:
                run_options["seed_simulator"] = int(self._rng.integers(0, 2**31 - 1))
            self._job_count += 1
            job_id = f"{self.name}-{self._job_count:07d}"
            result: Result | None = None
            if starved is None:
                bugs = active(self.faults, FirmwareBugFault, now)
                played = [self._play(qc, bugs) for qc in circuits]
                simulator = self._simulator(self.actual_params(now))
                result = simulator.run(played, **run_options).result()
        error: Exception | None = None
        if starved is not None:
            # Aer's own wording, which is also what the collector classifies as resource.
            index, circuit = starved
            error = InjectedResourceExhausted(
                f"ERROR: [Experiment {index}] Insufficient memory to run circuit "
                f"{circuit.name} using the density_matrix simulator (job {job_id} on {self.name})"
            )
        elif failing:
            error = InjectedTransientError(
                f"503 Service Unavailable: job {job_id} failed on {self.name}"
            )
        if result is not None:
            result.backend_name = self.name
            result.job_id = job_id
            if corrupt:
                result = corrupt_result(result, corrupt[0].mode)
        queue_s = self.queue_seconds + sum(
            f.extra_queue_seconds for f in active(self.faults, QueueDelayFault, now)
        )
        run_s = self.overhead_seconds + self.shot_seconds * shots * len(circuits)
        running = now + timedelta(seconds=queue_s)
        return SimJob(self, job_id, result, error, now, running, running + timedelta(seconds=run_s))

    @staticmethod
    def _play(circuit: QuantumCircuit, bugs: Sequence[FirmwareBugFault]) -> QuantumCircuit:
        for bug in bugs:
            if firmware_affects(bug, circuit):
                circuit = apply_firmware_bug(bug, circuit)
        return circuit
