"""Recording for SamplerV2 primitives: ``instrument_sampler(sampler, store=...)``.

Works with any SamplerV2 (Aer's, Qiskit's ``BackendSamplerV2``, qiskit-ibm-runtime's):
each ``run(pubs)`` becomes one job record with the same fields as
``ExecutionProxy`` jobs (one "circuit" per pub; counts merged over a pub's
parameter sweep). Wrapping a ``BackendSamplerV2`` whose backend is already an
``ExecutionProxy`` would record twice: use one or the other.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from qiskit.primitives.containers.sampler_pub import SamplerPub

from collector.classify import classify_exception
from collector.clock import Clock, SystemClock
from collector.cost import Pricing
from collector.errors import InvalidInput, ResultCorrupt
from collector.ids import new_job_id
from collector.proxy import lifecycle_times, normalize_circuits, validate_shots
from collector.quotas import Quotas
from collector.recorder import Recorder, spool_recorder
from collector.recording import JobRecording, error_fields
from collector.retry import RetryPolicy
from collector.store import Store

log = logging.getLogger(__name__)
DEFAULT_SAMPLER_SHOTS = 1024


def _sampler_backend_name(sampler: Any) -> str:
    for attr in ("backend", "_backend", "mode", "_mode"):
        target = getattr(sampler, attr, None)
        if callable(target) and attr == "backend":
            try:
                target = target()
            except TypeError:
                target = None
        name = getattr(target, "name", None)
        if callable(name):
            name = name()
        if isinstance(name, str) and name:
            return name
    return type(sampler).__name__.lower()


def pub_counts(pub_result: Any) -> tuple[dict[str, int], int]:
    """Counts of one pub result, registers concatenated, and the number of shots."""
    data = pub_result.data
    arrays = [getattr(data, name) for name in data]
    if not arrays:
        raise ResultCorrupt("sampler pub result has no classical registers")
    if len(arrays) == 1:
        bits = arrays[0]
    else:
        from qiskit.primitives.containers import BitArray

        bits = BitArray.concatenate_bits(arrays[::-1])
    counts = bits.get_counts()
    return counts, int(bits.num_shots * max(1, bits.size))


class InstrumentedSampler:
    """A SamplerV2 that records every ``run`` like ``ExecutionProxy``."""

    def __init__(
        self,
        sampler: Any,
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
        self._sampler = sampler
        self._store = Store(store) if isinstance(store, str) else store
        self.clock = clock or SystemClock()
        self.backend_name = backend_name or _sampler_backend_name(sampler)
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
        )

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._sampler, name)

    def run(self, pubs: Any, *, shots: int | None = None) -> InstrumentedJob:
        if not isinstance(pubs, (list, tuple)):
            raise InvalidInput("pubs", type(pubs).__name__, "a list of sampler pubs")
        if shots is not None:
            default_shots = validate_shots(shots)
        else:
            default_shots = getattr(self._sampler, "default_shots", None) or getattr(
                getattr(self._sampler, "options", None), "default_shots", None
            )
            default_shots = validate_shots(default_shots or DEFAULT_SAMPLER_SHOTS)
        coerced = [SamplerPub.coerce(p, default_shots) for p in pubs]
        normalize_circuits([p.circuit for p in coerced])
        pub_shots = [validate_shots(p.shots or default_shots) for p in coerced]
        total_shots = sum(p.shots * max(1, p.parameter_values.size) for p in coerced)
        job_id = new_job_id()
        submitted_s = self._rec.now_s()
        fields = {
            "shots": max(pub_shots),
            "num_circuits": len(coerced),
            "idempotency_key": job_id,
            "calibration_at": None,
        }
        self._rec.admit(
            job_id,
            submitted_s,
            fields,
            total_shots=total_shots,
            shots=max(pub_shots),
            num_circuits=len(coerced),
        )
        self._rec.submitted(job_id, submitted_s, fields)
        self._rec.safe(self._recorder.circuit_info, job_id, [p.circuit for p in coerced])
        inner, attempts, _ = self._rec.submit_with_retry(
            job_id, submitted_s, lambda: self._sampler.run(pubs, shots=shots)
        )
        return InstrumentedJob(self, inner, job_id, submitted_s, pub_shots, attempts)


class InstrumentedJob:
    """The sampler's job, recorded when its result is collected."""

    def __init__(
        self,
        sampler: InstrumentedSampler,
        inner: Any,
        job_id: str,
        submitted_s: float,
        pub_shots: list[int],
        attempts: int,
    ) -> None:
        self._sampler = sampler
        self._inner = inner
        self.qsre_job_id = job_id
        self._submitted_s = submitted_s
        self._pub_shots = pub_shots
        self._attempts = attempts
        self._lock = threading.Lock()
        self._outcome: tuple[Any, BaseException | None] | None = None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._inner, name)

    def result(self, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            if self._outcome is None:
                self._outcome = self._collect(*args, **kwargs)
        result, error = self._outcome
        if error is not None:
            raise error
        return result

    def _collect(self, *args: Any, **kwargs: Any) -> tuple[Any, BaseException | None]:
        s = self._sampler
        try:
            result = self._inner.result(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - recorded, then re-raised to the caller
            self._finish_error(classify_exception(exc), exc)
            return None, exc
        counts_out = []
        try:
            for index, pub_result in enumerate(result):
                counts, expected = pub_counts(pub_result)
                total = sum(counts.values())
                if total != expected:
                    raise ResultCorrupt(
                        f"sampler pub {index}: counts sum to {total}, expected {expected} shots"
                    )
                width = len(next(iter(counts))) if counts else 0
                counts_out.append({"fmt": "bin", "num_clbits": width, "counts": counts})
        except ResultCorrupt as exc:
            self._finish_error("result_corrupt", exc)
            return None, exc
        times = lifecycle_times(self._inner, result, self._submitted_s, None, s._rec.now_s())
        cost = s._rec.cost_usd(max(self._pub_shots), len(self._pub_shots), times["run_seconds"])
        fields: dict[str, Any] = {
            "status": "done",
            "cost_usd": cost,
            "attempts": self._attempts,
            "provider_job_id": self._provider_job_id(),
            **times,
        }
        if s._rec.record_counts:
            fields["counts"] = counts_out
        s._rec.event(self.qsre_job_id, fields)
        return result, None

    def _provider_job_id(self) -> str | None:
        try:
            return str(self._inner.job_id())
        except Exception:  # noqa: BLE001 - not every primitive job has an id
            return None

    def _finish_error(self, error_class: str, exc: BaseException) -> None:
        s = self._sampler
        fields = error_fields(error_class, exc, self._attempts, self._submitted_s, s._rec.now_s())
        s._rec.event(self.qsre_job_id, {**fields, "provider_job_id": self._provider_job_id()})


def instrument_sampler(sampler: Any, **kwargs: Any) -> InstrumentedSampler:
    """Wrap any SamplerV2 so every ``run`` is recorded (see ``InstrumentedSampler``)."""
    return InstrumentedSampler(sampler, **kwargs)


__all__ = ["InstrumentedJob", "InstrumentedSampler", "instrument_sampler"]
