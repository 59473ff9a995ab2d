"""The incidents section: alert episodes from the router's state, merged into incidents.

An *episode* is one firing of one alert (fingerprint): from its first successful
notification (or ``starts_at``) to its resolution. An *incident* is what a person
handled: the episodes of one alert name on one SLO/backend, merged when the next one
starts within ``INCIDENT_MERGE_GAP_S`` of the previous one's end (a flapping alert,
repeats, re-evaluations) — one row, however many notifications it took.
"""

from __future__ import annotations

import re
import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import JSON, Boolean, Column, Integer, MetaData, String, Table, inspect, select

from collector.clock import as_utc
from collector.schema import UTCDateTime
from collector.store import Store
from slo.alerts import ALERT_KINDS, runbook_path
from slo.report_week import ReportWeek

__all__ = [
    "INCIDENT_MERGE_GAP_S",
    "AlertEpisode",
    "AlertKindCount",
    "AlertSection",
    "Incident",
    "alert_section",
]

INCIDENT_MERGE_GAP_S = 3600.0

_meta = MetaData()
_TS = UTCDateTime()  # UTC on every dialect, whatever offset a provider gave
_alerts_t = Table(
    "slo_alerts",
    _meta,
    Column("fingerprint", String(16), primary_key=True),
    Column("labels", JSON),
    Column("annotations", JSON),
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
class Incident:
    """Episodes of one alert on one SLO/backend, merged across repeats."""

    alertname: str
    kind: str
    severity: str  # the worst of its episodes (page over ticket)
    subject: str
    started_at: datetime
    resolved_at: datetime | None  # None: still open at the week's end
    duration_seconds: float | None  # to resolution; None while open
    open_seconds_at_week_end: float | None  # how long an open one had been open
    episodes: int
    runbook: str  # the alert's runbook_url, else runbooks/<kind>.md


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
    incidents: tuple[Incident, ...] = ()

    @property
    def pages(self) -> int:
        """Incidents that paged someone."""
        return sum(1 for i in self.incidents if i.severity == "page")

    @property
    def incidents_open(self) -> int:
        return sum(1 for i in self.incidents if i.resolved_at is None)

    @property
    def median_incident_resolve_seconds(self) -> float | None:
        done = [i.duration_seconds for i in self.incidents if i.duration_seconds is not None]
        return statistics.median(done) if done else None


def _labels_from_group_key(group_key: str) -> dict[str, str]:
    inner = group_key.split(":", 1)[-1]
    return dict(_GROUP_LABEL_RE.findall(inner))


def _episodes(store: Store, week: ReportWeek) -> tuple[list[AlertEpisode], dict[str, str]] | None:
    """Episodes that started in the week, and fingerprint -> runbook URL where known."""
    tables = set(inspect(store.engine).get_table_names())
    if not {"slo_alerts", "slo_notification_log"} <= tables:
        return None
    # Episodes that started up to a week earlier can resolve inside this week.
    since = week.start - timedelta(days=7)
    with store.engine.connect() as conn:
        state = {
            r.fingerprint: (dict(r.labels or {}), as_utc(r.starts_at), as_utc(r.ends_at))
            for r in conn.execute(select(_alerts_t))
        }
        runbooks = {
            r.fingerprint: str((r.annotations or {}).get("runbook_url") or "")
            for r in conn.execute(select(_alerts_t.c.fingerprint, _alerts_t.c.annotations))
        }
        log = conn.execute(
            select(_log_t)
            .where(_log_t.c.ok.is_(True), _log_t.c.at >= since, _log_t.c.at < week.end)
            .order_by(_log_t.c.at, _log_t.c.id)
        ).all()
    labels: dict[str, dict[str, str]] = {fp: v[0] for fp, v in state.items()}
    # fingerprint -> list of [start, end|None]
    spans: dict[str, list[list[datetime | None]]] = defaultdict(list)
    last_seen: dict[str, datetime] = {}
    for row in log:
        at = as_utc(row.at)
        for fp in row.fingerprints or ():
            labels.setdefault(fp, _labels_from_group_key(row.group_key))
            eps = spans[fp]
            if row.status == "resolved":
                if eps and eps[-1][1] is None:
                    eps[-1][1] = at
            elif not eps or (eps[-1][1] is not None and at > eps[-1][1]):  # type: ignore[operator]
                # A notification for an alert whose last episode is closed opens a new
                # episode; repeats of an open episode only move last_seen.
                eps.append([at, None])
            last_seen[fp] = at  # type: ignore[assignment]
    for fp, (_, starts_at, ends_at) in state.items():
        eps = spans[fp]
        if eps and eps[-1][1] is None:
            # The state table knows the true start and end of the open episode.
            eps[-1][0] = min(eps[-1][0], starts_at) if starts_at else eps[-1][0]  # type: ignore[type-var]
            eps[-1][1] = ends_at
        elif starts_at is not None and (not eps or starts_at > eps[-1][1]):  # type: ignore[operator]
            eps.append([starts_at, ends_at])
    for fp, eps in spans.items():
        # An episode that left the state table was resolved and told to everyone:
        # its last notification was the resolution.
        if eps and eps[-1][1] is None and fp not in state:
            eps[-1][1] = last_seen.get(fp)
    out = []
    for fp, eps in spans.items():
        lab = labels.get(fp, {})
        alertname = lab.get("alertname", "")
        kind = lab.get("kind") or _KIND_BY_ALERTNAME.get(alertname, "unknown")
        severity = lab.get("severity") or (
            ALERT_KINDS[kind].default_severity if kind in ALERT_KINDS else ""
        )
        for start, end in eps:
            if start is None or not (week.start <= start < week.end):
                continue
            # A resolution after the week's end is not known at the week's end.
            end = end if end is not None and end < week.end else None
            seconds = None if end is None else max(0.0, (end - start).total_seconds())
            subject = lab.get("slo") or lab.get("backend") or ""
            out.append(AlertEpisode(fp, alertname, kind, severity, subject, start, end, seconds))
    out.sort(key=lambda e: (e.started_at, e.fingerprint))
    return out, runbooks


_SEVERITY_RANK = {"page": 0, "ticket": 1}


def _runbook_base(episodes: list[AlertEpisode], runbooks: dict[str, str]) -> str:
    """The runbook base URL the router used, seen in any alert still in the state table
    (its runbook_url ends in ``<kind>.md``); "" if none is known."""
    kinds = {e.fingerprint: e.kind for e in episodes}
    for fp, url in runbooks.items():
        kind = kinds.get(fp)
        if kind and url.endswith(f"{kind}.md"):
            return url[: -len(f"{kind}.md")]
    return ""


def merge_incidents(
    episodes: list[AlertEpisode], runbooks: dict[str, str], week_end: datetime
) -> tuple[Incident, ...]:
    """One incident per run of episodes of an alert on a subject, gaps < the merge gap.

    Resolved alerts have left the state table with their runbook_url; they get the
    same base URL as the others, or the repository path ``runbooks/<kind>.md``."""
    base = _runbook_base(episodes, runbooks)
    by_subject: dict[tuple[str, str, str], list[AlertEpisode]] = defaultdict(list)
    for e in episodes:
        by_subject[(e.alertname or e.kind, e.kind, e.subject)].append(e)
    out: list[Incident] = []
    for (alertname, kind, subject), eps in by_subject.items():
        eps.sort(key=lambda e: e.started_at)
        runs: list[list[AlertEpisode]] = []
        end: datetime | None = None
        for e in eps:
            open_run = runs and (
                end is None or (e.started_at - end).total_seconds() <= INCIDENT_MERGE_GAP_S
            )
            if open_run:
                runs[-1].append(e)
            else:
                runs.append([e])
            ends = [x.resolved_at for x in runs[-1]]
            end = None if any(x is None for x in ends) else max(ends)  # type: ignore[type-var]
        for run in runs:
            ends = [x.resolved_at for x in run]
            resolved = None if any(x is None for x in ends) else max(ends)  # type: ignore[type-var]
            start = run[0].started_at
            severity = min((x.severity for x in run), key=lambda s: _SEVERITY_RANK.get(s, 9))
            runbook = next(
                (runbooks[x.fingerprint] for x in run if runbooks.get(x.fingerprint)), ""
            )
            out.append(
                Incident(
                    alertname=alertname,
                    kind=kind,
                    severity=severity,
                    subject=subject,
                    started_at=start,
                    resolved_at=resolved,
                    duration_seconds=None
                    if resolved is None
                    else (resolved - start).total_seconds(),
                    open_seconds_at_week_end=(week_end - start).total_seconds()
                    if resolved is None
                    else None,
                    episodes=len(run),
                    runbook=runbook
                    or (
                        (f"{base}{kind}.md" if base else runbook_path(kind))
                        if kind in ALERT_KINDS
                        else ""
                    ),
                )
            )
    out.sort(key=lambda i: (_SEVERITY_RANK.get(i.severity, 9), i.started_at, i.subject))
    return tuple(out)


def alert_section(store: Store, week: ReportWeek) -> AlertSection:
    found = _episodes(store, week)
    if found is None:
        return AlertSection(False, 0, 0, 0, None, None, (), ())
    out, runbooks = found
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
        incidents=merge_incidents(out, runbooks, week.end),
    )
