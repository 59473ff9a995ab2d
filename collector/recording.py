"""What every recording wrapper shares (the BackendV2 proxy and the SamplerV2
instrumentation): the recorder and the static fields of its jobs, the quota guard,
the submit-with-retry loop, error records and cost."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from typing import Any, TypeVar

from collector.classify import classify_exception
from collector.clock import Clock, epoch_seconds, sleep_on
from collector.cost import Pricing, actual_cost_usd, estimate_cost_usd
from collector.errors import QuotaExceeded
from collector.health import recorder_errors
from collector.providers import GENERIC, ProviderAdapter
from collector.quotas import QuotaGuard, Quotas
from collector.recorder import Recorder
from collector.retry import RetryPolicy
from collector.store import Store

log = logging.getLogger(__name__)
T = TypeVar("T")


def error_fields(
    error_class: str, exc: BaseException, attempts: int, submitted_s: float, now_s: float
) -> dict[str, Any]:
    """The terminal fields of a failed job (times in epoch seconds)."""
    return {
        "status": "error",
        "error_class": error_class,
        "error_message": f"{type(exc).__name__}: {exc}"[:2000],
        "attempts": attempts,
        "finished_at": now_s,
        "e2e_seconds": max(0.0, now_s - submitted_s),
    }


class JobRecording:
    """Records the jobs of one wrapper. Recording failures are counted, never raised."""

    def __init__(
        self,
        *,
        store: Store,
        recorder: Recorder,
        clock: Clock,
        backend: str,
        project: str,
        tags: dict[str, Any],
        pricing: Pricing | None,
        quotas: Quotas | None,
        retry: RetryPolicy,
        record_counts: bool,
        adapter: ProviderAdapter = GENERIC,
    ) -> None:
        self.store = store
        # The provider's client may retry a submission itself (see
        # ProviderAdapter.client_submit_attempts): then qsre adds none on top.
        self.adapter = adapter
        self.recorder = recorder
        self.clock = clock
        self.now_s = epoch_seconds(clock)
        self.pricing = pricing
        self.retry = retry
        self.record_counts = record_counts
        self.static = recorder.static_fragment(
            {
                "backend": backend,
                "project": project,
                "tags": tags,
                "purpose": str(tags.get("purpose", "workload")),
            }
        )
        self.guard = (
            QuotaGuard(quotas, store=store, clock=clock, backend=backend, project=project)
            if quotas is not None
            else None
        )
        self.rng = random.Random()
        # Starts plain jobs in one C call (None: without the extension, or when a
        # quota guard must see each job first).
        make_starter = getattr(recorder, "starter", None)
        self.starter = (
            make_starter(self.static.encode(), self.now_s, record_counts)
            if make_starter is not None and self.guard is None
            else None
        )

    def safe(self, fn: Callable[..., Any], *args: Any) -> None:
        try:
            fn(*args)
        except Exception:  # noqa: BLE001 - telemetry never breaks the user's call
            self.failed()

    @staticmethod
    def failed() -> None:
        """Count and log a recording failure (call from an ``except`` block)."""
        recorder_errors.inc("proxy")
        log.warning("qsre recording failed", exc_info=True)

    def submitted(self, job_id: str, at_s: float, fields: dict[str, Any]) -> None:
        self.safe(self.recorder.submitted, job_id, self.static, at_s, fields)

    def event(self, job_id: str, fields: dict[str, Any]) -> None:
        self.safe(self.recorder.event, {"id": job_id, **fields})

    def admit(
        self,
        job_id: str,
        at_s: float,
        fields: dict[str, Any],
        *,
        total_shots: int,
        shots: int,
        num_circuits: int,
    ) -> None:
        """Quota check before submission. A breach is recorded as a complete
        error/quota job (attempts 0) and raised as ``QuotaExceeded``."""
        if self.guard is None:
            return
        estimate = estimate_cost_usd(self.pricing, shots, num_circuits) if self.pricing else 0.0
        try:
            self.guard.check(total_shots, estimate)
        except QuotaExceeded as exc:
            self.submitted(job_id, at_s, fields)
            self.event(
                job_id,
                {
                    "status": "error",
                    "error_class": "quota",
                    "error_message": str(exc),
                    "attempts": 0,
                    "finished_at": at_s,
                    "e2e_seconds": 0.0,
                },
            )
            raise

    def backoff(self, error_class: str, attempts: int, slept_s: float) -> float | None:
        """Sleep before another attempt and return how long, or None: give up."""
        if not self.retry.should_retry(error_class, attempts, slept_s):
            return None
        delay = self.retry.delay_s(attempts, self.rng, slept_s)
        sleep_on(self.clock, delay)
        return delay

    def submit_with_retry(
        self,
        job_id: str,
        submitted_s: float,
        submit: Callable[[], T],
        first_error: Exception | None = None,
    ) -> tuple[T, int, float]:
        """``submit()`` retried on transient errors: (result, attempts, slept seconds).
        A final failure is recorded (one record, ``attempts = n``) and re-raised.
        ``first_error``: the first attempt was already made, and raised this."""
        attempts, slept_s = 1, 0.0
        while True:
            try:
                if first_error is not None:
                    error, first_error = first_error, None
                    raise error
                return submit(), attempts, slept_s
            except Exception as exc:
                error_class = classify_exception(exc)
                client_attempts = self.adapter.client_submit_attempts
                if client_attempts > 1 and error_class in self.retry.retry_on:
                    # The client already retried this one: retrying it again would
                    # multiply its attempts (5 x 4 POSTs for one run()). Its error
                    # may say how many it made.
                    attempts += (self.adapter.client_attempts(exc) or client_attempts) - 1
                    delay = None
                else:
                    delay = self.backoff(error_class, attempts, slept_s)
                if delay is None:
                    self.event(
                        job_id,
                        error_fields(error_class, exc, attempts, submitted_s, self.now_s()),
                    )
                    raise
                slept_s += delay
                attempts += 1

    def cost_usd(self, shots: int, num_circuits: int, run_seconds: float | None) -> float:
        """A finished job's cost, also counted against the spend quotas."""
        cost = self.price(shots, num_circuits, run_seconds)
        self.charge(cost)
        return cost

    def price(self, shots: int, num_circuits: int, run_seconds: float | None) -> float:
        """A finished job's cost, not yet counted against the quotas (``charge``)."""
        if self.pricing is None:
            return 0.0
        return actual_cost_usd(self.pricing, shots, num_circuits, run_seconds)

    def charge(self, cost_usd: float) -> None:
        if self.guard is not None and cost_usd:
            self.guard.charge(cost_usd)
