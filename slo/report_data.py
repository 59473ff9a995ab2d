"""The numbers of the weekly SLO and cost report: store queries -> frozen dataclasses.

Everything the HTML page, the Markdown summary and ``report.json`` show comes from
``collect_report_data``; the renderers only format. Definitions (also written into
``report.json`` under ``definitions``):

- A job belongs to the local day (in the report's time zone) of its ``submitted_at``;
  the week is ISO Monday 00:00 to the next Monday 00:00 in that zone. All purposes
  (workload and validation) count: validation jobs cost money too.
- Success rate = done / (terminal jobs, except ``cancelled`` and client-side
  rejections with error_class ``quota``/``invalid_input``).
- Latency percentiles are linear-interpolated (numpy ``linear``, PostgreSQL
  ``percentile_cont``) over the jobs with a measured ``queue_seconds``/``e2e_seconds``.
- SLO numbers come from the SLO engine evaluated at the week's day boundaries, so the
  week-end figures are what ``qsre slo status --at <week end>`` shows.
"""

from __future__ import annotations

import dataclasses
import re
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    inspect,
    select,
)

from collector.clock import Clock, as_utc
from collector.schema import BackendRow, CalibrationSnapshotRow, JobRow, UTCDateTime
from collector.store import Store
from slo.alerts import ALERT_KINDS
from slo.errors import SLOError
from slo.spec import SLO
from slo.validation_table import VALIDATION_RUNS

WEEK_FORMAT = "YYYY-Www (ISO 8601 week, e.g. 2026-W47)"
_WEEK_RE = re.compile(r"^(\d{4})-W(\d{2})$")
PERCENTILES = (50, 95, 99)
CLIENT_REJECTIONS = ("quota", "invalid_input")
SPIKE_FACTOR = 3.0
SPIKE_MIN_USD = 1.0
BASELINE_WEEKS = 4
TOP_SPENDERS = 5
# Margin of the report's "improved" share when no mitigation_gain SLO names one.
DEFAULT_MITIGATION_MARGIN = 0.01

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
    "slo": "SLO engine evaluated at each day boundary; week end = qsre slo status --at <end>",
    "alerts": (
        "alert episodes from slo_alerts and the notification log; an episode starts at its "
        "first notification (or starts_at) and ends at its resolution"
    ),
    "mitigation": (
        "validation runs (one per reference circuit) with raw and readout-mitigated fidelity; "
        "improved = mitigated - raw >= margin (the first mitigation_gain SLO's margin, else "
        f"{DEFAULT_MITIGATION_MARGIN:g}); means are plain means over those runs"
    ),
}


class ReportError(SLOError):
    """A report that cannot be built as asked (bad week, time zone, missing engine)."""


# ------------------------------------------------------------------------- week
@dataclass(frozen=True)
class ReportWeek:
    """One ISO week in a time zone; instants are aware UTC."""

    label: str
    time_zone: str
    start: datetime
    end: datetime
    day_starts: tuple[datetime, ...]  # 8 instants: each local midnight, end included
    days: tuple[str, ...]  # the 7 local dates, ISO format

    def shifted(self, weeks: int) -> ReportWeek:
        monday = date.fromisoformat(self.days[0]) + timedelta(weeks=weeks)
        year, week, _ = monday.isocalendar()
        return parse_week(f"{year:04d}-W{week:02d}", self.time_zone)


def _zone(time_zone: str) -> ZoneInfo:
    try:
        return ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ReportError(
            f"timezone: expected an IANA time zone name such as UTC or Europe/Berlin, "
            f"got {time_zone!r}"
        ) from exc


def parse_week(week: str, time_zone: str = "UTC") -> ReportWeek:
    """Bounds of an ISO week like ``2026-W47``: Monday 00:00 to next Monday 00:00 local."""
    match = _WEEK_RE.match(week.strip()) if isinstance(week, str) else None
    monday: date | None = None
    if match:
        try:
            monday = date.fromisocalendar(int(match.group(1)), int(match.group(2)), 1)
        except ValueError:
            monday = None
    if monday is None:
        raise ReportError(
            f"week: expected {WEEK_FORMAT}, with a week number that exists in that year; "
            f"got {week!r}"
        )
    zone = _zone(time_zone)
    local_days = [monday + timedelta(days=i) for i in range(8)]
    day_starts = tuple(
        datetime.combine(d, time(0), tzinfo=zone).astimezone(UTC) for d in local_days
    )
    year, number, _ = monday.isocalendar()
    return ReportWeek(
        label=f"{year:04d}-W{number:02d}",
        time_zone=time_zone,
        start=day_starts[0],
        end=day_starts[-1],
        day_starts=day_starts,
        days=tuple(d.isoformat() for d in local_days[:7]),
    )


def last_complete_week(now: datetime, time_zone: str = "UTC") -> str:
    """The label of the last ISO week that ended at or before ``now`` in ``time_zone``."""
    local = now.astimezone(_zone(time_zone))
    this_monday = local.date() - timedelta(days=local.weekday())
    year, number, _ = (this_monday - timedelta(days=7)).isocalendar()
    return f"{year:04d}-W{number:02d}"


# ------------------------------------------------------------------ value types
@dataclass(frozen=True)
class Totals:
    jobs: int
    terminal_jobs: int
    done_jobs: int
    success_rate: float | None
    spend_usd: float
    shots: int
    cost_per_successful_job_usd: float | None
    shots_per_job: float | None
    queue_p95_seconds: float | None
    e2e_p95_seconds: float | None


@dataclass(frozen=True)
class Delta:
    metric: str
    this_week: float | None
    previous_week: float | None
    change: float | None
    change_ratio: float | None  # change / previous (None when previous is 0 or missing)


@dataclass(frozen=True)
class LatencyRow:
    day: str
    backend: str
    jobs: int
    queue_samples: int
    queue_p50_seconds: float | None
    queue_p95_seconds: float | None
    queue_p99_seconds: float | None
    e2e_samples: int
    e2e_p50_seconds: float | None
    e2e_p95_seconds: float | None
    e2e_p99_seconds: float | None


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
class CostSection:
    by_backend: tuple[SpendTotal, ...]
    by_project: tuple[SpendTotal, ...]
    by_tag: tuple[SpendTotal, ...]
    daily: tuple[DailySpend, ...]
    top_spenders: tuple[SpendTotal, ...]
    anomalies: tuple[BillingAnomaly, ...]
    baseline_available: bool


@dataclass(frozen=True)
class BudgetPoint:
    at: datetime
    sli_ratio: float | None
    budget_remaining_ratio: float | None


@dataclass(frozen=True)
class SLOEntry:
    name: str
    objective: float
    sli_kind: str
    window_start: datetime | None
    window_end: datetime | None
    good: float
    total: float
    attainment: float | None
    met: bool | None
    budget_remaining_ratio: float | None
    budget_used_in_week_ratio: float | None
    firing: tuple[str, ...]
    burn_rates: dict[str, float | None]
    burn_down: tuple[BudgetPoint, ...]
    notes: tuple[str, ...]
    status: dict[str, Any]  # SLOStatus.to_dict() at the week end


@dataclass(frozen=True)
class AlertEpisode:
    fingerprint: str
    alertname: str
    kind: str
    severity: str
    subject: str  # the slo or backend label, "" if none
    started_at: datetime
    resolved_at: datetime | None
    resolve_seconds: float | None


@dataclass(frozen=True)
class AlertKindCount:
    kind: str
    fired: int
    resolved: int
    median_resolve_seconds: float | None


@dataclass(frozen=True)
class AlertSection:
    available: bool
    fired: int
    resolved: int
    still_open: int
    median_resolve_seconds: float | None
    max_resolve_seconds: float | None
    by_kind: tuple[AlertKindCount, ...]
    episodes: tuple[AlertEpisode, ...]


@dataclass(frozen=True)
class FidelityPoint:
    backend: str
    circuit: str
    day: str
    runs: int
    mean_fidelity: float | None


@dataclass(frozen=True)
class ValidationEvent:
    backend: str
    circuit: str
    ran_at: datetime
    verdict: str
    fidelity: float | None
    divergence_tvd: float | None
    drift_statistic: float | None


@dataclass(frozen=True)
class BackendVerdicts:
    backend: str
    runs: int
    counts: dict[str, int]


@dataclass(frozen=True)
class MitigationGain:
    """Readout mitigation on one backend over the week: the validation runs that have
    both a raw and a mitigated fidelity, and how many gained at least ``margin``."""

    backend: str
    runs: int
    improved: int
    margin: float
    mean_fidelity_raw: float
    mean_fidelity_mitigated: float

    @property
    def share_improved(self) -> float:
        return self.improved / self.runs


@dataclass(frozen=True)
class FidelitySection:
    available: bool
    trend: tuple[FidelityPoint, ...]
    verdicts: tuple[BackendVerdicts, ...]
    events: tuple[ValidationEvent, ...]
    mitigation: tuple[MitigationGain, ...] = ()


@dataclass(frozen=True)
class CalibrationAge:
    backend: str
    last_calibration_at: datetime | None
    age_hours_at_week_end: float | None
    calibrations_in_week: int


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


# ------------------------------------------------------------------------- jobs
@dataclass
class _Jobs:
    """Column arrays of the jobs of one period (numpy, one entry per job)."""

    ts: np.ndarray
    backend: np.ndarray
    project: np.ndarray
    status: np.ndarray
    error_class: np.ndarray
    shots: np.ndarray
    queue_s: np.ndarray
    e2e_s: np.ndarray
    cost: np.ndarray
    tags: list[dict[str, Any]]

    def __len__(self) -> int:
        return len(self.ts)


def _epoch(value: datetime) -> float:
    return as_utc(value).timestamp()  # type: ignore[union-attr]


def _load_jobs(store: Store, start: datetime, end: datetime, *, with_tags: bool) -> _Jobs:
    t = JobRow.__table__
    cols = [
        t.c.submitted_at,
        t.c.backend,
        t.c.project,
        t.c.status,
        t.c.error_class,
        t.c.shots,
        t.c.queue_seconds,
        t.c.e2e_seconds,
        t.c.cost_usd,
    ]
    if with_tags:
        cols.append(t.c.tags)
    q = select(*cols).where(t.c.submitted_at >= start, t.c.submitted_at < end)
    with store.engine.connect() as conn:
        rows = conn.execute(q).all()
    n = len(rows)
    cols_t = list(zip(*rows, strict=True)) if rows else [()] * len(cols)

    def floats(values: Iterable[Any]) -> np.ndarray:
        return np.array([np.nan if v is None else float(v) for v in values], dtype=float)

    return _Jobs(
        ts=np.array([_epoch(v) for v in cols_t[0]], dtype=float),
        backend=np.array(cols_t[1], dtype=object),
        project=np.array([v or "" for v in cols_t[2]], dtype=object),
        status=np.array(cols_t[3], dtype=object),
        error_class=np.array([v or "" for v in cols_t[4]], dtype=object),
        shots=np.array([v or 0 for v in cols_t[5]], dtype=np.int64) if n else np.zeros(0, np.int64),
        queue_s=floats(cols_t[6]),
        e2e_s=floats(cols_t[7]),
        cost=floats(v or 0.0 for v in cols_t[8]),
        tags=[dict(v or {}) for v in cols_t[9]] if with_tags else [],
    )


def _pct(values: np.ndarray, q: float) -> float | None:
    values = values[~np.isnan(values)]
    if len(values) == 0:
        return None
    return float(np.percentile(values, q, method="linear"))


def _ratio(num: float, den: float) -> float | None:
    return None if den == 0 else num / den


def _success_masks(jobs: _Jobs) -> tuple[np.ndarray, np.ndarray]:
    terminal = np.isin(jobs.status, ("done", "error", "unknown")) & ~np.isin(
        jobs.error_class, CLIENT_REJECTIONS
    )
    done = jobs.status == "done"
    return terminal, done


def _totals(jobs: _Jobs) -> Totals:
    terminal, done = _success_masks(jobs)
    spend = float(jobs.cost.sum())
    done_n = int(done.sum())
    return Totals(
        jobs=len(jobs),
        terminal_jobs=int(terminal.sum()),
        done_jobs=done_n,
        success_rate=_ratio(float((terminal & done).sum()), float(terminal.sum())),
        spend_usd=spend,
        shots=int(jobs.shots.sum()),
        cost_per_successful_job_usd=_ratio(spend, done_n),
        shots_per_job=_ratio(float(jobs.shots.sum()), len(jobs)),
        queue_p95_seconds=_pct(jobs.queue_s, 95),
        e2e_p95_seconds=_pct(jobs.e2e_s, 95),
    )


def _deltas(cur: Totals, prev: Totals) -> tuple[Delta, ...]:
    out = []
    for metric in ("jobs", "success_rate", "spend_usd", "e2e_p95_seconds", "queue_p95_seconds"):
        a, b = getattr(cur, metric), getattr(prev, metric)
        change = None if a is None or b is None else float(a) - float(b)
        ratio = None if change is None or not b else change / float(b)
        out.append(Delta(metric, a, b, change, ratio))
    return tuple(out)


def _day_index(jobs: _Jobs, week: ReportWeek) -> np.ndarray:
    edges = np.array([d.timestamp() for d in week.day_starts], dtype=float)
    return np.searchsorted(edges, jobs.ts, side="right") - 1


def _latency(jobs: _Jobs, week: ReportWeek, day: np.ndarray) -> tuple[LatencyRow, ...]:
    rows = []
    for backend in sorted(set(jobs.backend.tolist())):
        on_backend = jobs.backend == backend
        for i, label in enumerate(week.days):
            mask = on_backend & (day == i)
            if not mask.any():
                continue
            q, e = jobs.queue_s[mask], jobs.e2e_s[mask]
            qp = [_pct(q, p) for p in PERCENTILES]
            ep = [_pct(e, p) for p in PERCENTILES]
            rows.append(
                LatencyRow(
                    label,
                    backend,
                    int(mask.sum()),
                    int((~np.isnan(q)).sum()),
                    *qp,
                    int((~np.isnan(e)).sum()),
                    *ep,
                )
            )
    return tuple(rows)


def _spend_totals(jobs: _Jobs, keys: np.ndarray) -> tuple[SpendTotal, ...]:
    _, done = _success_masks(jobs)
    out = []
    for key in set(keys.tolist()):
        m = keys == key
        spend = float(jobs.cost[m].sum())
        done_n = int((m & done).sum())
        out.append(
            SpendTotal(
                str(key),
                int(m.sum()),
                done_n,
                int(jobs.shots[m].sum()),
                spend,
                _ratio(spend, done_n),
            )
        )
    return tuple(sorted(out, key=lambda s: (-s.spend_usd, s.key)))


def _tag_keys(tags: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
    """(job index, "key=value") pairs: a job with three tags counts under each."""
    idx, keys = [], []
    for i, t in enumerate(tags):
        for k, v in t.items():
            idx.append(i)
            keys.append(f"{k}={v}")
    return np.array(idx, dtype=np.int64), np.array(keys, dtype=object)


def _daily(
    dimension: str, keys: np.ndarray, cost: np.ndarray, day: np.ndarray, week: ReportWeek
) -> list[DailySpend]:
    jobs_n: dict[tuple[int, str], int] = defaultdict(int)
    spend: dict[tuple[int, str], float] = defaultdict(float)
    for d, k, c in zip(day.tolist(), keys.tolist(), cost.tolist(), strict=True):
        jobs_n[(d, k)] += 1
        spend[(d, k)] += c
    return [
        DailySpend(week.days[d], dimension, str(k), jobs_n[(d, k)], spend[(d, k)])
        for d, k in sorted(jobs_n)
    ]


def _cost(
    jobs: _Jobs, day: np.ndarray, week: ReportWeek, baseline: _Jobs, baseline_days: int
) -> CostSection:
    tag_idx, tag_keys = _tag_keys(jobs.tags)
    tag_jobs = _Jobs(
        ts=jobs.ts[tag_idx],
        backend=jobs.backend[tag_idx],
        project=jobs.project[tag_idx],
        status=jobs.status[tag_idx],
        error_class=jobs.error_class[tag_idx],
        shots=jobs.shots[tag_idx],
        queue_s=jobs.queue_s[tag_idx],
        e2e_s=jobs.e2e_s[tag_idx],
        cost=jobs.cost[tag_idx],
        tags=[],
    )
    by_project = _spend_totals(jobs, jobs.project)
    daily = (
        _daily("backend", jobs.backend, jobs.cost, day, week)
        + _daily("project", jobs.project, jobs.cost, day, week)
        + _daily("tag", tag_keys, tag_jobs.cost, day[tag_idx], week)
    )
    anomalies: list[BillingAnomaly] = []
    if len(baseline):
        # Local days, like the week's own (a DST change makes one of them 23 or 25 h).
        zone = _zone(week.time_zone)
        first = date.fromisoformat(week.days[0]) - timedelta(days=baseline_days)
        edges = np.array(
            [
                datetime.combine(first + timedelta(days=i), time(0), tzinfo=zone).timestamp()
                for i in range(baseline_days + 1)
            ]
        )
        base_day = np.searchsorted(edges, baseline.ts, side="right") - 1
        per_project: dict[str, np.ndarray] = {}
        for p, d, c in zip(
            baseline.project.tolist(), base_day.tolist(), baseline.cost.tolist(), strict=True
        ):
            arr = per_project.setdefault(p, np.zeros(baseline_days))
            arr[min(max(d, 0), baseline_days - 1)] += c
        for row in daily:
            if row.dimension != "project":
                continue
            hist = per_project.get(row.key)
            median = float(np.median(hist)) if hist is not None else 0.0
            if row.spend_usd >= SPIKE_MIN_USD and row.spend_usd > SPIKE_FACTOR * median:
                anomalies.append(
                    BillingAnomaly(
                        row.key, row.day, row.spend_usd, median, _ratio(row.spend_usd, median)
                    )
                )
    anomalies.sort(key=lambda a: -a.spend_usd)
    return CostSection(
        by_backend=_spend_totals(jobs, jobs.backend),
        by_project=by_project,
        by_tag=_spend_totals(tag_jobs, tag_keys),
        daily=tuple(daily),
        top_spenders=by_project[:TOP_SPENDERS],
        anomalies=tuple(anomalies),
        baseline_available=bool(len(baseline)),
    )


# ------------------------------------------------------------------------- SLOs
EngineFactory = Callable[[Store, Sequence[SLO], Clock], Any]


def default_engine_factory(store: Store, slos: Sequence[SLO], clock: Clock) -> Any:
    """The same engine ``qsre slo status`` uses."""
    try:
        from slo.engine import SLOEngine
    except ImportError as exc:
        raise ReportError(f"SLO section: slo.engine is not importable ({exc})") from exc
    return SLOEngine(store, list(slos), clock=clock)


def _slo_entries(
    store: Store,
    slos: Sequence[SLO],
    week: ReportWeek,
    clock: Clock,
    engine_factory: EngineFactory | None,
) -> tuple[SLOEntry, ...]:
    if not slos:
        return ()
    engine = (engine_factory or default_engine_factory)(store, slos, clock)
    series: dict[str, list[Any]] = defaultdict(list)
    now = clock.now()
    # A week still in progress is evaluated up to its last day boundary so far: the
    # engine (rightly) refuses instants after now.
    for at in [d for d in week.day_starts if d <= now]:
        for status in engine.evaluate(at):
            series[status.name].append((at, status))
    out = []
    for slo in slos:
        points = series.get(slo.name, [])
        if not points:
            continue
        end = points[-1][1]
        first_budget = points[0][1].budget_remaining_ratio
        used = (
            None
            if first_budget is None
            or end.budget_remaining_ratio is None
            # Calendar windows reset inside a week; the drop is only meaningful
            # when the window did not restart between the two points.
            or points[0][1].window_start != end.window_start
            else first_budget - end.budget_remaining_ratio
        )
        sli = end.sli_ratio
        out.append(
            SLOEntry(
                name=slo.name,
                objective=float(end.objective),
                sli_kind=str(end.sli_kind),
                window_start=end.window_start,
                window_end=end.window_end,
                good=float(end.good),
                total=float(end.total),
                attainment=sli,
                met=None if sli is None else bool(sli >= end.objective),
                budget_remaining_ratio=end.budget_remaining_ratio,
                budget_used_in_week_ratio=used,
                firing=tuple(end.firing),
                burn_rates=dict(end.burn_rates),
                burn_down=tuple(
                    BudgetPoint(at, s.sli_ratio, s.budget_remaining_ratio) for at, s in points
                ),
                notes=tuple(str(n) for n in (end.notes or ())),
                status=end.to_dict(),
            )
        )
    return tuple(out)


# ------------------------------------------------------------------------ alerts
_meta = MetaData()
_TS = UTCDateTime()  # UTC on every dialect, whatever offset a provider gave
_alerts_t = Table(
    "slo_alerts",
    _meta,
    Column("fingerprint", String(16), primary_key=True),
    Column("labels", JSON),
    Column("starts_at", _TS),
    Column("ends_at", _TS),
)
_log_t = Table(
    "slo_notification_log",
    _meta,
    Column("id", Integer, primary_key=True),
    Column("at", _TS),
    Column("group_key", String(1000)),
    Column("status", String(16)),
    Column("fingerprints", JSON),
    Column("ok", Boolean),
)
_GROUP_LABEL_RE = re.compile(r'(\w+)="([^"]*)"')
_KIND_BY_ALERTNAME = {k.alertname: k.kind for k in ALERT_KINDS.values()}


def _labels_from_group_key(group_key: str) -> dict[str, str]:
    inner = group_key.split(":", 1)[-1]
    return dict(_GROUP_LABEL_RE.findall(inner))


def _alerts(store: Store, week: ReportWeek) -> AlertSection:
    tables = set(inspect(store.engine).get_table_names())
    if not {"slo_alerts", "slo_notification_log"} <= tables:
        return AlertSection(False, 0, 0, 0, None, None, (), ())
    # Episodes that started up to a week earlier can resolve inside this week.
    since = week.start - timedelta(days=7)
    with store.engine.connect() as conn:
        state = {
            r.fingerprint: (dict(r.labels or {}), as_utc(r.starts_at), as_utc(r.ends_at))
            for r in conn.execute(select(_alerts_t))
        }
        log = conn.execute(
            select(_log_t)
            .where(_log_t.c.ok.is_(True), _log_t.c.at >= since, _log_t.c.at < week.end)
            .order_by(_log_t.c.at, _log_t.c.id)
        ).all()
    labels: dict[str, dict[str, str]] = {fp: v[0] for fp, v in state.items()}
    # fingerprint -> list of [start, end|None]
    episodes: dict[str, list[list[datetime | None]]] = defaultdict(list)
    last_seen: dict[str, datetime] = {}
    for row in log:
        at = as_utc(row.at)
        for fp in row.fingerprints or ():
            labels.setdefault(fp, _labels_from_group_key(row.group_key))
            eps = episodes[fp]
            if row.status == "resolved":
                if eps and eps[-1][1] is None:
                    eps[-1][1] = at
            elif not eps or (eps[-1][1] is not None and at > eps[-1][1]):  # type: ignore[operator]
                # A notification for an alert whose last episode is closed opens a new
                # episode; repeats of an open episode only move last_seen.
                eps.append([at, None])
            last_seen[fp] = at
    for fp, (_, starts_at, ends_at) in state.items():
        eps = episodes[fp]
        if eps and eps[-1][1] is None:
            # The state table knows the true start and end of the open episode.
            eps[-1][0] = min(eps[-1][0], starts_at) if starts_at else eps[-1][0]  # type: ignore[type-var]
            eps[-1][1] = ends_at
        elif starts_at is not None and (not eps or starts_at > eps[-1][1]):  # type: ignore[operator]
            eps.append([starts_at, ends_at])
    for fp, eps in episodes.items():
        # An episode that left the state table was resolved and told to everyone:
        # its last notification was the resolution.
        if eps and eps[-1][1] is None and fp not in state:
            eps[-1][1] = last_seen.get(fp)
    out = []
    for fp, eps in episodes.items():
        lab = labels.get(fp, {})
        alertname = lab.get("alertname", "")
        kind = lab.get("kind") or _KIND_BY_ALERTNAME.get(alertname, "unknown")
        severity = lab.get("severity") or (
            ALERT_KINDS[kind].default_severity if kind in ALERT_KINDS else ""
        )
        for start, end in eps:
            if start is None or not (week.start <= start < week.end):
                continue
            seconds = None if end is None else max(0.0, (end - start).total_seconds())
            out.append(
                AlertEpisode(
                    fp,
                    alertname,
                    kind,
                    severity,
                    lab.get("slo") or lab.get("backend") or "",
                    start,
                    end,
                    seconds,
                )
            )
    out.sort(key=lambda e: (e.started_at, e.fingerprint))
    durations = [e.resolve_seconds for e in out if e.resolve_seconds is not None]
    by_kind = []
    for kind in sorted({e.kind for e in out}):
        ks = [e for e in out if e.kind == kind]
        kd = [e.resolve_seconds for e in ks if e.resolve_seconds is not None]
        by_kind.append(
            AlertKindCount(kind, len(ks), len(kd), statistics.median(kd) if kd else None)
        )
    return AlertSection(
        available=True,
        fired=len(out),
        resolved=len(durations),
        still_open=len(out) - len(durations),
        median_resolve_seconds=statistics.median(durations) if durations else None,
        max_resolve_seconds=max(durations) if durations else None,
        by_kind=tuple(by_kind),
        episodes=tuple(out),
    )


# ---------------------------------------------------------------- validations
def _fidelity(store: Store, week: ReportWeek) -> FidelitySection:
    if "validation_runs" not in inspect(store.engine).get_table_names():
        return FidelitySection(False, (), (), ())
    t = VALIDATION_RUNS
    q = (
        select(
            t.c.backend,
            t.c.circuit,
            t.c.ran_at,
            t.c.fidelity,
            t.c.divergence_tvd,
            t.c.drift_statistic,
            t.c.verdict,
        )
        .where(t.c.ran_at >= week.start, t.c.ran_at < week.end)
        .order_by(t.c.ran_at, t.c.id)
    )
    with store.engine.connect() as conn:
        rows = conn.execute(q).all()
    edges = [d.timestamp() for d in week.day_starts]
    fid: dict[tuple[str, str, int], list[float]] = defaultdict(list)
    runs: dict[tuple[str, str, int], int] = defaultdict(int)
    verdicts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    events = []
    for r in rows:
        ran_at = as_utc(r.ran_at)
        d = int(np.searchsorted(edges, ran_at.timestamp(), side="right")) - 1  # type: ignore[union-attr]
        key = (r.backend, r.circuit, d)
        runs[key] += 1
        if r.fidelity is not None:
            fid[key].append(float(r.fidelity))
        verdicts[r.backend][r.verdict] += 1
        if r.verdict in ("drift", "diverged"):
            events.append(
                ValidationEvent(
                    r.backend,
                    r.circuit,
                    ran_at,  # type: ignore[arg-type]
                    r.verdict,
                    r.fidelity,
                    r.divergence_tvd,
                    r.drift_statistic,
                )
            )
    trend = tuple(
        FidelityPoint(
            b, c, week.days[d], n, float(np.mean(fid[(b, c, d)])) if fid[(b, c, d)] else None
        )
        for (b, c, d), n in sorted(runs.items())
    )
    return FidelitySection(
        True,
        trend,
        tuple(
            BackendVerdicts(b, sum(v.values()), dict(sorted(v.items())))
            for b, v in sorted(verdicts.items())
        ),
        tuple(events),
    )


def _mitigation(store: Store, week: ReportWeek, margin: float) -> tuple[MitigationGain, ...]:
    """Per backend: runs with both fidelities, how many improved by >= margin, means.

    Same rows and the same comparison as the ``mitigation_gain`` SLI (slo.sli)."""
    columns = {c["name"] for c in inspect(store.engine).get_columns(VALIDATION_RUNS.name)}
    if "fidelity_mitigated" not in columns:  # store not migrated yet: nothing recorded
        return ()
    t = VALIDATION_RUNS
    q = select(t.c.backend, t.c.fidelity, t.c.fidelity_mitigated).where(
        t.c.ran_at >= week.start,
        t.c.ran_at < week.end,
        t.c.fidelity.is_not(None),
        t.c.fidelity_mitigated.is_not(None),
    )
    raw: dict[str, list[float]] = defaultdict(list)
    mitigated: dict[str, list[float]] = defaultdict(list)
    with store.engine.connect() as conn:
        for r in conn.execute(q):
            raw[r.backend].append(float(r.fidelity))
            mitigated[r.backend].append(float(r.fidelity_mitigated))
    out = []
    for backend in sorted(raw):
        f_raw, f_mit = raw[backend], mitigated[backend]
        out.append(
            MitigationGain(
                backend=backend,
                runs=len(f_raw),
                improved=sum(1 for a, b in zip(f_raw, f_mit, strict=True) if b - a >= margin),
                margin=margin,
                mean_fidelity_raw=statistics.fmean(f_raw),
                mean_fidelity_mitigated=statistics.fmean(f_mit),
            )
        )
    return tuple(out)


def _with_mitigation(
    section: FidelitySection, store: Store, week: ReportWeek, slos: Sequence[SLO]
) -> FidelitySection:
    if not section.available:
        return section
    return dataclasses.replace(
        section, mitigation=_mitigation(store, week, mitigation_margin(slos))
    )


def mitigation_margin(slos: Sequence[SLO]) -> float:
    """The margin the report's "improved" share uses: the first mitigation_gain SLO's."""
    for slo in slos:
        if slo.sli.kind == "mitigation_gain" and slo.sli.margin is not None:
            return slo.sli.margin
    return DEFAULT_MITIGATION_MARGIN


def _calibration(store: Store, week: ReportWeek) -> tuple[CalibrationAge, ...]:
    snaps = CalibrationSnapshotRow.__table__
    backends = BackendRow.__table__
    with store.engine.connect() as conn:
        names = {r.name: as_utc(r.last_calibration_at) for r in conn.execute(select(backends))}
        rows = conn.execute(
            select(snaps.c.backend, snaps.c.calibrated_at).where(snaps.c.calibrated_at < week.end)
        ).all()
    latest: dict[str, datetime] = {}
    in_week: dict[str, int] = defaultdict(int)
    for backend, at in rows:
        at = as_utc(at)
        names.setdefault(backend, None)
        if backend not in latest or at > latest[backend]:
            latest[backend] = at
        if at >= week.start:
            in_week[backend] += 1
    out = []
    for backend in sorted(names):
        last = latest.get(backend)
        if last is None and names[backend] is not None and names[backend] < week.end:
            last = names[backend]
        age = None if last is None else (week.end - last).total_seconds() / 3600.0
        out.append(CalibrationAge(backend, last, age, in_week[backend]))
    return tuple(out)


# -------------------------------------------------------------------- assembly
def collect_report_data(
    store: Store,
    slos: Sequence[SLO],
    week: ReportWeek,
    *,
    clock: Clock,
    engine_factory: EngineFactory | None = None,
) -> ReportData:
    """Every number of the weekly report, read from ``store`` (and the SLO engine)."""
    jobs = _load_jobs(store, week.start, week.end, with_tags=True)
    prev = week.shifted(-1)
    prev_jobs = _load_jobs(store, prev.start, prev.end, with_tags=False)
    baseline_days = 7 * BASELINE_WEEKS
    baseline = _load_jobs(store, week.shifted(-BASELINE_WEEKS).start, week.start, with_tags=False)
    day = _day_index(jobs, week)
    totals, prev_totals = _totals(jobs), _totals(prev_jobs)
    slo_error = None
    try:
        slo_entries = _slo_entries(store, slos, week, clock, engine_factory)
    except ReportError as exc:
        slo_entries, slo_error = (), str(exc)
    return ReportData(
        week=week,
        generated_at=clock.now(),
        totals=totals,
        previous_totals=prev_totals,
        deltas=_deltas(totals, prev_totals),
        slos=slo_entries,
        slo_error=slo_error,
        alerts=_alerts(store, week),
        fidelity=_with_mitigation(_fidelity(store, week), store, week, slos),
        calibration=_calibration(store, week),
        latency=_latency(jobs, week, day),
        cost=_cost(jobs, day, week, baseline, baseline_days),
    )
