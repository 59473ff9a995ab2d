"""The numbers of the weekly SLO and cost report: one ``ReportData`` per week.

Everything the HTML page, the Markdown summary, the CSV files and ``report.json``
show comes from ``collect_report_data``; the renderers only format. Each section is
read by a module of its own:

- ``slo.report_week``: the week's bounds in its time zone
- ``slo.report_jobs``: job groups, totals and tags, aggregated in SQL
  (``slo.report_sql``: the day bucket; ``slo.report_latency``: percentiles)
- ``slo.report_cost``: spend by backend/project/tag, budget, anomalies, cost of watching
- ``slo.report_slos``: the SLO engine at each day boundary
- ``slo.report_alerts``: alert episodes merged into incidents
- ``slo.report_validation``: fidelity, mitigation, drift/divergence episodes
- ``slo.report_calibration``: calibration age per backend

Rendering is elsewhere: ``slo.report_verdict`` (attention items), ``slo.report_charts``,
``slo.report_csv``, ``slo.report_render`` (templates).

Definitions (also written into ``report.json`` under ``definitions``) are below.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from collector.clock import Clock
from collector.store import Store
from slo.report_alerts import AlertEpisode, AlertKindCount, AlertSection, Incident, alert_section
from slo.report_calibration import CalibrationAge, calibration_ages
from slo.report_cost import (
    BASELINE_WEEKS,
    SPIKE_FACTOR,
    SPIKE_MIN_USD,
    VALIDATION_PROJECT,
    BillingAnomaly,
    CostSection,
    DailySpend,
    SpendTotal,
    baseline_day_starts,
    cost_section,
)
from slo.report_jobs import LatencyRow, Totals, read_jobs
from slo.report_slos import (
    BudgetPoint,
    EngineFactory,
    SLOEntry,
    default_engine_factory,
    slo_entries,
)
from slo.report_validation import (
    DEFAULT_MITIGATION_MARGIN,
    BackendVerdicts,
    FidelityPoint,
    FidelitySection,
    MitigationGain,
    ValidationEpisode,
    ValidationEvent,
    fidelity_section,
    mitigation_margin,
)
from slo.report_week import (
    WEEK_FORMAT,
    ReportError,
    ReportWeek,
    last_complete_week,
    parse_week,
)
from slo.spec import SLO

__all__ = [
    "DEFINITIONS",
    "WEEK_FORMAT",
    "AlertEpisode",
    "AlertKindCount",
    "AlertSection",
    "BackendVerdicts",
    "BillingAnomaly",
    "BudgetPoint",
    "CalibrationAge",
    "CostSection",
    "DailySpend",
    "Delta",
    "EngineFactory",
    "FidelityPoint",
    "FidelitySection",
    "Incident",
    "LatencyRow",
    "MitigationGain",
    "ReportData",
    "ReportError",
    "ReportWeek",
    "SLOEntry",
    "SpendTotal",
    "Totals",
    "ValidationEpisode",
    "ValidationEvent",
    "collect_report_data",
    "default_engine_factory",
    "last_complete_week",
    "mitigation_margin",
    "parse_week",
]

DEFINITIONS = {
    "day": "local day (report time zone) of a job's submitted_at",
    "jobs": "all jobs submitted in the week, every purpose",
    "success_rate": "done / terminal jobs except cancelled and error_class quota/invalid_input",
    "percentiles": "linear interpolation (numpy 'linear' = PostgreSQL percentile_cont)",
    "billing_anomaly": (
        f"a project's daily spend > {SPIKE_FACTOR:g} x the median of its daily spend over the "
        f"previous {BASELINE_WEEKS} weeks (days without jobs count as 0) and >= "
        f"{SPIKE_MIN_USD:g} USD"
    ),
    "cost_of_watching": f"spend of the validation jobs (project {VALIDATION_PROJECT!r})",
    "budget": "a cost_budget SLO's budget_usd pro rata for 7 days of its period",
    "slo": (
        "SLO engine evaluated at each day boundary (and when generated, for a week in"
        " progress); week end = qsre slo status --at <end>"
    ),
    "alerts": (
        "alert episodes from slo_alerts and the notification log; an episode starts at its "
        "first notification (or starts_at) and ends at its resolution"
    ),
    "incidents": (
        "episodes of one alert on one SLO/backend, merged when the next starts within 1 h "
        "of the previous one's end"
    ),
    "validation_episodes": (
        "per backend, from the first hourly suite run flagging drift (or divergence) on any "
        "circuit to the first later suite run flagging none"
    ),
    "mitigation": (
        "validation runs (one per reference circuit) with raw and readout-mitigated fidelity; "
        "improved = mitigated - raw >= margin (the first mitigation_gain SLO's margin, else "
        f"{DEFAULT_MITIGATION_MARGIN:g}); means are plain means over those runs"
    ),
}


@dataclass(frozen=True)
class Delta:
    metric: str
    this_week: float | None
    previous_week: float | None
    change: float | None
    change_ratio: float | None  # change / previous (None when previous is 0 or missing)


@dataclass(frozen=True)
class ReportData:
    week: ReportWeek
    generated_at: datetime
    totals: Totals
    previous_totals: Totals
    deltas: tuple[Delta, ...]
    slos: tuple[SLOEntry, ...]
    slo_error: str | None
    alerts: AlertSection
    fidelity: FidelitySection
    calibration: tuple[CalibrationAge, ...]
    latency: tuple[LatencyRow, ...]
    cost: CostSection
    days_with_jobs: int = 0
    backends: tuple[str, ...] = ()  # every backend seen anywhere in the report, sorted

    @property
    def empty(self) -> bool:
        """Nothing ran: no jobs and no validation runs in the week."""
        return self.totals.jobs == 0 and not self.fidelity.trend

    @property
    def partial(self) -> bool:
        """Jobs on only some days of the week (or the week has not ended)."""
        return not self.empty and (self.days_with_jobs < 7 or self.generated_at < self.week.end)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: datetimes as ISO 8601 UTC strings."""
        out = _jsonable(dataclasses.asdict(self))
        out["definitions"] = dict(DEFINITIONS)
        return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and value != value:
        return None
    return value


def _deltas(cur: Totals, prev: Totals) -> tuple[Delta, ...]:
    out = []
    for metric in ("jobs", "success_rate", "spend_usd", "e2e_p95_seconds", "queue_p95_seconds"):
        a, b = getattr(cur, metric), getattr(prev, metric)
        change = None if a is None or b is None else float(a) - float(b)
        ratio = None if change is None or not b else change / float(b)
        out.append(Delta(metric, a, b, change, ratio))
    return tuple(out)


def collect_report_data(
    store: Store,
    slos: Sequence[SLO],
    week: ReportWeek,
    *,
    clock: Clock,
    engine_factory: EngineFactory | None = None,
) -> ReportData:
    """Every number of the weekly report, read from ``store`` (and the SLO engine).

    Jobs are aggregated in SQL: memory grows with (day, backend, project, outcome)
    groups, not with the number of jobs."""
    jobs = read_jobs(store, week.day_starts, week.days, baseline_day_starts(week))
    totals, prev_totals, groups = jobs.totals, jobs.previous_totals, jobs.groups
    slo_error = None
    try:
        entries = slo_entries(store, slos, week, clock, engine_factory)
    except ReportError as exc:
        entries, slo_error = (), str(exc)
    fidelity = fidelity_section(store, week, slos)
    calibration = calibration_ages(store, week)
    backends = sorted(
        {g.backend for g in groups}
        | {v.backend for v in fidelity.verdicts}
        | {c.backend for c in calibration}
    )
    return ReportData(
        week=week,
        generated_at=clock.now(),
        totals=totals,
        previous_totals=prev_totals,
        deltas=_deltas(totals, prev_totals),
        slos=entries,
        slo_error=slo_error,
        alerts=alert_section(store, week),
        fidelity=fidelity,
        calibration=calibration,
        latency=jobs.latency,
        cost=cost_section(week, groups, jobs.tags, jobs.baseline_groups, slos),
        days_with_jobs=len({g.day for g in groups}),
        backends=tuple(backends),
    )
