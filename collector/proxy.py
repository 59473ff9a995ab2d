"""The execution proxy: a ``BackendV2`` that wraps any ``BackendV2`` and records every
job (lifecycle, timings, cost, counts) without getting in the way.

    backend = ExecutionProxy(AerSimulator(), store=store, project="chem")
    job = backend.run(transpile(circuits, backend), shots=4000)
    counts = job.result().get_counts()

Guards (malformed input, quotas) fail fast before submission. Transient failures
are retried with backoff inside a budget and give one record with ``attempts = n``.
Telemetry failures are logged and counted; the user's call proceeds.
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from datetime import datetime, timedelta
from typing import Any

from qiskit import QuantumCircuit
from qiskit.providers import BackendV2, JobStatus, JobV1, Options

from collector.calibration import calibration_summary, calibration_timestamp
from collector.classify import classify_exception
from collector.clock import Clock, SystemClock
from collector.cost import Pricing
from collector.errors import InvalidInput, ResultCorrupt
from collector.health import recorder_errors
from collector.quotas import Quotas
from collector.recorder import Recorder, spool_recorder
from collector.recording import JobRecording, error_fields
from collector.retry import RetryPolicy
from collector.store import Store

log = logging.getLogger(__name__)

CALIBRATION_REFRESH_S = 60.0
DEFAULT_SHOTS = 1024


class BackendJobFailed(Exception):
    """A job whose result came back unsuccessful (``result.success`` false)."""


def _ts(value: datetime | None) -> float | None:
    """Spool events carry times as epoch seconds: a float formats in a fraction of
    the time isoformat() takes; the shipper turns them back into datetimes."""
    return value.timestamp() if value is not None else None


def _parse_ts(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def normalize_circuits(run_input: Any) -> list[QuantumCircuit]:
    """The circuits of a ``run`` call as a list, or ``InvalidInput`` naming the culprit."""
    if isinstance(run_input, QuantumCircuit):
        circuits = [run_input]
    elif isinstance(run_input, (list, tuple)):
        circuits = list(run_input)
        if not circuits:
            raise InvalidInput(
                "circuits", run_input, "a QuantumCircuit or a non-empty list of them"
            )
    else:
        raise InvalidInput(
            "circuits", type(run_input).__name__, "a QuantumCircuit or a non-empty list of them"
        )
    for index, circuit in enumerate(circuits):
        if not isinstance(circuit, QuantumCircuit):
            raise InvalidInput(f"circuits[{index}]", type(circuit).__name__, "a QuantumCircuit")
        # Scanning from the end finds a final measurement at once.
        if circuit.num_clbits == 0 or not any(
            inst.operation.name == "measure" for inst in reversed(circuit.data)
        ):
            raise InvalidInput(
                f"circuits[{index}]", circuit.name, "a circuit with at least one measurement"
            )
    return circuits


def validate_shots(shots: Any) -> int:
    if isinstance(shots, bool) or not isinstance(shots, int) or shots <= 0:
        raise InvalidInput("shots", shots, "a positive integer")
    return shots


def extract_counts(result: Any, shots: int) -> list[dict[str, Any]]:
    """Per-circuit raw counts from a BackendV2 ``Result``, validated.

    Raises ``ResultCorrupt`` naming the circuit, the field and the value when counts
    do not sum to the shots or a bitstring is wider than the classical register.
    """
    out: list[dict[str, Any]] = []
    for index, exp in enumerate(getattr(result, "results", None) or ()):
        header = getattr(exp, "header", None)
        width = None
        if header is not None:
            width = (
                header.get("memory_slots")
                if isinstance(header, dict)
                else getattr(header, "memory_slots", None)
            )
        data = getattr(exp, "data", None)
        counts = getattr(data, "counts", None) if data is not None else None
        if counts is None:
            raise ResultCorrupt(
                f"result of circuit {index}: no counts (field data.counts is missing)"
            )
        exp_shots = getattr(exp, "shots", None) or shots
        total = sum(counts.values())
        if total != exp_shots:
            raise ResultCorrupt(
                f"result of circuit {index}: counts sum to {total}, expected shots={exp_shots}"
            )
        hex_keys = True
        for key in counts:
            if key.startswith("0x"):
                if width is not None and int(key, 16) >> width:
                    raise ResultCorrupt(
                        f"result of circuit {index}: outcome {key} does not fit the classical "
                        f"register width {width}"
                    )
            else:
                hex_keys = False
                bits = key.replace(" ", "")
                if width is not None and len(bits) != width:
                    raise ResultCorrupt(
                        f"result of circuit {index}: bitstring {key!r} has width {len(bits)}, "
                        f"expected the classical register width {width}"
                    )
        out.append({"fmt": "hex" if hex_keys else "bin", "num_clbits": width, "counts": counts})
    return out


def lifecycle_times(
    inner_job: Any,
    result: Any,
    submitted_at: datetime,
    observed_running: datetime | None,
    now: datetime,
) -> dict[str, Any]:
    """Lifecycle times of a finished job: from provider metadata where it exists
    (qiskit-ibm-runtime's ``job.metrics()`` timestamps and quantum seconds, Aer's
    ``result.time_taken``), else from what the proxy observed."""
    started = finished = None
    run_seconds = None
    metrics_fn = getattr(inner_job, "metrics", None)
    if callable(metrics_fn):
        try:
            metrics = metrics_fn() or {}
            stamps = metrics.get("timestamps") or {}
            started = _parse_ts(stamps.get("running"))
            finished = _parse_ts(stamps.get("finished"))
            usage = metrics.get("usage") or {}
            if usage.get("quantum_seconds") is not None:
                run_seconds = float(usage["quantum_seconds"])
        except Exception:  # noqa: BLE001 - metadata only
            recorder_errors.inc("provider_metrics")
    if run_seconds is None:
        taken = getattr(result, "time_taken", None)
        if isinstance(taken, (int, float)):
            run_seconds = float(taken)
    finished = finished or now
    if started is None:
        started = observed_running
    if started is None and run_seconds is not None:
        started = finished - timedelta(seconds=run_seconds)
    started = max(started, submitted_at) if started is not None else None
    if run_seconds is None and started is not None:
        run_seconds = (finished - started).total_seconds()
    return {
        "started_at": _ts(started),
        "finished_at": finished.timestamp(),
        "queue_seconds": (started - submitted_at).total_seconds() if started else None,
        "run_seconds": run_seconds,
        "e2e_seconds": max(0.0, (finished - submitted_at).total_seconds()),
    }


class ExecutionProxy(BackendV2):
    """A recording drop-in for any ``BackendV2``.

    ``transpile(qc, proxy)`` and ``BackendSamplerV2(backend=proxy)`` work as with the
    wrapped backend; every job is recorded into ``store`` (through the local spool).
    """

    def __init__(
        self,
        backend: BackendV2,
        *,
        store: Store | str,
        project: str = "",
        tags: dict[str, Any] | None = None,
        pricing: Pricing | None = None,
        quotas: Quotas | None = None,
        retry: RetryPolicy | None = None,
        clock: Clock | None = None,
        record_counts: bool = True,
        recorder: Recorder | None = None,
        name: str | None = None,
        tracer_provider: Any = None,
    ) -> None:
        super().__init__(
            provider=getattr(backend, "provider", None),
            name=name or backend.name,
            description=f"qsre proxy for {backend.name}",
            backend_version=getattr(backend, "backend_version", None),
        )
        self._inner = backend
        self._store = Store(store) if isinstance(store, str) else store
        self.project = project
        self.tags = dict(tags or {})
        self.pricing = pricing
        self.retry = retry or RetryPolicy()
        self.clock = clock or SystemClock()
        self.record_counts = record_counts
        self._recorder = recorder or spool_recorder(self._store)
        if tracer_provider is not None and hasattr(self._recorder, "shipper"):
            from collector.tracing import JobSpanEmitter

            self._recorder.shipper.span_sink = JobSpanEmitter(tracer_provider).emit
        self._rec = JobRecording(
            store=self._store,
            recorder=self._recorder,
            clock=self.clock,
            backend=self.name,
            project=project,
            tags=self.tags,
            pricing=pricing,
            quotas=quotas,
            retry=self.retry,
            record_counts=record_counts,
        )
        self._cal_lock = threading.Lock()
        self._cal_checked_at: datetime | None = None
        self._cal_at: datetime | None = None
        self._backend_recorded = False

    # ------------------------------------------------------------ BackendV2 surface
    @property
    def wrapped(self) -> BackendV2:
        return self._inner

    @property
    def store(self) -> Store:
        return self._store

    @property
    def recorder(self) -> Recorder:
        return self._recorder

    @property
    def target(self):  # noqa: ANN201 - qiskit's Target
        return self._inner.target

    @property
    def max_circuits(self) -> int | None:
        return self._inner.max_circuits

    @classmethod
    def _default_options(cls) -> Options:
        return Options()

    @property
    def options(self) -> Options:
        return self._inner.options

    def set_options(self, **fields: Any) -> None:
        self._inner.set_options(**fields)

    def __getattr__(self, name: str) -> Any:
        # Provider extras (properties(), configuration(), last_calibrated_at, ...).
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._inner, name)

    # ------------------------------------------------------------ recording helpers
    def _calibration_at(self, now: datetime) -> datetime | None:
        """The backend's calibration time, looked up at most once a minute."""
        checked = self._cal_checked_at
        if checked is not None and (now - checked).total_seconds() < CALIBRATION_REFRESH_S:
            return self._cal_at
        with self._cal_lock:
            try:
                cal_at = calibration_timestamp(self._inner)
            except Exception:  # noqa: BLE001 - metadata only
                cal_at = None
            changed = cal_at != self._cal_at or not self._backend_recorded
            self._cal_at, self._cal_checked_at = cal_at, now
            if changed:
                self._backend_recorded = True
                self._rec.safe(
                    self._recorder.backend_seen,
                    {
                        "name": self.name,
                        "seen_at": now.isoformat(),
                        "num_qubits": getattr(self._inner, "num_qubits", None),
                        "provider": type(self._inner).__module__.split(".")[0],
                        "calibration_at": cal_at.isoformat() if cal_at else None,
                        "summary": calibration_summary(self._inner) if cal_at else {},
                    },
                )
        return cal_at

    def _record_finish(self, job_id: str, fields: dict[str, Any]) -> None:
        self._rec.event(job_id, fields)

    # ------------------------------------------------------------ run
    def run(self, run_input: Any, **options: Any) -> ProxyJob:
        """Submit like the wrapped backend; returns a job with the same interface.

        Extra keyword: ``idempotency_key`` (kept across retries; generated if absent).
        """
        idempotency_key = options.pop("idempotency_key", None) or os.urandom(16).hex()
        circuits = normalize_circuits(run_input)
        shots = options.get("shots")
        if shots is None:
            shots = getattr(self._inner.options, "shots", None) or DEFAULT_SHOTS
        shots = validate_shots(shots)
        total_shots = shots * len(circuits)
        job_id = str(uuid.uuid4())
        submitted_at = self.clock.now()
        calibration_at = self._calibration_at(submitted_at)
        submit_fields = {
            "shots": shots,
            "num_circuits": len(circuits),
            "idempotency_key": idempotency_key,
            "calibration_at": _ts(calibration_at),
        }
        self._rec.admit(
            job_id,
            submitted_at,
            submit_fields,
            total_shots=total_shots,
            shots=shots,
            num_circuits=len(circuits),
        )
        self._rec.submitted(job_id, submitted_at, submit_fields)
        self._rec.safe(self._recorder.circuit_info, job_id, circuits)
        inner_job, attempts, slept_s = self._rec.submit_with_retry(
            job_id, submitted_at, lambda: self._inner.run(run_input, **options)
        )
        return ProxyJob(
            self,
            inner_job,
            qsre_job_id=job_id,
            run_input=run_input,
            options=options,
            submitted_at=submitted_at,
            shots=shots,
            num_circuits=len(circuits),
            attempts=attempts,
            slept_s=slept_s,
        )

    def _resubmit(self, run_input: Any, options: dict[str, Any]) -> Any:
        return self._inner.run(run_input, **options)


class ProxyJob(JobV1):
    """The wrapped backend's job, recorded. Unknown attributes pass through."""

    def __init__(
        self,
        proxy: ExecutionProxy,
        inner: Any,
        *,
        qsre_job_id: str,
        run_input: Any,
        options: dict[str, Any],
        submitted_at: datetime,
        shots: int,
        num_circuits: int,
        attempts: int,
        slept_s: float,
    ) -> None:
        self._inner = inner
        self._proxy = proxy
        super().__init__(backend=proxy, job_id=str(inner.job_id()))
        self.qsre_job_id = qsre_job_id
        self._run_input = run_input
        self._run_options = options
        self._submitted_at = submitted_at
        self._shots = shots
        self._num_circuits = num_circuits
        self._attempts = attempts
        self._slept_s = slept_s
        self._observed_running: datetime | None = None
        self._lock = threading.Lock()
        self._outcome: tuple[Any, BaseException | None] | None = None

    @property
    def attempts(self) -> int:
        return self._attempts

    def job_id(self) -> str:
        return str(self._inner.job_id())

    def submit(self) -> None:
        raise RuntimeError("a ProxyJob is submitted by ExecutionProxy.run; submit() is not used")

    def status(self) -> JobStatus:
        status = self._inner.status()
        if status == JobStatus.RUNNING and self._observed_running is None:
            self._observed_running = self._proxy.clock.now()
            self._proxy._record_finish(
                self.qsre_job_id,
                {"status": "running", "started_at": self._observed_running.timestamp()},
            )
        return status

    def cancel(self) -> bool:
        cancelled = bool(self._inner.cancel())
        if cancelled:
            now = self._proxy.clock.now()
            self._proxy._record_finish(
                self.qsre_job_id,
                {
                    "status": "cancelled",
                    "attempts": self._attempts,
                    "finished_at": now.timestamp(),
                    "e2e_seconds": (now - self._submitted_at).total_seconds(),
                    "provider_job_id": self.job_id(),
                },
            )
        return cancelled

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._inner, name)

    # ------------------------------------------------------------ result
    def result(self, timeout: float | None = None) -> Any:
        with self._lock:
            if self._outcome is None:
                self._outcome = self._collect(timeout)
        result, error = self._outcome
        if error is not None:
            raise error
        return result

    def _collect(self, timeout: float | None) -> tuple[Any, BaseException | None]:
        proxy = self._proxy
        while True:
            try:
                result = (
                    self._inner.result() if timeout is None else self._inner.result(timeout=timeout)
                )
                if getattr(result, "success", True) is False:
                    raise BackendJobFailed(
                        f"job {self.job_id()} failed: {getattr(result, 'status', 'no status')}"
                    )
                break
            except Exception as exc:
                error_class = classify_exception(exc)
                delay = proxy._rec.backoff(error_class, self._attempts, self._slept_s)
                if delay is not None:
                    self._slept_s += delay
                    self._attempts += 1
                    try:
                        self._inner = proxy._resubmit(self._run_input, self._run_options)
                        continue
                    except Exception as resubmit_exc:  # noqa: BLE001
                        exc = resubmit_exc
                        error_class = classify_exception(exc)
                self._finish_error(error_class, exc)
                return None, exc
        try:
            counts = extract_counts(result, self._shots)
        except ResultCorrupt as exc:
            self._finish_error("result_corrupt", exc)
            return None, exc
        self._finish_done(result, counts)
        return result, None

    def _timings(self, result: Any, now: datetime) -> dict[str, Any]:
        return lifecycle_times(self._inner, result, self._submitted_at, self._observed_running, now)

    def _finish_done(self, result: Any, counts: list[dict[str, Any]]) -> None:
        proxy = self._proxy
        timings = self._timings(result, proxy.clock.now())
        cost = proxy._rec.cost_usd(self._shots, self._num_circuits, timings["run_seconds"])
        fields = {
            "status": "done",
            "attempts": self._attempts,
            "cost_usd": cost,
            "provider_job_id": self.job_id(),
            **timings,
        }
        if proxy.record_counts:
            fields["counts"] = counts
        proxy._record_finish(self.qsre_job_id, fields)

    def _finish_error(self, error_class: str, exc: BaseException) -> None:
        proxy = self._proxy
        fields = error_fields(
            error_class, exc, self._attempts, self._submitted_at, proxy.clock.now()
        )
        proxy._record_finish(self.qsre_job_id, {**fields, "provider_job_id": self.job_id()})
