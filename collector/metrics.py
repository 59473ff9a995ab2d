"""The metric catalogue: one place that names every Prometheus series qsre exposes.

The collector's exporter produces the ``qsre_job*``/``qsre_backend*``/``qsre_spool*``/
``qsre_recorder*`` families; validators and the SLO engine produce the others
through exporter sources. They are all listed here so that dashboards and rule
files can be checked against a single catalogue without importing those packages.

Label sets are bounded by design: job ids, circuit hashes and free-form tags never
appear as labels (they live in the store and in span attributes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

MetricType = Literal["counter", "gauge", "histogram"]

LATENCY_BUCKETS_SECONDS: tuple[float, ...] = (
    0.01,
    0.05,
    0.1,
    0.5,
    1,
    5,
    10,
    30,
    60,
    120,
    300,
    600,
    1800,
    3600,
    7200,
    21600,
    86400,
)

# Labels that would make cardinality unbounded; a spec using one is rejected.
FORBIDDEN_LABELS: frozenset[str] = frozenset(
    {"job_id", "id", "provider_job_id", "circuit_hash", "hash", "tag", "tags", "idempotency_key"}
)


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """One metric family: its exposition name, type, help text and label names."""

    name: str
    type: MetricType
    help: str
    labels: tuple[str, ...] = ()
    buckets: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if not self.name.startswith("qsre_"):
            raise ValueError(f"metric name {self.name!r}: expected the 'qsre_' prefix")
        if self.type == "counter" and not self.name.endswith("_total"):
            raise ValueError(f"counter {self.name!r}: expected a name ending in '_total'")
        if self.type != "counter" and self.name.endswith("_total"):
            raise ValueError(f"{self.type} {self.name!r}: '_total' is reserved for counters")
        if (self.type == "histogram") != (self.buckets is not None):
            raise ValueError(f"metric {self.name!r}: buckets are required exactly for histograms")
        bad = FORBIDDEN_LABELS.intersection(self.labels)
        if bad:
            raise ValueError(
                f"metric {self.name!r}: labels {sorted(bad)} have unbounded cardinality; "
                "keep them in the store or in span attributes"
            )

    def series_names(self) -> tuple[str, ...]:
        """Names of the series this family exposes in the text format."""
        if self.type == "histogram":
            return (f"{self.name}_bucket", f"{self.name}_sum", f"{self.name}_count")
        return (self.name,)


# --- produced by the collector's StoreExporter -------------------------------------------
JOBS_TOTAL = MetricSpec(
    "qsre_jobs_total",
    "counter",
    "Jobs that reached a terminal status (error_class is empty when none).",
    ("backend", "project", "status", "error_class"),
)
JOB_ATTEMPTS_TOTAL = MetricSpec(
    "qsre_job_attempts_total",
    "counter",
    "Submission attempts (retries included) of jobs that reached a terminal status.",
    ("backend",),
)
JOB_QUEUE_SECONDS = MetricSpec(
    "qsre_job_queue_seconds",
    "histogram",
    "Time from submission to start of execution of terminal jobs, in seconds.",
    ("backend",),
    LATENCY_BUCKETS_SECONDS,
)
JOB_RUN_SECONDS = MetricSpec(
    "qsre_job_run_seconds",
    "histogram",
    "Execution time of terminal jobs, in seconds.",
    ("backend",),
    LATENCY_BUCKETS_SECONDS,
)
JOB_E2E_SECONDS = MetricSpec(
    "qsre_job_e2e_seconds",
    "histogram",
    "Time from submission to result (or failure) of terminal jobs, in seconds.",
    ("backend",),
    LATENCY_BUCKETS_SECONDS,
)
JOBS_IN_FLIGHT = MetricSpec(
    "qsre_jobs_in_flight",
    "gauge",
    "Jobs recorded as queued or running.",
    ("backend",),
)
SHOTS_TOTAL = MetricSpec(
    "qsre_shots_total",
    "counter",
    "Shots requested by jobs that reached a terminal status.",
    ("backend", "project"),
)
COST_USD_TOTAL = MetricSpec(
    "qsre_cost_usd_total",
    "counter",
    "Cost in US dollars of jobs that reached a terminal status.",
    ("backend", "project"),
)
BACKEND_CALIBRATION_AGE_SECONDS = MetricSpec(
    "qsre_backend_calibration_age_seconds",
    "gauge",
    "Seconds since the backend's last reported calibration.",
    ("backend",),
)
SPOOL_EVENTS = MetricSpec(
    "qsre_spool_events",
    "gauge",
    "Lifecycle events in the local spool, by state (pending = not yet shipped to the store).",
    ("state",),
)
RECORDER_ERRORS_TOTAL = MetricSpec(
    "qsre_recorder_errors_total",
    "counter",
    "Failures of a telemetry recorder (store, spool, shipper, exporter); the user call proceeded.",
    ("recorder",),
)

# --- produced by validators (through an exporter source) ---------------------------------
VALIDATION_RUNS_TOTAL = MetricSpec(
    "qsre_validation_runs_total",
    "counter",
    "Reference-circuit validation runs by worst verdict (ok, warn, drift, diverged, not_evaluated).",
    ("backend", "circuit", "verdict"),
)
VALIDATION_FIDELITY = MetricSpec(
    "qsre_validation_fidelity",
    "gauge",
    "Hellinger fidelity of the last validation run against the ideal distribution.",
    ("backend", "circuit"),
)
VALIDATION_DIVERGENCE_TVD = MetricSpec(
    "qsre_validation_divergence_tvd",
    "gauge",
    "Total variation distance of the last validation run from the noisy-simulator prediction.",
    ("backend", "circuit"),
)
DRIFT_STATISTIC = MetricSpec(
    "qsre_drift_statistic",
    "gauge",
    "Current value of the sequential drift detector's statistic.",
    ("backend", "circuit"),
)
BACKEND_VERDICT = MetricSpec(
    "qsre_backend_verdict",
    "gauge",
    "1 for the backend's current validation verdict, 0 for the others.",
    ("backend", "verdict"),
)

# --- produced by the SLO engine (through an exporter source) -----------------------------
SLO_ERROR_BUDGET_REMAINING_RATIO = MetricSpec(
    "qsre_slo_error_budget_remaining_ratio",
    "gauge",
    "Fraction of the SLO period's error budget that remains (negative when overspent).",
    ("slo",),
)
SLO_BURN_RATE = MetricSpec(
    "qsre_slo_burn_rate",
    "gauge",
    "Error-budget burn rate of the SLO over a window (1 = exactly on budget).",
    ("slo", "window"),
)
SLO_SLI_RATIO = MetricSpec(
    "qsre_slo_sli_ratio",
    "gauge",
    "Good-event ratio of the SLO over its period.",
    ("slo",),
)
ALERTS_FIRING = MetricSpec(
    "qsre_alerts_firing",
    "gauge",
    "Alerts currently firing, by kind and severity.",
    ("kind", "severity"),
)

# --- produced by the daemon (`qsre run`) about itself: watching the watcher -------------
LAST_EVALUATION_TIMESTAMP = MetricSpec(
    "qsre_last_evaluation_timestamp_seconds",
    "gauge",
    "Unix time at which this process last finished an SLO and signal evaluation cycle.",
)
DAEMON_INFO = MetricSpec(
    "qsre_daemon_info",
    "gauge",
    "Always 1; the replica label identifies this daemon process (host:pid:random).",
    ("replica",),
)
LEASE_HELD = MetricSpec(
    "qsre_lease_held",
    "gauge",
    "1 while this process holds the named singleton-duty lease, else 0.",
    ("lease",),
)

COLLECTOR_METRICS: tuple[MetricSpec, ...] = (
    JOBS_TOTAL,
    JOB_ATTEMPTS_TOTAL,
    JOB_QUEUE_SECONDS,
    JOB_RUN_SECONDS,
    JOB_E2E_SECONDS,
    JOBS_IN_FLIGHT,
    SHOTS_TOTAL,
    COST_USD_TOTAL,
    BACKEND_CALIBRATION_AGE_SECONDS,
    SPOOL_EVENTS,
    RECORDER_ERRORS_TOTAL,
)
VALIDATOR_METRICS: tuple[MetricSpec, ...] = (
    VALIDATION_RUNS_TOTAL,
    VALIDATION_FIDELITY,
    VALIDATION_DIVERGENCE_TVD,
    DRIFT_STATISTIC,
    BACKEND_VERDICT,
)
SLO_METRICS: tuple[MetricSpec, ...] = (
    SLO_ERROR_BUDGET_REMAINING_RATIO,
    SLO_BURN_RATE,
    SLO_SLI_RATIO,
    ALERTS_FIRING,
)
DAEMON_METRICS: tuple[MetricSpec, ...] = (LAST_EVALUATION_TIMESTAMP, DAEMON_INFO, LEASE_HELD)
CATALOGUE: tuple[MetricSpec, ...] = (
    COLLECTOR_METRICS + VALIDATOR_METRICS + SLO_METRICS + DAEMON_METRICS
)

VALIDATION_VERDICTS: tuple[str, ...] = ("ok", "warn", "drift", "diverged", "not_evaluated")


def spec(name: str) -> MetricSpec:
    """The spec of a family by its name (``qsre_jobs_total``); KeyError names what exists."""
    for s in CATALOGUE:
        if s.name == name:
            return s
    raise KeyError(
        f"no metric {name!r} in the qsre catalogue; known: {[s.name for s in CATALOGUE]}"
    )


def catalogue_names() -> frozenset[str]:
    """Every family name and every series name (histogram ``_bucket``/``_sum``/``_count``)."""
    names: set[str] = set()
    for s in CATALOGUE:
        names.add(s.name)
        names.update(s.series_names())
    return frozenset(names)
