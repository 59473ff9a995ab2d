"""On-call dashboard: what is broken right now, where, and since when."""

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
    table,
    timeseries,
)
from dashboards.sql import SqlSource, sql_table, sqlite_hint

UID = "qsre-oncall"
TITLE = "qsre On-call"

QUEUE_QUANTILES = (0.5, 0.95, 0.99)
BURN_WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")


def build(datasource_uid: str, sql: SqlSource | None = None) -> Dashboard:
    """The on-call triage view; `datasource_uid` is the default Prometheus datasource.

    With `sql` (a PostgreSQL store), the failing-job list and the top failing circuits
    are table panels on the store; without, a text panel says which `qsre jobs`
    command shows them.
    """
    layout = Layout()
    layout.row("Alerts and SLOs")
    table(
        layout,
        "Firing alerts",
        [
            Query(
                "sort_desc(sum by (kind, severity) (qsre_alerts_firing))",
                "{{kind}} {{severity}}",
                instant=True,
            )
        ],
        description="Alerts open in the qsre alert router (not silenced or inhibited) by "
        "kind and severity; 0 rows are kinds that are quiet. Alerts Prometheus itself "
        "evaluates from the generated rules appear as annotations.",
    )
    timeseries(
        layout,
        "Burn rate per SLO and window",
        [Query("qsre_slo_burn_rate", "{{slo}} {{window}}")],
        thresholds=[(None, GREEN), (1, YELLOW), (14.4, RED)],
        description="Error-budget burn rate (1 = spending exactly the budget over the period).",
    )
    layout.row("Queue")
    timeseries(
        layout,
        "Queue length (jobs in flight)",
        [Query(f"sum by (backend) (qsre_jobs_in_flight{{{BACKEND}}})", "{{backend}}")],
    )
    timeseries(
        layout,
        "Queue latency percentiles",
        [
            Query(
                f"histogram_quantile({q}, sum by (le, backend) "
                f"(rate(qsre_job_queue_seconds_bucket{{{BACKEND}}}[5m])))",
                f"p{round(q * 100)} {{{{backend}}}}",
            )
            for q in QUEUE_QUANTILES
        ],
        unit="s",
        description="Time from submission to the backend starting the job.",
    )
    layout.row("Failures")
    timeseries(
        layout,
        "Failing jobs by error class",
        [
            Query(
                f'sum by (backend, error_class) (rate(qsre_jobs_total{{{BACKEND}, status="error"}}[5m]))',
                "{{backend}} {{error_class}}",
            )
        ],
        unit="reqps",
        stacked=True,
    )
    timeseries(
        layout,
        "Auth error rate",
        [
            Query(
                f'sum by (backend) (rate(qsre_jobs_total{{{BACKEND}, error_class="auth"}}[5m]))'
                f" / sum by (backend) (rate(qsre_jobs_total{{{BACKEND}}}[5m]))",
                "{{backend}}",
            )
        ],
        unit="percentunit",
        thresholds=[(None, GREEN), (0.01, RED)],
    )
    table(
        layout,
        "Top failing circuits",
        [
            Query(
                "topk(10, sum by (backend, circuit) "
                f'(increase(qsre_validation_runs_total{{{BACKEND}, verdict!="ok"}}[6h])))',
                instant=True,
            )
        ],
        description="Reference circuits with the most non-ok validation runs in the last 6 h.",
    )
    timeseries(
        layout,
        "Backend verdicts",
        [Query(f"qsre_backend_verdict{{{BACKEND}}} == 1", "{{backend}} {{verdict}}")],
        description="Current validation verdict per backend (series present = verdict active).",
    )
    layout.row("Failing jobs (per job, from the store)")
    if sql is None:
        sqlite_hint(
            layout,
            "Failing jobs and top failing circuits",
            "qsre jobs --status error --since 6h\nqsre jobs show <id>",
        )
    else:
        sql_table(
            layout,
            "Failing jobs",
            store_sql.FAILING_JOBS,
            sql,
            description="Jobs that ended in error or unknown in the time range, newest "
            "first (at most 200). `qsre jobs show <job_id>` prints one in full; the "
            "trace_id column opens the job's trace.",
        )
        sql_table(
            layout,
            "Top failing circuits (jobs)",
            store_sql.TOP_FAILING_CIRCUITS,
            sql,
            description="User circuits (by circuit hash) with the most failed jobs in the "
            "time range, with the share of their jobs that failed and the latest failed job.",
            h=8,
        )
    layout.row("Calibration and cost")
    timeseries(
        layout,
        "Calibration age",
        [Query(f"qsre_backend_calibration_age_seconds{{{BACKEND}}}", "{{backend}}")],
        unit="s",
    )
    timeseries(
        layout,
        "Recalibration events",
        [
            Query(
                f"resets(qsre_backend_calibration_age_seconds{{{BACKEND}}}[1h])",
                "{{backend}}",
            )
        ],
        description="Recalibrations per hour (the calibration age dropping).",
    )
    timeseries(
        layout,
        "Spend rate by backend",
        [
            Query(
                f"sum by (backend) (rate(qsre_cost_usd_total{{{BACKEND}}}[1h])) * 3600",
                "{{backend}}",
            )
        ],
        unit="currencyUSD",
    )
    timeseries(
        layout,
        "Recorder errors and spool backlog",
        [
            Query(
                "sum by (recorder) (rate(qsre_recorder_errors_total[5m]))", "errors {{recorder}}"
            ),
            Query("sum by (state) (qsre_spool_events)", "spool {{state}}"),
        ],
    )
    return dashboard(
        uid=UID,
        title=TITLE,
        description="Triage view for the person holding the pager.",
        tags=["qsre", "oncall"],
        layout=layout,
        datasource_uid=datasource_uid,
    )
