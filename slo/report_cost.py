"""The cost section: spend by backend, project and tag, per day, against the budget and
against the previous four weeks (billing anomalies), and the cost of watching.

Built from the SQL job groups of ``slo.report_jobs`` (the week's and the 4 weeks'
before it): no query of its own.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from statistics import median

from slo.report_jobs import JobGroup, TagGroup, ratio
from slo.report_week import ReportWeek, local_day_starts
from slo.spec import SLO
from slo.windows import factor_period_s

__all__ = [
    "BASELINE_WEEKS",
    "SPIKE_FACTOR",
    "SPIKE_MIN_USD",
    "TOP_SPENDERS",
    "VALIDATION_PROJECT",
    "BillingAnomaly",
    "CostSection",
    "DailySpend",
    "SpendBudget",
    "SpendTotal",
    "cost_section",
]

SPIKE_FACTOR = 3.0
SPIKE_MIN_USD = 1.0
BASELINE_WEEKS = 4
TOP_SPENDERS = 5
# The project the validators' scheduled runs are billed to (validators.runner
# VALIDATION_PROJECT; slo reads the store, never imports validators, and a test
# checks the two are equal).
VALIDATION_PROJECT = "qsre-validation"
_WEEK_S = 7 * 86400


@dataclass(frozen=True)
class SpendTotal:
    key: str
    jobs: int
    done_jobs: int
    shots: int
    spend_usd: float
    cost_per_successful_job_usd: float | None


@dataclass(frozen=True)
class DailySpend:
    day: str
    dimension: str  # backend | project | tag
    key: str
    jobs: int
    spend_usd: float


@dataclass(frozen=True)
class BillingAnomaly:
    project: str
    day: str
    spend_usd: float
    baseline_median_usd: float
    ratio: float | None  # None when the baseline is 0


@dataclass(frozen=True)
class SpendBudget:
    """A cost_budget SLO's budget, pro rata for one week."""

    slo: str
    budget_usd: float  # over the SLO's (nominal) period
    period_days: float
    week_budget_usd: float


@dataclass(frozen=True)
class CostSection:
    by_backend: tuple[SpendTotal, ...]
    by_project: tuple[SpendTotal, ...]
    by_tag: tuple[SpendTotal, ...]
    daily: tuple[DailySpend, ...]
    top_spenders: tuple[SpendTotal, ...]
    anomalies: tuple[BillingAnomaly, ...]
    baseline_available: bool
    validation_spend_usd: float = 0.0  # the cost of watching: the validators' own jobs
    validation_jobs: int = 0
    workload_spend_usd: float = 0.0
    budgets: tuple[SpendBudget, ...] = ()
    # Per day over the 4 weeks before: total spend (for the trend chart).
    baseline_daily_median_usd: float | None = None


def _totals_by(keyed: dict[str, list[tuple[int, bool, int, float]]]) -> tuple[SpendTotal, ...]:
    out = []
    for key, parts in keyed.items():
        spend = sum(p[3] for p in parts)
        done = sum(p[0] for p in parts if p[1])
        out.append(
            SpendTotal(
                key,
                sum(p[0] for p in parts),
                done,
                sum(p[2] for p in parts),
                spend,
                ratio(spend, done),
            )
        )
    return tuple(sorted(out, key=lambda s: (-s.spend_usd, s.key)))


def _daily(
    dimension: str, rows: list[tuple[int, str, int, float]], week: ReportWeek
) -> list[DailySpend]:
    jobs: dict[tuple[int, str], int] = defaultdict(int)
    spend: dict[tuple[int, str], float] = defaultdict(float)
    for day, key, n, usd in rows:
        jobs[(day, key)] += n
        spend[(day, key)] += usd
    return [
        DailySpend(week.days[d], dimension, k, jobs[(d, k)], spend[(d, k)]) for d, k in sorted(jobs)
    ]


def baseline_spend(baseline: Sequence[JobGroup], days: int) -> dict[str, list[float]]:
    """Project -> spend per local day over the ``days`` days of the baseline groups
    (days without jobs are 0); empty when nothing ran then."""
    out: dict[str, list[float]] = {}
    for g in baseline:
        if 0 <= g.day < days:
            out.setdefault(g.project, [0.0] * days)[g.day] += g.cost_usd
    return out


def _budgets(slos: Sequence[SLO]) -> tuple[SpendBudget, ...]:
    out = []
    for slo in slos:
        if slo.sli.kind != "cost_budget" or slo.sli.budget_usd is None:
            continue
        period_s = factor_period_s(slo.window)
        out.append(
            SpendBudget(
                slo.name,
                float(slo.sli.budget_usd),
                period_s / 86400,
                float(slo.sli.budget_usd) * _WEEK_S / period_s,
            )
        )
    return tuple(out)


def baseline_day_starts(week: ReportWeek) -> tuple[datetime, ...]:
    """Local midnights of the ``BASELINE_WEEKS`` weeks before ``week`` (its start included)."""
    days = 7 * BASELINE_WEEKS
    first = date.fromisoformat(week.days[0]) - timedelta(days=days)
    return local_day_starts(first, days, week.time_zone)


def cost_section(
    week: ReportWeek,
    groups: Sequence[JobGroup],
    tags: Sequence[TagGroup],
    baseline_groups: Sequence[JobGroup],
    slos: Sequence[SLO] = (),
) -> CostSection:
    """Spend of the week's job groups against the baseline groups (see ``read_jobs``)."""
    by_backend: dict[str, list[tuple[int, bool, int, float]]] = defaultdict(list)
    by_project: dict[str, list[tuple[int, bool, int, float]]] = defaultdict(list)
    by_tag: dict[str, list[tuple[int, bool, int, float]]] = defaultdict(list)
    for g in groups:
        by_backend[g.backend].append((g.jobs, g.done, g.shots, g.cost_usd))
        by_project[g.project].append((g.jobs, g.done, g.shots, g.cost_usd))
    for t in tags:
        by_tag[t.tag].append((t.jobs, t.done, t.shots, t.cost_usd))
    projects = _totals_by(by_project)
    daily_project = _daily(
        "project", [(g.day, g.project, g.jobs, g.cost_usd) for g in groups], week
    )
    daily = (
        _daily("backend", [(g.day, g.backend, g.jobs, g.cost_usd) for g in groups], week)
        + daily_project
        + _daily("tag", [(t.day, t.tag, t.jobs, t.cost_usd) for t in tags], week)
    )
    baseline = baseline_spend(baseline_groups, 7 * BASELINE_WEEKS)
    anomalies: list[BillingAnomaly] = []
    if baseline:
        for row in daily_project:
            hist = baseline.get(row.key)
            base = float(median(hist)) if hist is not None else 0.0
            if row.spend_usd >= SPIKE_MIN_USD and row.spend_usd > SPIKE_FACTOR * base:
                anomalies.append(
                    BillingAnomaly(
                        row.key, row.day, row.spend_usd, base, ratio(row.spend_usd, base)
                    )
                )
    anomalies.sort(key=lambda a: -a.spend_usd)
    validation = [g for g in groups if g.project == VALIDATION_PROJECT]
    validation_usd = sum(g.cost_usd for g in validation)
    all_days = [sum(day) for day in zip(*baseline.values(), strict=True)] if baseline else []
    return CostSection(
        by_backend=_totals_by(by_backend),
        by_project=projects,
        by_tag=_totals_by(by_tag),
        daily=tuple(daily),
        top_spenders=projects[:TOP_SPENDERS],
        anomalies=tuple(anomalies),
        baseline_available=bool(baseline),
        validation_spend_usd=validation_usd,
        validation_jobs=sum(g.jobs for g in validation),
        workload_spend_usd=sum(g.cost_usd for g in groups) - validation_usd,
        budgets=_budgets(slos),
        baseline_daily_median_usd=float(median(all_days)) if all_days else None,
    )
