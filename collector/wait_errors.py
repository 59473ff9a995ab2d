"""What an error raised while *waiting* for a job's result means.

Errors from ``job.result()`` are not submission errors: the job exists, has a
provider id, and may be running (and billed) whatever the client says. So they
are never grounds for submitting the job again. They mean one of three things:

- the client stopped waiting (a ``result(timeout=...)`` that ran out, qiskit's
  ``JobTimeoutError``, qiskit-ibm-runtime's ``RuntimeJobTimeoutError``): the job
  goes on, ask again later;
- the job was cancelled (``concurrent.futures.CancelledError``, the runtime's
  ``RuntimeInvalidStateError: Job was cancelled``, a ``CANCELLED`` status);
- anything else: the job's own failure only if the provider reports the job
  finished; otherwise (a 503 while polling, a rotated token) the job's fate is
  unknown and the caller decides.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from qiskit.providers import JobStatus

from collector.classify import classify_exception

# Exceptions that say the client gave up waiting, not that the job ended. (The
# runtime's RuntimeJobMaxTimeoutError is the job hitting its own time limit: an end.)
_WAIT_TIMEOUT_NAMES = frozenset({"RuntimeJobTimeoutError", "JobTimeoutError"})
_FINAL = (JobStatus.DONE, JobStatus.ERROR, JobStatus.CANCELLED)


def is_wait_timeout(exc: BaseException) -> bool:
    """Whether ``exc`` means "stopped waiting" (the job itself goes on)."""
    return isinstance(exc, TimeoutError) or any(
        klass.__name__ in _WAIT_TIMEOUT_NAMES for klass in type(exc).__mro__
    )


def is_cancellation(exc: BaseException, adapter: Any = None) -> bool:
    """Whether ``exc`` from ``result()`` means the job was cancelled."""
    if type(exc).__name__ == "CancelledError":
        return True
    return bool(adapter is not None and adapter.is_cancelled(exc))


def final_status(job: Any) -> JobStatus | None:
    """The job's status if the provider reports it final (DONE, ERROR, CANCELLED);
    None when it is not, or when asking fails (then nobody knows)."""
    try:
        status = job.status()
    except Exception:  # noqa: BLE001 - unknown: the caller treats it as not final
        return None
    if isinstance(status, str):  # qiskit-ibm-runtime may answer with a name
        status = getattr(JobStatus, status.upper(), None)
    return status if status in _FINAL else None


CANCELLED, FAILED, REPOLL, UNSETTLED = "cancelled", "failed", "repoll", "unsettled"


def settle_wait_error(
    exc: BaseException,
    job: Any,
    adapter: Any,
    backoff: Callable[[str], float | None],
) -> tuple[str, Any]:
    """What an error from waiting on ``job`` means (module doc), as one of:
    ``(CANCELLED, None)``, ``(FAILED, error_class)`` (the provider reports the job
    failed: record it), ``(REPOLL, delay_s)`` (a transient error, slept on by
    ``backoff(error_class)``: ask the same job again) or ``(UNSETTLED, None)``
    (raise to the caller, cache nothing: the job goes on)."""
    if is_cancellation(exc, adapter):
        return CANCELLED, None
    if is_wait_timeout(exc):
        return UNSETTLED, None
    error_class = classify_exception(exc)
    if error_class == "transient":
        delay = backoff(error_class)
        if delay is not None:
            return REPOLL, delay
    status = final_status(job)
    if status is JobStatus.CANCELLED:
        return CANCELLED, None
    if status is JobStatus.ERROR:
        # The provider says the job failed: this error is its outcome. (A DONE
        # job whose result could not be fetched is not a failure: the next
        # result() fetches it.)
        return FAILED, error_class
    return UNSETTLED, None
