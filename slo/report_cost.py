"""The cost section: spend by backend, project and tag, per day, against the budget and
against the previous four weeks (billing anomalies), and the cost of watching.

Built from the SQL job groups of ``slo.report_jobs``; only the 4-week baseline is a
query of its own (spend per project and local day).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from statistics import median

from sqlalchemy import func, select

from collector.schema import JobRow
from collector.store import Store
from slo.report_jobs import JobGroup, TagGroup, day_bucket, ratio
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
_J = JobRow.__table__
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


def baseline_spend(store: Store, week: ReportWeek) -> dict[str, list[float]]:
    """Project -> spend per local day over the ``BASELINE_WEEKS`` weeks before ``week``
    (days without jobs are 0); empty when nothing ran then."""
    days = 7 * BASELINE_WEEKS
    first = date.fromisoformat(week.days[0]) - timedelta(days=days)
    edges = local_day_starts(first, days, week.time_zone)
    day = day_bucket(_J.c.submitted_at, edges).label("day")
    project = func.coalesce(_J.c.project, "").label("project")
    q = (
        select(project, day, func.coalesce(func.sum(_J.c.cost_usd), 0.0))
        .where(_J.c.submitted_at >= edges[0], _J.c.submitted_at < edges[-1])
        .group_by(project, day)
    )
    out: dict[str, list[float]] = {}
    with store.engine.connect() as conn:
        for p, d, usd in conn.execute(q):
            out.setdefault(p, [0.0] * days)[int(d)] += float(usd)
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


def cost_section(
    store: Store,
    week: ReportWeek,
    groups: Sequence[JobGroup],
    tags: Sequence[TagGroup],
    slos: Sequence[SLO] = (),
) -> CostSection:
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
    baseline = baseline_spend(store, week)
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
