"""What the SamplerV2 and EstimatorV2 instruments share: the wrapped primitive's
backend (its identity, calibration and list prices, through its provider
adapter), one job record per ``run(pubs)``, submission retries, and the
collection of a job's result that never submits it again.

A subclass says how its pubs are coerced and what a finished job records
(``InstrumentedSampler``: counts; ``InstrumentedEstimator``: expectation values).
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future
from typing import Any, ClassVar

from collector.backend_watch import BackendWatch
from collector.clock import Clock, SystemClock
from collector.cost import Pricing
from collector.ids import new_job_id
from collector.lifecycle import lifecycle_times
from collector.providers import GENERIC, ProviderAdapter, adapter_for
from collector.quotas import Quotas
from collector.recorder import Recorder, spool_recorder
from collector.recording import JobRecording, error_fields
from collector.retry import RetryPolicy
from collector.store import Store
from collector.wait_errors import CANCELLED, FAILED, REPOLL, settle_wait_error

log = logging.getLogger(__name__)


def primitive_backend(primitive: Any) -> Any:
    """The backend a primitive runs on: qiskit's ``BackendSamplerV2.backend``
    (a property), qiskit-ibm-runtime's ``backend()`` (a method), or the
    ``_backend`` that Aer's and the runtime's primitives keep; None if none."""
    target = getattr(primitive, "backend", None)
    if callable(target) and not hasattr(target, "target"):
        try:
            target = target()
        except Exception:  # noqa: BLE001 - a primitive without a backend
            target = None
    if target is None:
        target = getattr(primitive, "_backend", None)
    return target if hasattr(target, "name") else None


class InstrumentedPrimitive:
    """A V2 primitive that records every ``run`` like ``ExecutionProxy`` records
    ``backend.run`` (see the module doc). Unknown attributes pass through."""

    #: What ``jobs.details["primitive"]`` says.
    kind: ClassVar[str] = "primitive"

    def __init__(
        self,
        primitive: Any,
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
        backend_name: str | None = None,
    ) -> None:
        self._primitive = primitive
        self._store = Store(store) if isinstance(store, str) else store
        self.clock = clock or SystemClock()
        backend = self._backend_of(primitive)
        self.backend = backend
        self._adapter: ProviderAdapter = adapter_for(backend) if backend is not None else GENERIC
        if backend_name is None:
            backend_name = (
                self._adapter.backend_name(backend)
                if backend is not None
                else type(primitive).__name__.lower()
            )
        self.backend_name = backend_name
        if pricing is None and backend is not None:  # the provider's list prices (data)
            pricing = self._adapter.default_pricing(backend)
        self.pricing = pricing
        self.tags = dict(tags or {})
        self._recorder = recorder or spool_recorder(self._store)
        self._rec = JobRecording(
            store=self._store,
            recorder=self._recorder,
            clock=self.clock,
            backend=self.backend_name,
            project=project,
            tags=self.tags,
            pricing=pricing,
            quotas=quotas,
            retry=retry or RetryPolicy(),
            record_counts=record_counts,
            adapter=self._adapter,
        )
        self._watch = BackendWatch(backend, self.backend_name, self._rec)

    @staticmethod
    def _backend_of(primitive: Any) -> Any:
        """The backend whose identity, calibration and prices the jobs carry."""
        return primitive_backend(primitive)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._primitive, name)

    @property
    def wrapped(self) -> Any:
        return self._primitive

    def _start(
        self,
        circuits: list[Any],
        *,
        shots: int,
        total_shots: int,
        submit: Any,
        details: dict[str, Any],
    ) -> InstrumentedPrimitiveJob:
        """Record a new job (quota guard first), submit it with retries, and wrap
        the primitive's job."""
        rec = self._rec
        job_id = new_job_id()
        submitted_s = rec.now_s()
        fields = {
            "shots": shots,
            "num_circuits": len(circuits),
            "idempotency_key": job_id,
            "calibration_at": self._watch.calibration_s(submitted_s),
        }
        rec.admit(
            job_id,
            submitted_s,
            fields,
            total_shots=total_shots,
            shots=shots,
            num_circuits=len(circuits),
        )
        rec.submitted(job_id, submitted_s, fields)
        rec.safe(self._recorder.circuit_info, job_id, circuits)
        inner, attempts, _ = rec.submit_with_retry(job_id, submitted_s, submit)
        job = InstrumentedPrimitiveJob(
            self, inner, job_id, submitted_s, attempts, {"primitive": self.kind, **details}
        )
        job.billed = (shots, len(circuits))
        return job

    def _outcome(self, result: Any, job: InstrumentedPrimitiveJob) -> dict[str, Any]:
        """The fields a finished job records besides its times (subclasses)."""
        raise NotImplementedError


class InstrumentedPrimitiveJob:
    """The primitive's job, recorded when its result is collected. Errors while
    waiting never resubmit it (``collector.wait_errors``)."""

    def __init__(
        self,
        owner: InstrumentedPrimitive,
        inner: Any,
        job_id: str,
        submitted_s: float,
        attempts: int,
        details: dict[str, Any],
    ) -> None:
        self._owner = owner
        self._inner = inner
        self.qsre_job_id = job_id
        self._submitted_s = submitted_s
        self._attempts = attempts
        self.details = details
        self._lock = threading.Lock()
        self._outcome: tuple[Any, BaseException | None] | None = None
        self._completed_s: float | None = None
        # (shots per circuit, circuits) the job is billed for; a subclass's
        # _outcome may correct the shots from the result ("billed_shots").
        self.billed = (0, 1)
        # A primitive job backed by a future (qiskit's PrimitiveJob, the runtime's
        # local mode) says when it completed, which its provider stamps may not.
        future = getattr(inner, "_future", None)
        if isinstance(future, Future):
            future.add_done_callback(self._completed)

    def _completed(self, _future: Future) -> None:
        self._completed_s = self._owner._rec.now_s()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._inner, name)

    def job_id(self) -> str:
        return str(self._inner.job_id())

    def result(self, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            if self._outcome is None:
                outcome, unsettled = self._collect(*args, **kwargs)
                if outcome is None:
                    # The job goes on: nothing cached, the next result() asks again.
                    raise unsettled  # type: ignore[misc]
                self._outcome = outcome
        result, error = self._outcome
        if error is not None:
            raise error
        return result

    def _collect(
        self, *args: Any, **kwargs: Any
    ) -> tuple[tuple[Any, BaseException | None] | None, BaseException | None]:
        rec = self._owner._rec
        polls, slept_s = 1, 0.0
        while True:
            try:
                result = self._inner.result(*args, **kwargs)
                break
            except Exception as exc:  # noqa: BLE001 - settled, then re-raised
                verdict, value = settle_wait_error(
                    exc,
                    self._inner,
                    self._owner._adapter,
                    lambda c, p=polls, s=slept_s: rec.backoff(c, p, s),
                )
                if verdict == REPOLL:
                    polls, slept_s = polls + 1, slept_s + value
                    continue
                if verdict == CANCELLED:
                    self._record({"status": "cancelled", **self._end_fields()})
                    return (None, exc), None
                if verdict == FAILED:
                    self._record_error(value, exc)
                    return (None, exc), None
                return None, exc
        try:
            fields = self._owner._outcome(result, self)
        except Exception:  # noqa: BLE001 - telemetry never breaks the call
            rec.failed()
            fields = {}
        now_s = rec.now_s()
        times = lifecycle_times(
            self._inner, result, self._submitted_s, None, now_s, self._completed_s
        )
        shots, circuits = self.billed
        cost = rec.cost_usd(fields.pop("billed_shots", shots), circuits, times["run_seconds"])
        self._record(
            {
                "status": "done",
                "cost_usd": cost,
                "attempts": self._attempts,
                "provider_job_id": self._provider_job_id(),
                "details": self.details,
                **times,
                **fields,
            }
        )
        return (result, None), None

    def _end_fields(self) -> dict[str, Any]:
        now_s = self._owner._rec.now_s()
        return {
            "attempts": self._attempts,
            "finished_at": now_s,
            "e2e_seconds": max(0.0, now_s - self._submitted_s),
            "provider_job_id": self._provider_job_id(),
            "details": self.details,
        }

    def _provider_job_id(self) -> str | None:
        try:
            return str(self._inner.job_id())
        except Exception:  # noqa: BLE001 - not every primitive job has an id
            return None

    def _record(self, fields: dict[str, Any]) -> None:
        self._owner._rec.event(self.qsre_job_id, fields)

    def _record_error(self, error_class: str, exc: BaseException) -> None:
        rec = self._owner._rec
        fields = error_fields(error_class, exc, self._attempts, self._submitted_s, rec.now_s())
        self._record(
            {**fields, "provider_job_id": self._provider_job_id(), "details": self.details}
        )
