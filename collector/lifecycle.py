"""A finished job's lifecycle times, from what the provider reports and what the
recording wrapper observed.

Provider timestamps (qiskit-ibm-runtime's ``job.metrics()``) know the queue and
run phases the wrapper cannot see, but are not always true:
qiskit-ibm-runtime's local testing mode stamps created = running = finished when
the job object is built, seconds before the job actually finishes. So a
provider's times are used only when they are consistent with the observation:
ordered (created <= running <= finished), finished after the submission (give
or take ``CLOCK_SKEW_S``) and, where the wrapper saw the job complete (a
future's completion callback on this host), within ``COMPLETION_SLACK_S`` of
that moment. Otherwise the observed times are used.
"""

from __future__ import annotations

from typing import Any

from collector.health import recorder_errors
from collector.providers import ProviderTimes, adapter_for
from collector.providers.base import epoch_s, finite_s
from collector.spool_format import finish_times

# How far a provider's clock may be from ours (NTP-synchronised hosts are within
# tens of milliseconds; a second leaves room for coarse provider stamps).
CLOCK_SKEW_S = 1.0
# How far a provider's "finished" may be from a completion the wrapper saw itself
# (a future completing on this host: no clock skew, only callback latency).
COMPLETION_SLACK_S = 0.05


def metrics_times(job: Any) -> ProviderTimes | None:
    """The ``job.metrics()`` convention (qiskit-ibm-runtime): timestamps created /
    running / finished and ``usage.quantum_seconds``."""
    metrics_fn = getattr(job, "metrics", None)
    if not callable(metrics_fn):
        return None
    try:
        metrics = metrics_fn() or {}
        stamps = metrics.get("timestamps") or {}
        usage = metrics.get("usage") or {}
        return ProviderTimes(
            created_s=epoch_s(stamps.get("created")),
            running_s=epoch_s(stamps.get("running")),
            finished_s=epoch_s(stamps.get("finished")),
            run_seconds=finite_s(usage.get("quantum_seconds")),
        )
    except Exception:  # noqa: BLE001 - metadata only
        recorder_errors.inc("provider_metrics")
        return None


def provider_times(job: Any, result: Any) -> ProviderTimes | None:
    """What the job's provider reports: its adapter first, then ``metrics()``."""
    try:
        times = adapter_for(job).provider_times(job, result)
    except Exception:  # noqa: BLE001 - an adapter never breaks recording
        recorder_errors.inc("provider_metrics")
        times = None
    return times if times is not None else metrics_times(job)


def consistent(times: ProviderTimes, submitted_s: float, completed_s: float | None) -> bool:
    """Whether the provider's stamps fit what the wrapper observed (module doc)."""
    stamps = [s for s in (times.created_s, times.running_s, times.finished_s) if s is not None]
    if times.finished_s is None or stamps != sorted(stamps):
        return False
    # Not before submission. (No bound after the result came back: qsre's
    # simulated world returns results computed ahead on a virtual timeline.)
    if times.finished_s < submitted_s - CLOCK_SKEW_S:
        return False
    return completed_s is None or abs(times.finished_s - completed_s) <= COMPLETION_SLACK_S


def lifecycle_times(
    inner_job: Any,
    result: Any,
    submitted_s: float,
    observed_running_s: float | None,
    now_s: float,
    completed_s: float | None = None,
) -> dict[str, Any]:
    """Lifecycle times of a finished job, in epoch seconds.

    ``now_s``: when the result came back to the wrapper; ``completed_s``: when the
    wrapper saw the job complete, if it did (earlier than ``now_s`` when the
    caller asked late). Provider stamps are used when ``consistent``; the run
    time is the provider's (quantum seconds) or the result's ``time_taken``,
    never a non-finite number.
    """
    started = finished = run_seconds = None
    times = provider_times(inner_job, result)
    if times is not None:
        run_seconds = times.run_seconds
        if consistent(times, submitted_s, completed_s):
            started, finished = times.running_s, times.finished_s
    if run_seconds is None:
        run_seconds = finite_s(getattr(result, "time_taken", None))
    if finished is None:
        finished = completed_s if completed_s is not None else now_s
    if started is None:
        started = observed_running_s
    return {"finished_at": finished, **finish_times(submitted_s, finished, started, run_seconds)}
