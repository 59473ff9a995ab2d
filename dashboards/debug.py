"""Debug dashboard: per-circuit validation detail, latency breakdown and telemetry health."""

from __future__ import annotations

from grafanalib.core import Dashboard

from dashboards import store_sql
from dashboards.panels import (
    BACKEND,
    GREEN,
    RED,
    YELLOW,
    Layout,
    Query,
    dashboard,
    state_timeline,
    timeseries,
)
from dashboards.sql import SqlSource, sql_annotation, sql_table, sql_timeseries, sqlite_hint

UID = "qsre-debug"
TITLE = "qsre Debug"

# Fidelity bands for the state timeline; the verdict itself comes from the validators'
# statistical tests, these only colour the picture.
FIDELITY_BANDS = ((None, RED), (0.8, YELLOW), (0.95, GREEN))


# The heatmap's colour scale: red at or below 0.7, green at 1.
HEATMAP_SCALE = (0.7, 1.0)


def build(datasource_uid: str, sql: SqlSource | None = None) -> Dashboard:
    """The debugging view; `datasource_uid` is the default Prometheus datasource.

    With `sql` (a PostgreSQL store): software/firmware version changes recorded by
    the validators as annotations, and a table of problem jobs linking to their
    traces; without, a text panel pointing at `qsre jobs`.
    """
    layout = Layout()
    layout.row("Validation")
    state_timeline(
        layout,
        "Fidelity heatmap: backend × circuit over time",
        [Query(f"qsre_validation_fidelity{{{BACKEND}}}", "{{backend}} {{circuit}}")],
        color_scale=HEATMAP_SCALE,
        h=12,
        description="One row per backend and reference circuit; colour is the Hellinger "
        "fidelity to the ideal distribution (red at 0.7 or less, green at 1). Purple "
        "markers are version changes, blue ones recalibrations.",
    )
    state_timeline(
        layout,
        "Fidelity per reference circuit",
        [Query(f"qsre_validation_fidelity{{{BACKEND}}}", "{{backend}} {{circuit}}")],
        thresholds=FIDELITY_BANDS,
    )
    timeseries(
        layout,
        "Fidelity per circuit over time",
        [Query(f"qsre_validation_fidelity{{{BACKEND}}}", "{{backend}} {{circuit}}")],
        unit="percentunit",
        max_value=1,
    )
    timeseries(
        layout,
        "Readout mitigation: raw vs mitigated fidelity",
        [
            # Raw fidelity averaged over the same circuits as the mitigated one, so a
            # backend reporting no readout calibration does not skew the comparison.
            Query(
                f"avg by (backend) (qsre_validation_fidelity{{{BACKEND}}} "
                f"and on (backend, circuit) qsre_validation_fidelity_mitigated{{{BACKEND}}})",
                "raw {{backend}}",
            ),
            Query(
                f"avg by (backend) (qsre_validation_fidelity_mitigated{{{BACKEND}}})",
                "mitigated {{backend}}",
            ),
        ],
        unit="percentunit",
        max_value=1,
        description="Mean Hellinger fidelity to the ideal distribution over the reference "
        "circuits of each backend, from raw counts and after readout mitigation (mthree, with "
        "the backend's reported readout calibration). Mitigated not above raw means the "
        "reported readout calibration no longer describes the device.",
    )
    timeseries(
        layout,
        "Divergence vs noisy simulator (TVD)",
        [Query(f"qsre_validation_divergence_tvd{{{BACKEND}}}", "{{backend}} {{circuit}}")],
        description="Total variation distance between measured counts and the backend's own "
        "noisy-simulator prediction.",
    )
    timeseries(
        layout,
        "Drift statistic",
        [Query(f"qsre_drift_statistic{{{BACKEND}}}", "{{backend}} {{circuit}}")],
        description="Sequential change-detection statistic per circuit.",
    )
    timeseries(
        layout,
        "Validation verdicts by circuit",
        [
            Query(
                f"sum by (backend, circuit, verdict) "
                f"(increase(qsre_validation_runs_total{{{BACKEND}}}[1h]))",
                "{{backend}} {{circuit}} {{verdict}}",
            )
        ],
        stacked=True,
    )
    layout.row("Jobs")
    timeseries(
        layout,
        "Run vs queue latency (p50 / p95)",
        [
            Query(
                f"histogram_quantile({q}, sum by (le, backend) "
                f"(rate(qsre_job_{phase}_seconds_bucket{{{BACKEND}}}[5m])))",
                f"{phase} p{round(q * 100)} {{{{backend}}}}",
            )
            for phase in ("queue", "run")
            for q in (0.5, 0.95)
        ],
        unit="s",
    )
    timeseries(
        layout,
        "End-to-end latency percentiles",
        [
            Query(
                f"histogram_quantile({q}, sum by (le, backend) "
                f"(rate(qsre_job_e2e_seconds_bucket{{{BACKEND}}}[5m])))",
                f"p{round(q * 100)} {{{{backend}}}}",
            )
            for q in (0.5, 0.95, 0.99)
        ],
        unit="s",
    )
    if sql is None:
        sqlite_hint(
            layout,
            "Network and client overhead per backend",
            "qsre jobs --backend B --wide   # e2e s minus queue s and run s",
            w=12,
            h=8,
        )
    else:
        sql_timeseries(
            layout,
            "Network and client overhead per backend (p95 of e2e - queue - run)",
            store_sql.CLIENT_OVERHEAD,
            sql,
            description="The time a job spends outside the provider's queue and run: "
            "the submission call, polling and fetching the result. It grows with "
            "network or API latency (and with the polling interval); per-call RPC "
            "timings are not recorded.",
        )
    timeseries(
        layout,
        "Mean shots per job",
        [
            Query(
                f"sum by (backend, project) (rate(qsre_shots_total{{{BACKEND}}}[1h]))"
                f" / sum by (backend, project) (rate(qsre_jobs_total{{{BACKEND}}}[1h]))",
                "{{backend}} {{project}}",
            )
        ],
    )
    timeseries(
        layout,
        "Retries: attempts per job",
        [
            Query(
                f"sum by (backend) (rate(qsre_job_attempts_total{{{BACKEND}}}[1h]))"
                f" / sum by (backend) (rate(qsre_jobs_total{{{BACKEND}}}[1h]))",
                "{{backend}}",
            )
        ],
        thresholds=[(None, GREEN), (1.2, YELLOW), (2, RED)],
        description="1.0 means no retries; above it, jobs needed resubmission.",
    )
    layout.row("Problem jobs and their traces")
    if sql is None:
        sqlite_hint(
            layout,
            "Problem jobs",
            "qsre jobs --status error --since 6h --wide\nqsre jobs show <id>",
        )
    else:
        sql_table(
            layout,
            "Problem jobs (failed, retried, slower than p95)",
            store_sql.PROBLEM_JOBS,
            sql,
            description="Jobs in the time range that failed, needed retries, or took "
            "longer end to end than their backend's 95th percentile; the trace_id "
            "column opens the job's OpenTelemetry trace (links.trace_url_template).",
        )
    layout.row("Telemetry health")
    timeseries(
        layout,
        "Spool events by state",
        [Query("sum by (state) (qsre_spool_events)", "{{state}}")],
        description="Events waiting in local spools; growth means the store is not keeping up.",
    )
    timeseries(
        layout,
        "Recorder errors",
        [Query("sum by (recorder) (rate(qsre_recorder_errors_total[5m]))", "{{recorder}}")],
        unit="reqps",
    )
    return dashboard(
        uid=UID,
        title=TITLE,
        description="Per-circuit validation, latency breakdown, retries and telemetry health.",
        tags=["qsre", "debug"],
        layout=layout,
        datasource_uid=datasource_uid,
        annotations=[]
        if sql is None
        else [sql_annotation("Version changes", store_sql.VERSION_CHANGES, sql)],
    )
