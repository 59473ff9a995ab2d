"""Executive dashboard: is the quantum platform reliable, what does it cost, is quality holding."""

from __future__ import annotations

from grafanalib.core import Dashboard

from dashboards.panels import (
    BACKEND,
    GREEN,
    RED,
    YELLOW,
    Layout,
    Query,
    bargauge,
    dashboard,
    stat,
    timeseries,
)

UID = "qsre-executive"
TITLE = "qsre Executive"

# The job_success SLI's definition (slo/rules.py): cancelled jobs are neither good nor
# bad, so the ratio drawn against the SLO objective leaves them out of the denominator.
_SUCCESS_RATIO = (
    f'sum(rate(qsre_jobs_total{{{BACKEND}, status="done"}}[1h]))'
    f' / sum(rate(qsre_jobs_total{{{BACKEND}, status!="cancelled"}}[1h]))'
)


def build(datasource_uid: str) -> Dashboard:
    """The executive overview; `datasource_uid` is the default Prometheus datasource."""
    layout = Layout()
    layout.row("Reliability")
    stat(
        layout,
        "Job success rate (1h)",
        [Query(_SUCCESS_RATIO, "success")],
        unit="percentunit",
        decimals=2,
        thresholds=[(None, RED), (0.99, YELLOW), (0.999, GREEN)],
        description="Share of finished jobs (cancelled ones excluded) that ended `done`.",
    )
    stat(
        layout,
        "Jobs in flight (backlog)",
        [Query(f"sum(qsre_jobs_in_flight{{{BACKEND}}})", "in flight")],
        thresholds=[(None, GREEN), (100, YELLOW), (500, RED)],
        description="Jobs submitted and not yet terminal, all selected backends.",
    )
    bargauge(
        layout,
        "Error budget remaining per SLO",
        [Query("qsre_slo_error_budget_remaining_ratio", "{{slo}}", instant=True)],
        unit="percentunit",
        max_value=1,
        thresholds=[(None, RED), (0.25, YELLOW), (0.5, GREEN)],
        w=12,
        h=6,
        description="Fraction of each SLO's error budget left in the current period.",
    )
    timeseries(
        layout,
        "Job success rate vs SLO",
        [
            Query(_SUCCESS_RATIO, "success rate (1h)"),
            Query("slo:objective:ratio", "objective {{slo}}"),
        ],
        unit="percentunit",
        w=24,
        description="Hourly job success ratio against each SLO objective (dashed).",
    )
    timeseries(
        layout,
        "Jobs in flight by backend",
        [Query(f"sum by (backend) (qsre_jobs_in_flight{{{BACKEND}}})", "{{backend}}")],
        stacked=True,
    )
    timeseries(
        layout,
        "Fidelity trend per backend",
        [
            Query(
                f"avg by (backend) (qsre_validation_fidelity{{{BACKEND}}})",
                "{{backend}}",
            )
        ],
        unit="percentunit",
        min_value=0,
        max_value=1,
        description="Mean Hellinger fidelity of the reference circuits vs their ideal output.",
    )
    layout.row("Spend")
    for period, label in (("7d", "this week"), ("30d", "this month")):
        bargauge(
            layout,
            f"Spend {label} by backend",
            [
                Query(
                    f"sum by (backend) (increase(qsre_cost_usd_total{{{BACKEND}}}[{period}]))",
                    "{{backend}}",
                    instant=True,
                )
            ],
            unit="currencyUSD",
            max_value=10_000,
            w=6,
        )
        bargauge(
            layout,
            f"Spend {label} by project",
            [
                Query(
                    f"sum by (project) (increase(qsre_cost_usd_total{{{BACKEND}}}[{period}]))",
                    "{{project}}",
                    instant=True,
                )
            ],
            unit="currencyUSD",
            max_value=10_000,
            w=6,
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
        w=24,
        description="US dollars per hour, averaged over the last hour.",
    )
    return dashboard(
        uid=UID,
        title=TITLE,
        description="Reliability, spend and result quality of the quantum platform at a glance.",
        tags=["qsre", "executive"],
        layout=layout,
        datasource_uid=datasource_uid,
        time_from="now-7d",
    )
