"""Failure-mode alert signals: what is wrong right now, read from the event store.

``evaluate_signals(store, now, config, ...)`` returns the alerts that are firing as of
``now``; the daemon hands them to ``Router.process(alerts, now, source="signals")``
every cycle, and an alert that is no longer returned is resolved by the router. Only
rows up to ``now`` are read, so a virtual clock can replay days of history. The one
piece of memory is a per-store cache of past spend in 5-minute buckets for the billing
baseline (buckets older than 12 hours are final; backfilling older spend into a running
daemon's store is not noticed until the cache is rebuilt).

Signals and what they look at (thresholds in ``slo.signal_config``):

- auth_failure / result_corruption / quota_breach (job-level, one alert per backend and
  error class): jobs that failed with error_class auth / result_corrupt / quota and
  finished in the last window.
- network_blips: jobs that failed as ``transient`` or only succeeded after a retry
  (attempts > 1), as a share of the backend's jobs (client-side rejections excluded).
- queue_overload: the nearest-rank quantile (median by default, so one stuck job at
  low traffic does not alert) of queue_seconds of jobs finished in the window above a
  threshold; or several jobs still ``queued`` long after submission (a queue so stuck
  that nothing finishes). Jobs whose results nobody ever fetches also stay ``queued``:
  set ``waiting_min_jobs: 0`` where fire-and-forget submission is the norm.
- backend_down: nearly all of a backend's recent jobs failed with backend-side error
  classes. The router's default inhibition (``backend-down``) then mutes the symptom
  alerts of the same backend.
- billing_spike: a project's spend in the last hour vs the median of the same hour on
  the previous days; silent until enough days of history exist.
- resource_exhaustion: a backend failing jobs with error_class ``resource`` (a
  simulator out of memory, failure mode F8), one alert per backend; and qsre's own,
  from the daemon's ``HealthSnapshot`` (spool filling up, recorder errors, store
  unreachable), one alert without a backend label.
- calibration_drift / simulator_divergence: the latest evaluated validation run of each
  backend (table ``validation_runs``, owned by validators, read by name) has circuits
  with ``drift`` / ``diverged`` true. Runs made only of failed jobs are skipped, so an
  outage neither clears nor re-raises a finding.

Cost per call (measured at ~100k jobs, 10k validation rows): about 3 ms of CPU on
SQLite. Job signals are one grouped query over the ``(status, finished_at)`` index for
the longest enabled window; the quantile test is done with counts (the nearest-rank
q-quantile exceeds T exactly when fewer than ceil(q*n) values are <= T), so no rows are
shipped back. Statements are built once with bound parameters.
"""

from __future__ import annotations

import logging
import math
import statistics
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache, lru_cache
from typing import Any
from urllib.parse import quote

from sqlalchemy import (
    BigInteger,
    Connection,
    Integer,
    and_,
    bindparam,
    case,
    cast,
    func,
    inspect,
    or_,
    select,
    text,
    union_all,
)
from sqlalchemy.exc import SQLAlchemyError

from collector.clock import as_utc
from collector.schema import TERMINAL_STATUSES, JobRow
from collector.store import Store
from runbooks.catalog import runbook_for, runbook_url
from slo.alerts import Alert, job_alert, make_alert
from slo.signal_config import SignalConfig
from slo.validation_table import VALIDATION_RUNS

log = logging.getLogger(__name__)

SIGNAL_KINDS: tuple[str, ...] = (
    "auth_failure",
    "result_corruption",
    "quota_breach",
    "network_blips",
    "queue_overload",
    "backend_down",
    "billing_spike",
    "resource_exhaustion",
    "calibration_drift",
    "simulator_divergence",
)
# Error classes raised before or outside the backend: they say nothing about its health.
CLIENT_SIDE_ERROR_CLASSES = ("quota", "invalid_input")
# Verdicts of validation rows that carry no finding (the job failed / nothing evaluated).
UNEVALUATED_VERDICTS = ("error", "not_evaluated")
_DEFAULT_DASHBOARD = "qsre-oncall"
_MESSAGE_CHARS = 300


@dataclass(frozen=True)
class HealthSnapshot:
    """The daemon's own health, for resource_exhaustion.

    ``spool_max_bytes`` None means the spool has no limit; ``recorder_errors_recent``
    counts recorder failures since the previous evaluation (or over any recent window
    the daemon chooses); ``store_reachable`` False means the store could not be written
    or read, in which case the store is not queried at all.
    """

    spool_pending_bytes: int = 0
    spool_max_bytes: int | None = None
    recorder_errors_recent: int = 0
    store_reachable: bool = True


# A loose index scan: the distinct backends of validation_runs in O(backends x log n)
# via the (backend, ran_at) index, on SQLite and PostgreSQL alike.
_VALIDATION_BACKENDS = text(
    """
    WITH RECURSIVE b(name) AS (
        SELECT MIN(backend) FROM validation_runs
        UNION ALL
        SELECT (SELECT MIN(v.backend) FROM validation_runs v WHERE v.backend > b.name)
        FROM b WHERE b.name IS NOT NULL
    )
    SELECT name FROM b WHERE name IS NOT NULL
    """
)

# Positive answers are kept for the store's lifetime; a missing table is re-checked at
# most once a minute of (possibly virtual) time, because validators may create it later.
_validation_table: weakref.WeakKeyDictionary[Store, bool | datetime] = weakref.WeakKeyDictionary()
_TABLE_RECHECK_S = 60.0


@lru_cache(maxsize=256)
def _runbook_link(kind: str, base_url: str) -> str:
    return runbook_url(kind, base_url)


@lru_cache(maxsize=64)
def _dashboard_uid(kind: str) -> str:
    dashboards = runbook_for(kind).dashboards
    return dashboards[0] if dashboards else _DEFAULT_DASHBOARD


@dataclass(frozen=True)
class _Links:
    runbook_base_url: str
    dashboard_base_url: str

    def annotations(self, kind: str, **variables: str) -> dict[str, str]:
        query = "&".join(f"var-{k}={quote(v, safe='')}" for k, v in variables.items())
        # Without a Grafana base URL the path is still useful relative to Grafana's root.
        dashboard = f"{self.dashboard_base_url.rstrip('/')}/d/{_dashboard_uid(kind)}"
        return {
            "runbook_url": _runbook_link(kind, self.runbook_base_url),
            "dashboard_url": f"{dashboard}?{query}" if query else dashboard,
        }


@dataclass
class _BackendCounts:
    auth: int = 0
    corrupt: int = 0
    quota: int = 0
    resource: int = 0
    blips: int = 0
    blips_total: int = 0
    down: int = 0
    down_total: int = 0
    queue_n: int = 0
    queue_over: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def evaluate_signals(
    store: Store,
    now: datetime,
    config: SignalConfig,
    *,
    runbook_base_url: str,
    dashboard_base_url: str = "",
    health: HealthSnapshot | None = None,
    previous: Sequence[Alert] = (),
) -> list[Alert]:
    """The failure-mode alerts firing as of ``now`` (sorted by kind, then labels).

    ``previous`` is what the last successful call returned: when the store cannot be
    read (``health.store_reachable`` False, or a query fails) those alerts are returned
    again unchanged, next to a resource_exhaustion alert, so that a store outage does
    not resolve (and later re-page) every open incident.
    """
    now = as_utc(now)
    assert now is not None
    links = _Links(runbook_base_url, dashboard_base_url)
    store_problem = ""
    alerts: list[Alert] = []
    if health is None or health.store_reachable:
        try:
            alerts = _store_signals(store, now, config, links)
        except SQLAlchemyError as exc:
            log.warning("signals: reading the store failed: %s", exc)
            store_problem = f"event store query failed ({type(exc).__name__})"
    else:
        store_problem = "event store unreachable"
    if store_problem:
        alerts = [a for a in previous if a.labels.get("kind") != "resource_exhaustion"]
    alerts.extend(_resource_exhaustion(health, store_problem, now, config, links))
    return sorted(alerts, key=lambda a: (a.labels.get("kind", ""), sorted(a.labels.items())))


# ------------------------------------------------------------------ store-backed signals
def _store_signals(store: Store, now: datetime, config: SignalConfig, links: _Links) -> list[Alert]:
    alerts: list[Alert] = []
    with store.engine.connect() as conn:
        alerts += _job_signals(conn, now, config, links)
        alerts += _billing_spike(conn, store, now, config, links)
        if (config.calibration_drift.enabled or config.simulator_divergence.enabled) and (
            _has_validation_table(store, conn, now)
        ):
            alerts += _validation_signals(conn, now, config, links)
    return alerts


def _since(now: datetime, window_s: float) -> datetime:
    return now - timedelta(seconds=window_s)


def _count(condition: Any) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


_JOB_WINDOWS = (
    "auth_failure",
    "result_corruption",
    "quota_breach",
    "resource_exhaustion",
    "network_blips",
    "queue_overload",
    "backend_down",
)


@lru_cache(maxsize=16)
def _job_counts_query(down_classes: tuple[str, ...]) -> Any:
    """The grouped per-backend counts, built once: building a statement costs more than
    running it on a short window, so times and thresholds are bound parameters."""
    t = JobRow.__table__.c

    def within(name: str) -> Any:
        return t.finished_at > bindparam(f"since_{name}")

    no_class = t.error_class.is_(None)
    backend_side = and_(
        t.status.in_(("done", "error")),
        or_(no_class, t.error_class.not_in((*CLIENT_SIDE_ERROR_CLASSES, "auth"))),
    )
    queue_done = and_(within("queue_overload"), t.status == "done", t.queue_seconds.is_not(None))
    return (
        select(
            t.backend,
            _count(and_(within("auth_failure"), t.error_class == "auth")),
            _count(and_(within("result_corruption"), t.error_class == "result_corrupt")),
            _count(and_(within("quota_breach"), t.error_class == "quota")),
            _count(and_(within("resource_exhaustion"), t.error_class == "resource")),
            _count(
                and_(
                    within("network_blips"),
                    or_(t.error_class == "transient", and_(t.status == "done", t.attempts > 1)),
                )
            ),
            _count(
                and_(
                    within("network_blips"),
                    or_(no_class, t.error_class.not_in(CLIENT_SIDE_ERROR_CLASSES)),
                )
            ),
            _count(
                and_(within("backend_down"), t.status == "error", t.error_class.in_(down_classes))
            ),
            _count(and_(within("backend_down"), backend_side)),
            _count(queue_done),
            _count(and_(queue_done, t.queue_seconds > bindparam("queue_threshold"))),
        )
        .where(
            t.status.in_(TERMINAL_STATUSES),
            t.finished_at > bindparam("far"),
            t.finished_at <= bindparam("now"),
        )
        .group_by(t.backend)
    )


@lru_cache(maxsize=1)
def _waiting_query() -> Any:
    t = JobRow.__table__.c
    return (
        select(t.backend, func.count(), func.min(t.submitted_at))
        .where(
            t.status == "queued",
            t.submitted_at > bindparam("oldest"),
            t.submitted_at <= bindparam("waited"),
        )
        .group_by(t.backend)
        .having(func.count() >= bindparam("min_jobs"))
    )


def _job_counts(conn: Connection, now: datetime, config: SignalConfig) -> dict[str, _BackendCounts]:
    windows = {n: getattr(config, n).window_s for n in _JOB_WINDOWS if getattr(config, n).enabled}
    if not windows:
        return {}
    qo = config.queue_overload
    # A disabled signal's window starts at `now`: nothing finished after now is read.
    params: dict[str, Any] = {
        f"since_{name}": _since(now, windows[name]) if name in windows else now
        for name in _JOB_WINDOWS
    }
    params.update(
        far=_since(now, max(windows.values())), now=now, queue_threshold=qo.threshold_seconds
    )
    out: dict[str, _BackendCounts] = {}
    for row in conn.execute(_job_counts_query(config.backend_down.error_classes), params):
        out[row[0]] = _BackendCounts(*(int(v) for v in row[1:]))
    if qo.enabled and qo.waiting_min_jobs > 0:
        waiting = conn.execute(
            _waiting_query(),
            {
                "oldest": _since(now, qo.waiting_lookback_s),
                "waited": _since(now, qo.waiting_seconds),
                "min_jobs": qo.waiting_min_jobs,
            },
        )
        for backend, n, oldest in waiting:
            counts = out.setdefault(backend, _BackendCounts())
            counts.extra["waiting"] = (int(n), as_utc(oldest))
    return out


# The job-level signals: (signal, error_class, what the summary counts, count field).
_JOB_LEVEL = (
    ("auth_failure", "auth", "authentication failures", "auth"),
    ("result_corruption", "result_corrupt", "corrupt results", "corrupt"),
    ("quota_breach", "quota", "quota rejections", "quota"),
)
# Signals whose alerts quote the latest error: (signal, error_class); the job-level
# ones and the backend half of resource_exhaustion.
_QUOTED_ERRORS = (
    *((kind, error_class) for kind, error_class, _, _ in _JOB_LEVEL),
    ("resource_exhaustion", "resource"),
)
_FAILED = tuple(s for s in TERMINAL_STATUSES if s != "done")


def _last_errors(
    conn: Connection, now: datetime, config: SignalConfig
) -> dict[tuple[str, str], str]:
    """The latest error message per (backend, error_class) of the quoted classes:
    one query over the failed jobs of the widest of their windows (by
    ``ix_jobs_status_finished``), where a query per firing alert cost ~2 ms each on
    a busy store. It finds what a per-alert query over the alert's own window
    would: an alert fires on at least one such error inside its window, so the
    latest one over a wider window is inside it too."""
    enabled = {
        cls: getattr(config, n).window_s for n, cls in _QUOTED_ERRORS if getattr(config, n).enabled
    }
    if not enabled:
        return {}
    t = JobRow.__table__.c
    newest = (
        func.row_number()
        .over(
            partition_by=(t.backend, t.error_class),
            order_by=(t.finished_at.desc(), t.seq.desc()),
        )
        .label("newest")
    )
    ranked = (
        select(t.backend, t.error_class, t.error_message, newest)
        .where(
            t.status.in_(_FAILED),
            t.finished_at > _since(now, max(enabled.values())),
            t.finished_at <= now,
            t.error_class.in_(list(enabled)),
        )
        .subquery()
    )
    rows = conn.execute(
        select(ranked.c.backend, ranked.c.error_class, ranked.c.error_message).where(
            ranked.c.newest == 1
        )
    )
    return {(b, cls): (message or "")[:_MESSAGE_CHARS] for b, cls, message in rows}


def _queue_quantile(
    conn: Connection, backend: str, since: datetime, now: datetime, quantile: float
) -> float | None:
    t = JobRow.__table__.c
    q = select(t.queue_seconds).where(
        t.backend == backend,
        t.finished_at > since,
        t.finished_at <= now,
        t.status == "done",
        t.queue_seconds.is_not(None),
    )
    values = sorted(float(v) for v in conn.execute(q).scalars())
    if not values:
        return None
    return values[max(1, math.ceil(quantile * len(values))) - 1]


def window_text(seconds: float) -> str:
    """A window as people say it: "20 s", "5 min", "1 min 30 s", "6 h", "2 h 30 min"
    (never "0.333333 min")."""
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 7200:
        m, s = divmod(whole, 60)
        return f"{m} min" + (f" {s} s" if s else "")
    h, rest = divmod(whole, 3600)
    m = round(rest / 60)
    return f"{h} h" + (f" {m} min" if m else "")


def _job_signals(
    conn: Connection, now: datetime, config: SignalConfig, links: _Links
) -> list[Alert]:
    alerts: list[Alert] = []
    counts = _job_counts(conn, now, config)

    @cache
    def last_errors() -> dict[tuple[str, str], str]:
        # Read once per cycle, and only when an alert quotes it: most cycles fire none.
        return _last_errors(conn, now, config)

    def last_error(backend: str, error_class: str) -> str:
        return last_errors().get((backend, error_class), "")

    for backend, c in sorted(counts.items()):
        for kind, error_class, what, attr in _JOB_LEVEL:
            cfg = getattr(config, kind)
            n = getattr(c, attr)
            if not cfg.enabled or n < cfg.min_count:
                continue
            since = _since(now, cfg.window_s)
            last = last_error(backend, error_class)
            alerts.append(
                job_alert(
                    kind,
                    backend=backend,
                    error_class=error_class,
                    severity=cfg.severity,
                    summary=f"{n} {what} on {backend} in the last {window_text(cfg.window_s)}",
                    description=(
                        f"{n} job(s) on backend {backend} failed with error_class "
                        f"{error_class} between {since:%Y-%m-%d %H:%M:%S} and "
                        f"{now:%H:%M:%S} UTC (threshold {cfg.min_count})."
                        + (f" Latest error: {last}" if last else "")
                    ),
                    annotations=links.annotations(kind, backend=backend),
                )
            )
        alerts += _backend_resources(backend, c, now, config, links, last_error)
        alerts += _backend_health(conn, backend, c, now, config, links)
    return alerts


def _backend_resources(
    backend: str,
    c: _BackendCounts,
    now: datetime,
    config: SignalConfig,
    links: _Links,
    last_error: Callable[[str, str], str],
) -> list[Alert]:
    """The backend half of resource_exhaustion: its jobs fail for lack of memory."""
    cfg = config.resource_exhaustion
    if not cfg.enabled or c.resource < cfg.min_count:
        return []
    since = _since(now, cfg.window_s)
    last = last_error(backend, "resource")
    return [
        make_alert(
            "resource_exhaustion",
            severity=cfg.severity,
            labels={"backend": backend},
            summary=(
                f"{c.resource} jobs on {backend} ran out of resources in the last "
                f"{window_text(cfg.window_s)}"
            ),
            description=(
                f"{c.resource} job(s) on backend {backend} failed with error_class resource "
                f"(the backend lacked the memory to run them) between "
                f"{since:%Y-%m-%d %H:%M:%S} and {now:%H:%M:%S} UTC (threshold "
                f"{cfg.min_count})." + (f" Latest error: {last}" if last else "")
            ),
            annotations=links.annotations("resource_exhaustion", backend=backend),
        )
    ]


def _backend_health(
    conn: Connection,
    backend: str,
    c: _BackendCounts,
    now: datetime,
    config: SignalConfig,
    links: _Links,
) -> list[Alert]:
    alerts: list[Alert] = []
    nb = config.network_blips
    if nb.enabled and c.blips >= nb.min_count and c.blips_total:
        ratio = c.blips / c.blips_total
        if ratio >= nb.min_ratio:
            alerts.append(
                make_alert(
                    "network_blips",
                    severity=nb.severity,
                    labels={"backend": backend},
                    summary=(
                        f"{ratio:.0%} of jobs on {backend} hit transient errors in the last "
                        f"{window_text(nb.window_s)}"
                    ),
                    description=(
                        f"{c.blips} of {c.blips_total} job(s) on {backend} failed with a "
                        f"transient error or needed a retry (threshold {nb.min_ratio:.0%} "
                        f"and at least {nb.min_count} jobs)."
                    ),
                    annotations=links.annotations("network_blips", backend=backend),
                )
            )
    qo = config.queue_overload
    if qo.enabled:
        reasons = []
        if c.queue_n >= qo.min_jobs:
            rank = max(1, math.ceil(qo.quantile * c.queue_n))
            if c.queue_n - c.queue_over < rank:
                since = _since(now, qo.window_s)
                value = _queue_quantile(conn, backend, since, now, qo.quantile)
                shown = f"{value:.0f} s" if value is not None else "unknown"
                reasons.append(
                    f"p{qo.quantile * 100:g} queue time of {c.queue_n} job(s) finished in the "
                    f"last {window_text(qo.window_s)} is {shown} "
                    f"(threshold {qo.threshold_seconds:g} s)"
                )
        if "waiting" in c.extra:
            n, oldest = c.extra["waiting"]
            waited = (now - oldest).total_seconds() if oldest else qo.waiting_seconds
            reasons.append(
                f"{n} job(s) still queued more than {qo.waiting_seconds:g} s after "
                f"submission (oldest waiting {waited:.0f} s)"
            )
        if reasons:
            alerts.append(
                make_alert(
                    "queue_overload",
                    severity=qo.severity,
                    labels={"backend": backend},
                    summary=f"Jobs on {backend} wait too long in the queue",
                    description="; ".join(reasons) + ".",
                    annotations=links.annotations("queue_overload", backend=backend),
                )
            )
    bd = config.backend_down
    if bd.enabled and c.down >= bd.min_count and c.down_total:
        ratio = c.down / c.down_total
        if ratio >= bd.min_ratio:
            alerts.append(
                make_alert(
                    "backend_down",
                    severity=bd.severity,
                    labels={"backend": backend},
                    summary=(
                        f"Backend {backend} is down: {ratio:.0%} of its jobs failed in the "
                        f"last {window_text(bd.window_s)}"
                    ),
                    description=(
                        f"{c.down} of {c.down_total} job(s) on {backend} failed with "
                        f"error_class in {list(bd.error_classes)} (threshold "
                        f"{bd.min_ratio:.0%}, at least {bd.min_count}). Symptom alerts of "
                        f"this backend are inhibited while this fires."
                    ),
                    annotations=links.annotations("backend_down", backend=backend),
                )
            )
    return alerts


# ---------------------------------------------------------------------- billing spike
_BUCKET_S = 300
_DAY_BUCKETS = 86400 // _BUCKET_S
# Spend of a bucket this old is final: every job that finished in it has been shipped.
_SETTLED_S = 12 * 3600
# When a baseline bucket is missing, load this many following buckets with it, so that a
# daemon evaluating every minute queries past spend about once an hour, not every call.
_LOAD_AHEAD_BUCKETS = 12


@dataclass
class _SpendCache:
    """Per-store spend of past 5-minute buckets by project (final once settled)."""

    loaded: set[int] = field(default_factory=set)
    spend: dict[tuple[str, int], float] = field(default_factory=dict)
    first_finished: dict[str, datetime] = field(default_factory=dict)


_spend_caches: weakref.WeakKeyDictionary[Store, _SpendCache] = weakref.WeakKeyDictionary()


def _bucket_of(when: datetime) -> int:
    return math.floor(when.timestamp() / _BUCKET_S)


def _bucket_expr(dialect: str) -> Any:
    t = JobRow.__table__.c
    if dialect == "sqlite":
        # finished_at is stored as naive UTC text; strftime('%s') reads it as UTC.
        return cast(func.strftime("%s", t.finished_at), Integer) // _BUCKET_S
    if dialect == "postgresql":
        return cast(func.floor(func.extract("epoch", t.finished_at) / _BUCKET_S), BigInteger)
    return None


def _load_buckets(
    conn: Connection, store: Store, cache: _SpendCache, wanted: Iterable[int], now: datetime
) -> None:
    """Fill ``cache`` for every bucket in ``wanted`` (all settled) and a few after each."""
    settled_limit = _bucket_of(now - timedelta(seconds=_SETTLED_S))
    missing = sorted(b for b in set(wanted) if b not in cache.loaded)
    ranges: list[tuple[int, int]] = []  # [first, last] bucket, inclusive
    for b in missing:
        if ranges and b <= ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], max(ranges[-1][1], b))
        else:
            ranges.append((b, b))
    ranges = [(lo, max(hi, min(hi + _LOAD_AHEAD_BUCKETS, settled_limit))) for lo, hi in ranges]
    if not ranges:
        return
    t = JobRow.__table__.c
    epoch = datetime.fromtimestamp(0, tz=now.tzinfo)
    bounds = [
        and_(
            t.finished_at >= epoch + timedelta(seconds=lo * _BUCKET_S),
            t.finished_at < epoch + timedelta(seconds=(hi + 1) * _BUCKET_S),
        )
        for lo, hi in ranges
    ]
    where = and_(t.status.in_(TERMINAL_STATUSES), or_(*bounds), t.cost_usd > 0)
    bucket = _bucket_expr(store.dialect)
    if bucket is not None:
        q = select(t.project, bucket, func.sum(t.cost_usd)).where(where).group_by(t.project, bucket)
        for project, b, usd in conn.execute(q):
            key = (project, int(b))
            cache.spend[key] = cache.spend.get(key, 0.0) + float(usd or 0.0)
    else:
        for project, finished, usd in conn.execute(
            select(t.project, t.finished_at, t.cost_usd).where(where)
        ):
            key = (project, _bucket_of(as_utc(finished) or now))
            cache.spend[key] = cache.spend.get(key, 0.0) + float(usd or 0.0)
    for lo, hi in ranges:
        cache.loaded.update(range(lo, hi + 1))


def _first_finished(conn: Connection, cache: _SpendCache, project: str) -> datetime | None:
    if project not in cache.first_finished:
        t = JobRow.__table__.c
        first = as_utc(
            conn.execute(
                select(func.min(t.finished_at)).where(
                    t.project == project, t.finished_at.is_not(None)
                )
            ).scalar()
        )
        if first is None:
            return None
        cache.first_finished[project] = first
    return cache.first_finished[project]


@lru_cache(maxsize=1)
def _current_spend_query() -> Any:
    t = JobRow.__table__.c
    spend = func.sum(t.cost_usd)
    return (
        select(t.project, spend)
        .where(
            t.status.in_(TERMINAL_STATUSES),
            t.finished_at > bindparam("since"),
            t.finished_at <= bindparam("now"),
        )
        .group_by(t.project)
        .having(spend > bindparam("min_usd"))
    )


def _billing_spike(
    conn: Connection, store: Store, now: datetime, config: SignalConfig, links: _Links
) -> list[Alert]:
    cfg = config.billing_spike
    if not cfg.enabled:
        return []
    params = {"since": _since(now, cfg.window_s), "now": now, "min_usd": cfg.min_usd}
    # Cheap first pass: only projects already above the dollar floor need a baseline.
    current = conn.execute(_current_spend_query(), params).all()
    candidates = [(p, float(usd or 0.0)) for p, usd in current]
    if not candidates:
        return []
    cache = _spend_caches.setdefault(store, _SpendCache())
    width = max(1, round(cfg.window_s / _BUCKET_S))
    # The baseline windows end on bucket boundaries: [end - width, end) k days ago.
    end_now = _bucket_of(now)
    windows = [
        range(end_now - k * _DAY_BUCKETS - width, end_now - k * _DAY_BUCKETS)
        for k in range(1, cfg.baseline_days + 1)
    ]
    # Bounded memory: forget everything when far more than one evaluation's worth is held.
    if len(cache.loaded) > 8 * width * cfg.baseline_days + 4 * _DAY_BUCKETS:
        cache.loaded.clear()
        cache.spend.clear()
    _load_buckets(conn, store, cache, (b for w in windows for b in w), now)
    alerts: list[Alert] = []
    for project, spent in candidates:
        first = _first_finished(conn, cache, project)
        if first is None:
            continue
        first_bucket = _bucket_of(first)
        # Days before the project's first job are unknown, not zero: they are left out.
        day_spend = [
            sum(cache.spend.get((project, b), 0.0) for b in w)
            for w in windows
            if w.start >= first_bucket
        ]
        if len(day_spend) < cfg.min_baseline_days:
            continue
        baseline = statistics.median(day_spend)
        if spent <= cfg.factor * baseline:
            continue
        name = project or "(none)"
        alerts.append(
            make_alert(
                "billing_spike",
                severity=cfg.severity,
                labels={"project": name},
                summary=(
                    f"Project {name} spent ${spent:,.2f} in the last {window_text(cfg.window_s)}, "
                    f"{_times(spent, baseline)} its usual ${baseline:,.2f}"
                ),
                description=(
                    f"Spend of project {name} in the last {window_text(cfg.window_s)} is "
                    f"${spent:,.2f}; the median of the same window on the previous "
                    f"{len(day_spend)} day(s) is ${baseline:,.2f} (fires above "
                    f"{cfg.factor:g}x and ${cfg.min_usd:,.2f})."
                ),
                annotations=links.annotations("billing_spike"),
            )
        )
    return alerts


def _times(spent: float, baseline: float) -> str:
    return f"{spent / baseline:.1f}x" if baseline > 0 else "against"


# ------------------------------------------------------------------ resource exhaustion
def _resource_exhaustion(
    health: HealthSnapshot | None,
    store_problem: str,
    now: datetime,
    config: SignalConfig,
    links: _Links,
) -> list[Alert]:
    cfg = config.resource_exhaustion
    if not cfg.enabled:
        return []
    reasons = [store_problem] if store_problem else []
    if health is not None:
        limit = health.spool_max_bytes
        if limit and health.spool_pending_bytes >= cfg.spool_full_ratio * limit:
            reasons.append(
                f"spool at {health.spool_pending_bytes / limit:.0%} of its limit "
                f"({health.spool_pending_bytes} of {limit} bytes pending)"
            )
        if health.recorder_errors_recent >= cfg.recorder_errors:
            reasons.append(
                f"{health.recorder_errors_recent} recorder errors recently "
                f"(threshold {cfg.recorder_errors})"
            )
    if not reasons:
        return []
    return [
        make_alert(
            "resource_exhaustion",
            severity=cfg.severity,
            summary=f"qsre is running out of resources: {reasons[0]}",
            description="; ".join(reasons) + f" (as of {now:%Y-%m-%d %H:%M:%S} UTC).",
            annotations=links.annotations("resource_exhaustion"),
        )
    ]


# ------------------------------------------------------------------ validation findings
def _has_validation_table(store: Store, conn: Connection, now: datetime) -> bool:
    seen = _validation_table.get(store)
    if seen is True:
        return True
    if isinstance(seen, datetime) and 0 <= (now - seen).total_seconds() < _TABLE_RECHECK_S:
        return False
    exists = inspect(conn).has_table("validation_runs")
    _validation_table[store] = True if exists else now
    return exists


@dataclass(frozen=True)
class _Finding:
    circuit: str
    detail: str


def _latest_evaluated_run(rows: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    rows = list(rows)
    for row in rows:
        if row["verdict"] not in UNEVALUATED_VERDICTS:
            # Rows come newest first; give them back in the order the suite ran them.
            return [r for r in reversed(rows) if r["run_id"] == row["run_id"]]
    return []


_VALIDATION_COLUMNS = (
    "id",
    "backend",
    "run_id",
    "circuit",
    "ran_at",
    "verdict",
    "drift",
    "diverged",
    "fidelity",
    "divergence_tvd",
    "divergence_p",
    "drift_statistic",
    "drift_threshold",
)
# Backends per statement: one round trip reads the newest rows of up to this many.
_BACKENDS_PER_QUERY = 16


@lru_cache(maxsize=_BACKENDS_PER_QUERY)
def _latest_validation_rows_query(backends: int) -> Any:
    """The newest ``limit`` rows of each of ``backends`` backends (bound as b0, b1, ...),
    as one UNION ALL of index-ordered scans."""
    v = VALIDATION_RUNS.c
    parts = [
        select(*(v[c] for c in _VALIDATION_COLUMNS))
        .where(
            v.backend == bindparam(f"b{i}"),
            v.ran_at > bindparam("oldest"),
            v.ran_at <= bindparam("now"),
        )
        .order_by(v.ran_at.desc(), v.id.desc())
        .limit(bindparam("limit"))
        .subquery(f"latest{i}")
        for i in range(backends)
    ]
    selects = [select(*part.c) for part in parts]
    return selects[0] if backends == 1 else union_all(*selects)


def _newest_rows(
    conn: Connection, backends: Sequence[str], oldest: datetime, now: datetime, limit: int
) -> dict[str, list[Mapping[str, Any]]]:
    """Newest ``limit`` validation rows per backend, newest first."""
    out: dict[str, list[Mapping[str, Any]]] = {b: [] for b in backends}
    for start in range(0, len(backends), _BACKENDS_PER_QUERY):
        chunk = backends[start : start + _BACKENDS_PER_QUERY]
        params: dict[str, Any] = {f"b{i}": b for i, b in enumerate(chunk)}
        params.update(oldest=oldest, now=now, limit=limit)
        for row in conn.execute(_latest_validation_rows_query(len(chunk)), params).mappings():
            out[row["backend"]].append(row)
    for rows in out.values():
        # A UNION does not promise the order of its parts' rows: sort again.
        rows.sort(key=lambda r: (as_utc(r["ran_at"]), r["id"]), reverse=True)
    return out


def _validation_signals(
    conn: Connection, now: datetime, config: SignalConfig, links: _Links
) -> list[Alert]:
    drift_cfg, div_cfg = config.calibration_drift, config.simulator_divergence
    enabled = [c for c in (drift_cfg, div_cfg) if c.enabled]
    oldest = _since(now, max(c.max_age_s for c in enabled))
    scan = max(c.scan_rows for c in enabled)
    backends = list(conn.execute(_VALIDATION_BACKENDS).scalars().all())
    # Usually the newest few rows of a backend hold its whole latest run; read more only
    # where the run may go on past what was read, or only failed runs were found.
    limit = min(32, scan)
    newest = _newest_rows(conn, backends, oldest, now, limit)
    alerts: list[Alert] = []
    for backend in backends:
        rows, backend_limit = newest[backend], limit
        while True:
            run = _latest_evaluated_run(rows)
            if len(rows) < backend_limit or backend_limit >= scan:
                break
            if run and rows[-1]["run_id"] != run[0]["run_id"]:
                break
            backend_limit = min(scan, backend_limit * 4)
            rows = _newest_rows(conn, [backend], oldest, now, backend_limit)[backend]
        if not run:
            continue
        ran_at = as_utc(max(r["ran_at"] for r in run))
        assert ran_at is not None
        age_s = (now - ran_at).total_seconds()
        run_id = run[0]["run_id"]
        if drift_cfg.enabled and age_s < drift_cfg.max_age_s:
            drifted = [
                _Finding(
                    r["circuit"],
                    f"CUSUM {_num(r['drift_statistic'])} > {_num(r['drift_threshold'])}, "
                    f"fidelity {_num(r['fidelity'])}",
                )
                for r in run
                if r["drift"]
            ]
            if drifted:
                alerts.append(
                    _validation_alert(
                        "calibration_drift",
                        drift_cfg.severity,
                        backend,
                        drifted,
                        f"Calibration drift on {backend}",
                        run_id,
                        ran_at,
                        links,
                    )
                )
        if div_cfg.enabled and age_s < div_cfg.max_age_s:
            diverged = [
                _Finding(
                    r["circuit"],
                    f"TVD vs noisy prediction {_num(r['divergence_tvd'])}, "
                    f"p={_num(r['divergence_p'], '.2g')}",
                )
                for r in run
                if r["diverged"]
            ]
            if diverged:
                alerts.append(
                    _validation_alert(
                        "simulator_divergence",
                        div_cfg.severity,
                        backend,
                        diverged,
                        f"{backend} diverges from its own noisy simulation",
                        run_id,
                        ran_at,
                        links,
                    )
                )
    return alerts


def _num(value: float | None, fmt: str = ".3f") -> str:
    return "n/a" if value is None else format(value, fmt)


def _validation_alert(
    kind: str,
    severity: str | None,
    backend: str,
    findings: list[_Finding],
    headline: str,
    run_id: str,
    ran_at: datetime,
    links: _Links,
) -> Alert:
    circuits = ", ".join(f.circuit for f in findings)
    return make_alert(
        kind,
        severity=severity,
        labels={"backend": backend},
        summary=f"{headline}: {len(findings)} circuit(s) ({circuits})",
        description=(
            f"Validation run {run_id} at {ran_at:%Y-%m-%d %H:%M:%S} UTC: "
            + "; ".join(f"{f.circuit}: {f.detail}" for f in findings)
            + "."
        ),
        annotations={**links.annotations(kind, backend=backend), "circuits": circuits},
    )
