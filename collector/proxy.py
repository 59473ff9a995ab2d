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

import enum
import logging
import threading
import time
from concurrent.futures import Future
from typing import Any

from qiskit import QuantumCircuit
from qiskit.providers import BackendV2, JobStatus, JobV1, Options

from collector.backend_watch import BackendWatch
from collector.clock import Clock, SystemClock
from collector.cost import Pricing
from collector.errors import InvalidInput, ResultCorrupt
from collector.finisher import PyFinisher
from collector.ids import new_job_id
from collector.lifecycle import lifecycle_times
from collector.providers import adapter_for
from collector.quotas import Quotas
from collector.recorder import Recorder, spool_recorder
from collector.recording import JobRecording, error_fields
from collector.retry import RetryPolicy
from collector.spool_format import hex_counts, run_seconds
from collector.store import Store
from collector.wait_errors import CANCELLED, FAILED, REPOLL, settle_wait_error

log = logging.getLogger(__name__)

_NOTHING = object()
DEFAULT_SHOTS = 1024


class JobKind(enum.Enum):
    """How the proxy records the end of a type of the wrapped backend's jobs."""

    # Completes a concurrent.futures.Future whose result is the job's result (Aer's
    # AerJob): recorded by the future's completion callback, as it completes.
    WATCHED = "watched"
    # Reports provider timestamps (qiskit-ibm-runtime's job.metrics()): recorded
    # by result(), with those times.
    PROVIDER_TIMES = "provider_times"
    # Anything else: recorded by result().
    PLAIN = "plain"


class BackendJobFailed(Exception):
    """A job whose result came back unsuccessful (``result.success`` false)."""


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
        if not measures(circuit):
            raise InvalidInput(
                f"circuits[{index}]", circuit.name, "a circuit with at least one measurement"
            )
    return circuits


def instructions(circuit: QuantumCircuit) -> Any:
    """The circuit's instruction list. ``QuantumCircuit.data`` builds a wrapper
    around ``_data`` (the Rust ``CircuitData``) on every access; read what it wraps."""
    data = getattr(circuit, "_data", None)
    return circuit.data if data is None else data


def measures(circuit: QuantumCircuit) -> bool:
    """Whether the circuit measures anything. The last instruction is checked
    first: transpiled circuits end in measurements, and each instruction looked at
    is a Rust-to-Python conversion (``.name`` avoids building the operation object)."""
    data = instructions(circuit)
    if circuit.num_clbits == 0 or not len(data):
        return False
    if data[-1].name == "measure":
        return True
    return any(inst.name == "measure" for inst in reversed(data))


def validate_shots(shots: Any) -> int:
    if isinstance(shots, bool) or not isinstance(shots, int) or shots <= 0:
        raise InvalidInput("shots", shots, "a positive integer")
    return shots


def extract_counts(result: Any, shots: int) -> tuple[list[dict[str, Any]], int, int]:
    """Per-circuit raw counts from a BackendV2 ``Result``; the shots discrepancy
    (counts summed over circuits minus the shots asked for, 0 when they agree);
    and how far rounding could explain it (half a shot per outcome: IonQ's QPU
    counts are ``round(p * shots)``).

    Counts that do not sum to the shots are never raised at the user (the
    caller decides what they mean). Raises ``ResultCorrupt`` naming the circuit,
    the field and the value when a circuit has no counts or a bitstring is wider
    than the classical register.
    """
    out: list[dict[str, Any]] = []
    discrepancy = rounding = 0
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
        discrepancy += int(sum(counts.values())) - int(exp_shots)
        rounding += (len(counts) + 1) // 2
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
    return out, discrepancy, rounding


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
        # What differs by provider (identity, cancellation, calibration, counts).
        adapter = adapter_for(backend)
        name = name or adapter.backend_name(backend)
        super().__init__(
            provider=getattr(backend, "provider", None),
            name=name,
            description=f"qsre proxy for {name}",
            backend_version=getattr(backend, "backend_version", None),
        )
        self._inner = backend
        self._adapter = adapter
        self._store = Store(store) if isinstance(store, str) else store
        self.project = project
        self.tags = dict(tags or {})
        if pricing is None:  # the provider's list prices, where known (data)
            pricing = adapter.default_pricing(backend)
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
            adapter=adapter,
        )
        self._now_s = self._rec.now_s
        # How each type of the wrapped backend's jobs is recorded, learned from its
        # first job (see JobKind).
        self._job_kinds: dict[type, JobKind] = {}
        self._watched_job_type: type | None = None  # the one ProxyJob checks first
        # The last circuit seen measuring, and its instruction list then. A circuit
        # whose list was replaced since (remove_final_measurements() does) is
        # checked again. Edits in place (.data = ..., .data.pop()) are not seen:
        # spotting them costs a call into Qiskit's Rust code, 2-10 us next to a
        # simulator job, on every run. A circuit edited that way down to no
        # measurement at all runs as Qiskit would run it (all-zero counts).
        self._measured_circuit: Any = _NOTHING
        self._measured_data: Any = None
        self._measured_circuits: tuple[QuantumCircuit, ...] = ()
        self._starter = self._rec.starter
        starter = self._starter
        self._watch = BackendWatch(
            backend,
            self.name,
            self._rec,
            on_lookup=starter.set_calibration if starter is not None else None,
        )

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
    def _calibration_s(self, now_s: float) -> float | None:
        """The backend's calibration time (epoch seconds), looked up at most once a
        minute (the C starter gets a copy of each lookup and reads it while fresh)."""
        return self._watch.calibration_s(now_s)

    def _job_kind(self, inner_job: Any, result: Any = None) -> JobKind:
        """How jobs of this type are recorded; learned from a finished job (its
        ``result``) the first time, as only a finished job can show whether its
        ``result()`` is its future's result."""
        kind = self._job_kinds.get(type(inner_job))
        if kind is not None:
            return kind
        if callable(getattr(type(inner_job), "metrics", None)):
            kind = JobKind.PROVIDER_TIMES
        else:
            kind = JobKind.WATCHED if self._watchable(inner_job, result) else JobKind.PLAIN
        self._job_kinds[type(inner_job)] = kind
        if kind is JobKind.WATCHED:
            self._watched_job_type = type(inner_job)
        return kind

    def _record_finish(self, job_id: str, fields: dict[str, Any]) -> None:
        self._rec.event(job_id, fields)

    # ------------------------------------------------------------ run
    def run(self, run_input: Any, **options: Any) -> ProxyJob:
        """Submit like the wrapped backend; returns a job with the same interface.

        Extra keyword: ``idempotency_key`` (kept across retries; generated if absent).
        """
        # Everything here runs on the user's call path, next to simulator calls that
        # evict the caches it touches: each operation costs several times its
        # hot-loop time. So the common case (the circuit checked last time, shots
        # given, no key of the caller's) is a few checks and one C call.
        shots = options.get("shots")
        if (
            run_input is self._measured_circuit
            and run_input._data is self._measured_data
            and type(shots) is int
            and shots > 0
            and self._starter is not None
            and "idempotency_key" not in options
        ):
            try:  # the id, the time, the submitted event and the ticket in one C call
                ticket = self._starter.begin(shots, 1, None, self._measured_circuits)
            except Exception:  # noqa: BLE001 - telemetry never breaks the user's call
                self._rec.failed()
                ticket = None
            if ticket is not None:
                try:
                    inner_job = self._inner.run(run_input, **options)
                except Exception as exc:  # noqa: BLE001 - retried or recorded, then re-raised
                    return self._resubmitted(run_input, options, ticket, shots, 1, exc)
                return ProxyJob(self, inner_job, ticket, (shots, 1))
        return self._run(run_input, options)

    def _run(self, run_input: Any, options: dict[str, Any]) -> ProxyJob:
        """``run`` for anything but the common case: every check, then the job."""
        idempotency_key = options.pop("idempotency_key", None)
        if type(run_input) is QuantumCircuit and measures(run_input):
            circuits: Any = (run_input,)
            data = instructions(run_input)
            if data is getattr(run_input, "_data", None):
                # Checked once: the next run of this circuit takes the common case.
                self._measured_circuit, self._measured_data = run_input, data
                self._measured_circuits = circuits
        else:
            circuits = normalize_circuits(run_input)
        shots = options.get("shots")
        if shots is None:
            shots = getattr(self._inner.options, "shots", None) or DEFAULT_SHOTS
        if type(shots) is not int or shots <= 0:
            shots = validate_shots(shots)
        num_circuits = len(circuits)
        ticket = None
        if self._starter is not None:
            try:
                ticket = self._starter.begin(shots, num_circuits, idempotency_key, circuits)
            except Exception:  # noqa: BLE001 - telemetry never breaks the user's call
                self._rec.failed()
        if ticket is None:
            ticket = self._begin(circuits, shots, num_circuits, idempotency_key)
        try:
            inner_job = self._inner.run(run_input, **options)
        except Exception as exc:  # noqa: BLE001 - retried or recorded, then re-raised
            return self._resubmitted(run_input, options, ticket, shots, num_circuits, exc)
        return ProxyJob(self, inner_job, ticket, (shots, num_circuits))

    def _resubmitted(
        self,
        run_input: Any,
        options: dict[str, Any],
        ticket: Any,
        shots: int,
        num_circuits: int,
        error: Exception,
    ) -> ProxyJob:
        """The first submission raised ``error``: retried within the policy (one
        record, ``attempts = n``), or recorded and re-raised."""
        _hand_over(ticket)
        inner_job, attempts, _ = self._rec.submit_with_retry(
            ticket.job_id,
            ticket.submitted_s,
            lambda: self._resubmit(run_input, options),
            error,
        )
        ticket.attempts = attempts
        job = ProxyJob(self, inner_job, ticket, (shots, num_circuits))
        job._attempts = attempts
        return job

    def _begin(
        self, circuits: Any, shots: int, num_circuits: int, idempotency_key: str | None
    ) -> Any:
        """A new job the ordinary way: id, time, calibration, quota guard (which may
        raise ``QuotaExceeded``), the submitted event; returns its ticket."""
        job_id = new_job_id()
        submitted_s = self._now_s()
        fields = {
            "shots": shots,
            "num_circuits": num_circuits,
            # Without a caller's key the job id serves: unique, and kept across retries.
            "idempotency_key": idempotency_key or job_id,
            "calibration_at": self._calibration_s(submitted_s),
        }
        rec = self._rec
        if rec.guard is not None:
            rec.admit(
                job_id,
                submitted_s,
                fields,
                total_shots=shots * num_circuits,
                shots=shots,
                num_circuits=num_circuits,
            )
        rec.submitted(job_id, submitted_s, fields)
        make = getattr(self._recorder, "finisher", None)
        if make is not None:
            try:
                return make(job_id, submitted_s, shots, self.record_counts, self._now_s, circuits)
            except Exception:  # noqa: BLE001 - telemetry never breaks the user's call
                rec.failed()
        circuit_info = self._recorder.circuit_info
        return PyFinisher(
            None,
            job_id,
            submitted_s,
            shots,
            self.record_counts,
            self._now_s,
            lambda pair: circuit_info(*pair),
            circuits,
        )

    def _watchable(self, inner_job: Any, result: Any) -> bool:
        """Whether jobs like this finished one can be recorded by their ticket as the
        completion callback of their ``concurrent.futures.Future``: what the ticket
        reads there (``_exception``, ``_result``, the result's ``job_id``, the
        ``_done_callbacks`` list) must be what ``result()`` and ``job_id()`` give.
        Costs (pricing) are worked out by ``result()``."""
        future = getattr(inner_job, "_future", None)
        try:
            return (
                type(future) is Future
                and type(future._done_callbacks) is list
                and future.done()
                and future._exception is None
                and future._result is result
                and getattr(result, "job_id", None) == inner_job.job_id()
                and self.pricing is None
                and getattr(self._recorder, "finisher", None) is not None
            )
        except Exception:  # noqa: BLE001 - not the shape we know: the ordinary path
            return False

    def _resubmit(self, run_input: Any, options: dict[str, Any]) -> Any:
        return self._inner.run(run_input, **options)


def _hand_over(ticket: Any) -> None:
    """Give the job's circuits to the recorder (hash, width and depth are worked
    out off the user's call path)."""
    try:
        ticket.hand_over()
    except Exception:  # noqa: BLE001 - telemetry never breaks the user's call
        JobRecording.failed()


class ProxyJob(JobV1):
    """The wrapped backend's job, recorded. Unknown attributes pass through.

    The job's end is recorded once: by ``result()`` on the caller's thread, or,
    for jobs that complete a ``concurrent.futures.Future`` (Aer's ``AerJob``; see
    ``JobKind.WATCHED``), already by the future's completion callback on the
    worker thread. That runs while the caller's thread is still waking up
    (~40-60 us here), next to the result it reads; ``result()`` then only checks
    that it happened. Either way the event is in the spool before ``result()``
    returns.
    """

    # Defaults read from the class until a job changes them: every instance
    # attribute set here costs on the user's call path.
    _job_id: str | None = None
    _observed_running_s: float | None = None
    _outcome: tuple[Any, BaseException | None] | None = None
    _future: Future | None = None  # set when its ticket is the future's completion callback
    _attempts = 1
    _unsettled: BaseException | None = None  # what the last unsettled wait raised

    def __init__(
        self,
        proxy: ExecutionProxy,
        inner: Any,
        ticket: Any,
        submission: tuple[int, int],
    ) -> None:
        """``submission``: the shots and the number of circuits. (A submitted job
        is never submitted again, so its run input is not kept.)"""
        self._backend = proxy  # as JobV1.__init__; the provider's job id is read
        self._inner = inner  # when first asked for (job_id())
        self._ticket = ticket  # the qsre job id, submission time, who recorded the end
        self._submission = submission
        if type(inner) is proxy._watched_job_type:
            future = self._future = inner._future
            # Appended without the future's condition lock (add_done_callback takes
            # it, and the worker may hold it): a callback appended after the future
            # ran its callbacks is never called, and result() records the end.
            future._done_callbacks.append(ticket)
        else:
            _hand_over(ticket)

    @property
    def metadata(self) -> dict[str, Any]:
        """JobV1's metadata (none from the proxy), made when first asked for."""
        return self.__dict__.setdefault("_metadata", {})

    @metadata.setter
    def metadata(self, value: dict[str, Any]) -> None:
        self.__dict__["_metadata"] = value

    @property
    def _proxy(self) -> ExecutionProxy:
        return self._backend

    @property
    def _shots(self) -> int:
        return self._submission[0]

    @property
    def _num_circuits(self) -> int:
        return self._submission[1]

    @property
    def qsre_job_id(self) -> str:
        return self._ticket.job_id

    @property
    def _submitted_s(self) -> float:
        return self._ticket.submitted_s

    def _claim(self) -> bool:
        """Whether this thread records the job's end (nobody has yet)."""
        while True:
            claimed = self._ticket.claim()
            if claimed is not None:
                if claimed:
                    _hand_over(self._ticket)  # if the callback never ran
                return claimed
            time.sleep(0.0005)  # the callback is recording it right now

    @property
    def attempts(self) -> int:
        return self._attempts

    def job_id(self) -> str:
        # The provider's id, read once per submission (a retry resubmits).
        job_id = self._job_id
        if job_id is None:
            job_id = self._job_id = str(self._inner.job_id())
        return job_id

    def submit(self) -> None:
        raise RuntimeError("a ProxyJob is submitted by ExecutionProxy.run; submit() is not used")

    def status(self) -> JobStatus:
        status = self._inner.status()
        if status == JobStatus.RUNNING and self._observed_running_s is None:
            self._observed_running_s = self._proxy._now_s()
            self._proxy._record_finish(
                self.qsre_job_id,
                {"status": "running", "started_at": self._observed_running_s},
            )
        return status

    def cancel(self) -> bool:
        cancelled = bool(self._inner.cancel())
        if cancelled:
            self._finish_cancelled()
        return cancelled

    def _finish_cancelled(self) -> None:
        if not self._claim():
            return
        now_s = self._proxy._now_s()
        self._proxy._record_finish(
            self.qsre_job_id,
            {
                "status": "cancelled",
                "attempts": self._attempts,
                "finished_at": now_s,
                "e2e_seconds": max(0.0, now_s - self._submitted_s),
                "provider_job_id": self.job_id(),
            },
        )

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._inner, name)

    # ------------------------------------------------------------ result
    def result(self, timeout: float | None = None) -> Any:
        first: tuple[Any, BaseException | None] | None = None
        future = self._future
        if future is not None and self._outcome is None:
            # Recorded by the completion callback in the common case: nothing to
            # do but check. Otherwise what the wait gave goes to _collect. (A
            # watched job's result() is its future's: JobKind.WATCHED.)
            try:
                result = future.result(timeout)
            except Exception as exc:  # noqa: BLE001 - settled by _collect
                first = (None, exc)
            else:
                if self._ticket.recorded:
                    return result
                first = (result, None)
        with self.__dict__.setdefault("_lock", threading.Lock()):
            if self._outcome is None:
                outcome = self._collect(timeout, first)
                if outcome is None:
                    # Not settled (the wait timed out, polling kept failing): the
                    # job goes on, so nothing is cached and the next result()
                    # asks the same job again.
                    raise self._unsettled  # type: ignore[misc]
                self._outcome = outcome
        result, error = self._outcome
        if error is not None:
            raise error
        return result

    def _collect(
        self, timeout: float | None, first: tuple[Any, BaseException | None] | None = None
    ) -> tuple[Any, BaseException | None] | None:
        """The job's outcome, recorded; None when it is not settled yet (the error
        to raise is in ``_unsettled``). ``first``: what a wait already gave.

        A submitted job is never submitted again: it has a provider job id and may
        run (and bill) whatever its client says while we wait. Errors while waiting
        re-poll the same job (transient ones, with back-off) or reach the caller
        uncached; only a job the provider reports failed is recorded as failed.
        """
        polls, slept_s = 1, 0.0
        while True:
            try:
                if first is not None:
                    result, error = first
                    first = None
                    if error is not None:
                        raise error
                else:
                    result = (
                        self._inner.result()
                        if timeout is None
                        else self._inner.result(timeout=timeout)
                    )
            except Exception as exc:  # noqa: BLE001 - settled below, then re-raised
                settled = self._settle_wait_error(exc, polls, slept_s)
                if isinstance(settled, float):
                    polls, slept_s = polls + 1, slept_s + settled
                    continue
                return settled
            if getattr(result, "success", True) is False:
                exc = BackendJobFailed(
                    f"job {self.job_id()} failed: {getattr(result, 'status', 'no status')}"
                )
                self._finish_error(self._proxy._adapter.failed_result_class(result), exc)
                return None, exc
            break
        if not self._claim():  # the callback recorded it while this thread woke up
            return result, None
        return self._finish_result(result)

    def _settle_wait_error(
        self, exc: Exception, polls: int, slept_s: float
    ) -> tuple[None, BaseException] | float | None:
        """What an error from waiting on the job means (``settle_wait_error``): the
        recorded outcome, a delay slept before polling again, or None: not
        settled, ``exc`` goes to the caller uncached."""
        rec = self._proxy._rec
        verdict, value = settle_wait_error(
            exc, self._inner, self._proxy._adapter, lambda c: rec.backoff(c, polls, slept_s)
        )
        if verdict == REPOLL:
            return value
        if verdict == CANCELLED:
            self._finish_cancelled()
            return None, exc
        if verdict == FAILED:
            self._finish_error(value, exc)
            return None, exc
        self._unsettled = exc
        return None

    def _finish_result(self, result: Any) -> tuple[Any, BaseException | None]:
        proxy = self._proxy
        now_s = proxy._now_s()
        kind = proxy._job_kind(self._inner, result)
        if self._observed_running_s is None and kind is not JobKind.PROVIDER_TIMES:
            fast = hex_counts(result, self._shots)
            if fast is not None:
                self._finish_done_fast(result, now_s, *fast)
                return result, None
        try:
            counts, discrepancy, rounding = extract_counts(result, self._shots)
        except ResultCorrupt as exc:
            self._record_error("result_corrupt", exc)
            return None, exc
        if discrepancy and not (
            abs(discrepancy) <= rounding and proxy._adapter.counts_may_round(proxy.wrapped)
        ):
            # More off than the provider's rounding explains (shots lost from a
            # readout buffer): recorded as a corrupt result, and returned to the
            # caller as the provider gave it (telemetry never breaks the call).
            exc = ResultCorrupt(
                f"job {self.job_id()}: counts sum to {discrepancy:+d} shots off "
                f"{self._shots} x {self._num_circuits} asked for"
            )
            evidence = {"shots_discrepancy": discrepancy}
            if proxy.record_counts:
                evidence["counts"] = counts
            self._record_error("result_corrupt", exc, evidence)
            return result, None
        self._finish_done(result, counts, now_s, discrepancy)
        return result, None

    def _finish_done_fast(
        self, result: Any, now_s: float, widths: list[int], counts: list[dict[str, int]]
    ) -> None:
        """The common case, recorded as one compact spool line; the shipper derives
        the started/queue/e2e times from run_seconds (``spool_format``)."""
        self._proxy._rec.safe(self._record_done_fast, now_s, run_seconds(result), widths, counts)

    def _record_done_fast(
        self, now_s: float, run_s: float | None, widths: list[int], counts: list[dict[str, int]]
    ) -> None:
        proxy = self._proxy
        cost = (
            proxy._rec.cost_usd(self._shots, self._num_circuits, run_s)
            if proxy.pricing is not None
            else 0.0
        )
        proxy._recorder.done(
            self.qsre_job_id,
            int(now_s * 1e9),
            run_s,
            self._attempts,
            cost,
            self.job_id(),
            widths,
            counts if proxy.record_counts else None,
        )

    def _finish_done(
        self, result: Any, counts: list[dict[str, Any]], now_s: float, discrepancy: int
    ) -> None:
        proxy = self._proxy
        timings = lifecycle_times(
            self._inner, result, self._submitted_s, self._observed_running_s, now_s
        )
        cost = proxy._rec.cost_usd(self._shots, self._num_circuits, timings["run_seconds"])
        fields = {
            "status": "done",
            "attempts": self._attempts,
            "cost_usd": cost,
            "provider_job_id": self.job_id(),
            "shots_discrepancy": discrepancy or None,
            **timings,
        }
        if proxy.record_counts:
            fields["counts"] = counts
        proxy._record_finish(self.qsre_job_id, fields)

    def _finish_error(self, error_class: str, exc: BaseException) -> None:
        if self._claim():
            self._record_error(error_class, exc)

    def _record_error(
        self, error_class: str, exc: BaseException, evidence: dict[str, Any] | None = None
    ) -> None:
        proxy = self._proxy
        fields = error_fields(error_class, exc, self._attempts, self._submitted_s, proxy._now_s())
        fields["provider_job_id"] = self.job_id()
        proxy._record_finish(self.qsre_job_id, {**fields, **(evidence or {})})
