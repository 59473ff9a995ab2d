"""The validation section: fidelity per reference circuit, verdict counts, readout
mitigation, and drift / divergence as *episodes* per backend.

Validation runs are bounded by the schedule (suite runs x circuits x backends), not
by the workload, so they are read as rows; their JSON evidence only for flagged runs.

An episode of a backend: from the first suite run (one ``ran_at``) with a circuit
flagged ``drift`` (or ``diverged``) to the first later suite run that flags none and
is not all errors — latched until then, and why it ended (a recalibration: the
run's calibration differs from the episode's; else the detector cleared); still
open if none came before the week's end. Attribution: a software version change
between the run before the episode and its first run, else the validator's
``likely_cause``.
"""

from __future__ import annotations

import dataclasses
import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import inspect, select

from collector.clock import as_utc
from collector.store import Store
from slo.report_week import ReportWeek
from slo.spec import SLO
from slo.validation_table import VALIDATION_RUNS

__all__ = [
    "DEFAULT_MITIGATION_MARGIN",
    "EPISODE_VERDICTS",
    "BackendVerdicts",
    "FidelityPoint",
    "FidelitySection",
    "MitigationGain",
    "ValidationEpisode",
    "ValidationEvent",
    "fidelity_section",
    "mitigation_margin",
]

# Margin of the report's "improved" share when no mitigation_gain SLO names one.
DEFAULT_MITIGATION_MARGIN = 0.01
EPISODE_VERDICTS = ("drift", "diverged")
_V = VALIDATION_RUNS
# The calibration a run was judged against and the software versions it ran with.
_CALIBRATION_AT = _V.c.calibration_at
_VERSIONS = _V.c.versions


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
class ValidationEpisode:
    """A drift or divergence of one backend, merged over its hourly suite runs."""

    backend: str
    verdict: str  # drift | diverged
    first_detected_at: datetime
    started_before_week: bool  # flagged already at the week's first suite run
    latched_until: datetime | None  # the first clean suite run; None: still open
    ended_by: str  # recalibration | cleared | still open
    suite_runs: int  # flagged suite runs
    circuits: tuple[str, ...]
    effect_tvd: float | None  # the largest effect over its runs (TVD)
    attribution: str  # the validator's likely cause, or the version change seen


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
    episodes: tuple[ValidationEpisode, ...] = ()


def _versions_changed(before: dict[str, Any], after: dict[str, Any]) -> str:
    """``"qiskit-aer 0.18.1 → 0.18.2"`` for the first differing version entry, or ""."""

    def flat(d: Any, prefix: str = "") -> dict[str, str]:
        out: dict[str, str] = {}
        for k, v in (d or {}).items():
            if isinstance(v, dict):
                out.update(flat(v, f"{prefix}{k}."))
            else:
                out[f"{prefix}{k}"] = str(v)
        return out

    a, b = flat(before), flat(after)
    for key in sorted(set(a) | set(b)):
        if a.get(key) != b.get(key):
            return f"{key} {a.get(key, '–')} → {b.get(key, '–')}"
    return ""


def _effect(verdict: str, evidence: dict[str, Any], divergence_tvd: float | None) -> float | None:
    part = (evidence or {}).get("drift" if verdict == "drift" else "divergence") or {}
    value = part.get("effect_tvd" if verdict == "drift" else "excess_tvd")
    if isinstance(value, int | float):
        return float(value)
    return None if divergence_tvd is None else float(divergence_tvd)


def _episodes(store: Store, week: ReportWeek, rows: Sequence[Any]) -> tuple[ValidationEpisode, ...]:
    # backend -> ran_at -> [(circuit, verdict, calibration_at)]
    suites: dict[str, dict[datetime, list[tuple[str, str, datetime | None]]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for r in rows:
        suites[r.backend][as_utc(r.ran_at)].append(  # type: ignore[index]
            (r.circuit, r.verdict, as_utc(r.calibration_at))
        )
    flagged_q = (
        select(
            _V.c.backend,
            _V.c.circuit,
            _V.c.ran_at,
            _V.c.verdict,
            _V.c.evidence,
            _VERSIONS,
            _V.c.divergence_tvd,
        )
        .where(
            _V.c.ran_at >= week.start, _V.c.ran_at < week.end, _V.c.verdict.in_(EPISODE_VERDICTS)
        )
        .order_by(_V.c.ran_at, _V.c.id)
    )
    with store.engine.connect() as conn:
        flagged = conn.execute(flagged_q).all()
    detail: dict[tuple[str, datetime, str], Any] = {}
    for f in flagged:
        detail[(f.backend, as_utc(f.ran_at), f.circuit)] = f  # type: ignore[index]
    out = []
    for backend, by_time in suites.items():
        times = sorted(by_time)
        for verdict in EPISODE_VERDICTS:
            current: dict[str, Any] | None = None
            for i, at in enumerate(times):
                suite = by_time[at]
                hits = [c for c, v, _ in suite if v == verdict]
                all_errors = all(v == "error" for _, v, _ in suite)
                if hits:
                    if current is None:
                        current = {"start": at, "index": i, "runs": 0, "circuits": set()}
                        current["cal"] = suite[0][2]
                    current["runs"] += 1
                    current["circuits"].update(hits)
                elif current is not None and not all_errors:
                    cal = suite[0][2]
                    current["end"] = at
                    current["ended_by"] = (
                        "recalibration" if cal is not None and cal != current["cal"] else "cleared"
                    )
                    out.append(_episode(store, backend, verdict, current, times, detail))
                    current = None
            if current is not None:
                current["end"] = None
                current["ended_by"] = "still open"
                out.append(_episode(store, backend, verdict, current, times, detail))
    out.sort(key=lambda e: (e.first_detected_at, e.backend))
    return tuple(out)


def _episode(
    store: Store,
    backend: str,
    verdict: str,
    ep: dict[str, Any],
    times: list[datetime],
    detail: dict[tuple[str, datetime, str], Any],
) -> ValidationEpisode:
    start: datetime = ep["start"]
    rows = [
        d
        for (b, at, _), d in detail.items()
        if b == backend
        and d.verdict == verdict
        and start <= at
        and (ep["end"] is None or at < ep["end"])
    ]
    effects = [e for d in rows if (e := _effect(verdict, d.evidence, d.divergence_tvd)) is not None]
    first = min(rows, key=lambda d: as_utc(d.ran_at)) if rows else None  # type: ignore[arg-type,return-value]
    attribution = str(((first.evidence or {}).get("likely_cause") or "") if first else "")
    if first is not None:
        # A version change between the last run before the episode and its first run
        # explains it better than any statistic.
        prev = store_versions_before(store, backend, start)
        change = _versions_changed(prev, first.versions or {}) if prev is not None else ""
        if change:
            attribution = f"version change: {change}"
    if not attribution:
        attribution = "calibration" if verdict == "drift" else "–"
    return ValidationEpisode(
        backend=backend,
        verdict=verdict,
        first_detected_at=start,
        started_before_week=ep["index"] == 0,
        latched_until=ep["end"],
        ended_by=ep["ended_by"],
        suite_runs=ep["runs"],
        circuits=tuple(sorted(ep["circuits"])),
        effect_tvd=max(effects) if effects else None,
        attribution=attribution,
    )


def store_versions_before(store: Store, backend: str, at: datetime) -> dict[str, Any] | None:
    """The versions recorded by the backend's last validation run before ``at``."""
    q = (
        select(_VERSIONS)
        .where(_V.c.backend == backend, _V.c.ran_at < at)
        .order_by(_V.c.ran_at.desc(), _V.c.id.desc())
        .limit(1)
    )
    with store.engine.connect() as conn:
        row = conn.execute(q).first()
    return None if row is None else dict(row.versions or {})


def _base(store: Store, week: ReportWeek) -> FidelitySection:
    q = (
        select(
            _V.c.backend,
            _V.c.circuit,
            _V.c.ran_at,
            _CALIBRATION_AT,
            _V.c.fidelity,
            _V.c.divergence_tvd,
            _V.c.drift_statistic,
            _V.c.verdict,
        )
        .where(_V.c.ran_at >= week.start, _V.c.ran_at < week.end)
        .order_by(_V.c.ran_at, _V.c.id)
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
        if r.verdict in EPISODE_VERDICTS:
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
        episodes=_episodes(store, week, rows) if events else (),
    )


def _mitigation(store: Store, week: ReportWeek, margin: float) -> tuple[MitigationGain, ...]:
    """Per backend: runs with both fidelities, how many improved by >= margin, means.

    Same rows and the same comparison as the ``mitigation_gain`` SLI (slo.sli)."""
    columns = {c["name"] for c in inspect(store.engine).get_columns(_V.name)}
    if "fidelity_mitigated" not in columns:  # store not migrated yet: nothing recorded
        return ()
    q = select(_V.c.backend, _V.c.fidelity, _V.c.fidelity_mitigated).where(
        _V.c.ran_at >= week.start,
        _V.c.ran_at < week.end,
        _V.c.fidelity.is_not(None),
        _V.c.fidelity_mitigated.is_not(None),
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


def mitigation_margin(slos: Sequence[SLO]) -> float:
    """The margin the report's "improved" share uses: the first mitigation_gain SLO's."""
    for slo in slos:
        if slo.sli.kind == "mitigation_gain" and slo.sli.margin is not None:
            return slo.sli.margin
    return DEFAULT_MITIGATION_MARGIN


def fidelity_section(store: Store, week: ReportWeek, slos: Sequence[SLO]) -> FidelitySection:
    if "validation_runs" not in inspect(store.engine).get_table_names():
        return FidelitySection(False, (), (), ())
    section = _base(store, week)
    return dataclasses.replace(
        section, mitigation=_mitigation(store, week, mitigation_margin(slos))
    )
