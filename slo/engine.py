"""The SLO engine: rollups → burn rates, budgets and alert decisions for every SLO.

One evaluation cycle per SLO: update the minute rollups from the store, read the
buckets covering the longest window the SLO needs (policy windows, 1 h current
burn, the period — or the calendar period's start), and hand them to the pure
burn math in ``slo.burn`` (summed counts, history and min-events guards, faster
tier suppressing slower ones, budget as ratio and as time left).

``evaluate(at=...)`` answers as of a past instant: only buckets of minutes that
ended by ``at`` are used (the minute containing ``at`` is still open), and history
starting after ``at`` means nothing is evaluable.

The last evaluation is kept for ``metrics_source()``, which the daemon adds to the
store exporter: ``qsre_slo_error_budget_remaining_ratio{slo}``,
``qsre_slo_burn_rate{slo,window}`` and ``qsre_slo_sli_ratio{slo}``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from prometheus_client.core import GaugeMetricFamily, Metric

from collector.clock import Clock, as_utc
from runbooks.catalog import runbook_url as catalog_runbook_url
from slo import burn
from slo.alerts import Alert, make_alert
from slo.errors import SLOError
from slo.policy import Policy, get_policy
from slo.rollup import Rollups, instant_of, minute_of
from slo.sli import sli_query
from slo.spec import SLO
from slo.windows import CalendarWindow, factor_period_s, prom_duration, window_bounds


class EngineError(SLOError):
    """The engine was asked something it cannot answer (e.g. an instant in the future)."""


@dataclass(frozen=True)
class SLOStatus:
    """Where one SLO stands at ``at``. Ratios are fractions (0.999), times UTC.

    ``good`` / ``total`` / ``sli_ratio`` cover the SLO window clipped to the
    available history. ``burn_rates`` maps a window label (``5m``, ``1h``, ``30d``)
    to its burn rate, None when the window is not evaluable (history shorter than
    the window, or no events). ``budget_remaining_seconds`` is the time until the
    budget is gone at the current (1 h) burn rate, None when not burning.
    """

    name: str
    objective: float
    sli_kind: str
    window_start: datetime
    window_end: datetime
    good: float
    total: float
    sli_ratio: float | None
    budget_remaining_ratio: float
    budget_remaining_seconds: float | None
    exhaustion_at: datetime | None
    burn_rates: dict[str, float | None]
    firing: tuple[str, ...]
    evaluated_windows: tuple[str, ...]
    notes: tuple[str, ...]
    at: datetime
    policy: str = ""
    current_burn_rate: float | None = None
    suppressed: tuple[str, ...] = ()
    fired_windows: dict[str, tuple[str, ...]] = field(default_factory=dict)
    history_start: datetime | None = None
    history_complete: bool = False
    spend_usd: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (ISO 8601 times; `qsre slo status --json`)."""

        def ts(value: datetime | None) -> str | None:
            return value.isoformat() if value is not None else None

        return {
            "name": self.name,
            "objective": self.objective,
            "sli_kind": self.sli_kind,
            "policy": self.policy,
            "at": ts(self.at),
            "window_start": ts(self.window_start),
            "window_end": ts(self.window_end),
            "good": self.good,
            "total": self.total,
            "sli_ratio": self.sli_ratio,
            "spend_usd": self.spend_usd,
            "budget_remaining_ratio": self.budget_remaining_ratio,
            "budget_remaining_seconds": self.budget_remaining_seconds,
            "exhaustion_at": ts(self.exhaustion_at),
            "current_burn_rate": self.current_burn_rate,
            "burn_rates": dict(self.burn_rates),
            "firing": list(self.firing),
            "suppressed": list(self.suppressed),
            "fired_windows": {k: list(v) for k, v in self.fired_windows.items()},
            "evaluated_windows": list(self.evaluated_windows),
            "history_start": ts(self.history_start),
            "history_complete": self.history_complete,
            "notes": list(self.notes),
        }


class SLOEngine:
    """Evaluates SLOs over the store's rollups (see module doc).

    ``policies``: name → Policy for policies beyond the built-in ones (SLOs name
    their policy). ``rollups``: share one ``Rollups`` between engines if wanted.
    """

    def __init__(
        self,
        store: Any,
        slos: Iterable[SLO],
        *,
        clock: Clock,
        policies: Mapping[str, Policy] | None = None,
        rollups: Rollups | None = None,
        read_only: bool = False,
    ) -> None:
        self.store = store
        self.read_only = read_only
        self.slos = tuple(slos)
        self.clock = clock
        self._policies = dict(policies or {})
        self._by_name = {s.name: s for s in self.slos}
        # Resolve policies and SLI queries now: a bad SLO fails at start-up, not
        # in the first evaluation cycle.
        for slo in self.slos:
            self.policy_for(slo)
            sli_query(slo.sli)
        self.rollups = rollups if rollups is not None else Rollups(store, read_only=read_only)
        self._last: tuple[SLOStatus, ...] = ()

    def policy_for(self, slo: SLO) -> Policy:
        if slo.policy in self._policies:
            return self._policies[slo.policy]
        return get_policy(slo.policy)

    @property
    def last_statuses(self) -> tuple[SLOStatus, ...]:
        return self._last

    def evaluate(self, at: datetime | None = None, *, update: bool = True) -> list[SLOStatus]:
        """Status of every SLO at ``at`` (default: now). Updates the rollups first
        unless ``update=False`` or the engine is read-only (then the stored rollups
        are read where a daemon keeps them current and the rest is computed from
        the store in memory; nothing is written)."""
        now = self.clock.now()
        at_utc = as_utc(at) if at is not None else now
        assert at_utc is not None
        if at_utc > now:
            raise EngineError(f"evaluate: at={at_utc.isoformat()} is after now={now.isoformat()}")
        if update and not self.read_only:
            self.rollups.update(self.slos, now)
        statuses = [self._evaluate_one(slo, at_utc) for slo in self.slos]
        self._last = tuple(statuses)
        return statuses

    def _evaluate_one(self, slo: SLO, at: datetime) -> SLOStatus:
        policy = self.policy_for(slo)
        period = factor_period_s(slo.window)
        longest = max((*policy.windows_s(), period, burn.CURRENT_BURN_WINDOW_S))
        end = instant_of(minute_of(at))
        start = end - timedelta(seconds=longest)
        if isinstance(slo.window, CalendarWindow):
            start = min(start, instant_of(minute_of(window_bounds(slo.window, at)[0])))
        good, total, history = self.rollups.buckets(slo, start, end)
        # No data at all: history "starts" at the end, so no window is complete.
        # Floored to its minute: the first minute's events are counted, not dropped.
        history_minute = instant_of(minute_of(history)) if history is not None else end
        budget_start = None
        if slo.sli.kind == "cost_budget" and history is not None and history <= at:
            # Spend before the store's first job is $0, not unknown: a new install's
            # first job must not read as an overspent month (the budget pro rata for
            # its first minute). Minutes a new series has not built yet stay unknown,
            # and so does a time before the store held anything (no budget to show).
            budget_start = self.rollups.built_from(slo) or start
        buckets = burn.MinuteBuckets.from_history_start(
            start, good, total, history_minute, budget_start
        )
        ev = burn.evaluate(slo, policy, buckets, len(buckets))
        b = ev.budget
        if isinstance(slo.window, CalendarWindow):
            w_start, w_end = window_bounds(slo.window, at)
        else:
            w_start, w_end = at - timedelta(seconds=slo.window.duration_s), at
        rates: dict[str, float | None] = {}
        evaluated: list[str] = []
        for w in ev.windows:
            label = prom_duration(w.window_s)
            rates[label] = w.burn_rate if w.complete else None
            if w.complete:
                evaluated.append(label)
        return SLOStatus(
            name=slo.name,
            objective=slo.objective,
            sli_kind=slo.sli.kind,
            window_start=w_start,
            window_end=w_end,
            good=b.good,
            total=b.total,
            sli_ratio=b.sli_attainment,
            budget_remaining_ratio=b.remaining_ratio,
            budget_remaining_seconds=b.time_remaining_s,
            exhaustion_at=b.exhaustion_at,
            burn_rates=rates,
            firing=tuple(t.severity for t in ev.tiers if t.firing),
            evaluated_windows=tuple(evaluated),
            notes=_notes(slo, ev, history, at),
            at=at,
            policy=policy.name,
            current_burn_rate=b.current_burn_rate,
            suppressed=tuple(t.severity for t in ev.tiers if t.suppressed),
            fired_windows={
                t.severity: tuple(
                    f"{prom_duration(lo)}/{prom_duration(sh)}" for lo, sh in t.fired_windows
                )
                for t in ev.tiers
                if t.fired_windows
            },
            history_start=history,
            history_complete=b.complete,
            spend_usd=b.total - b.good if slo.sli.kind == "cost_budget" else None,
        )

    # ------------------------------------------------------------------ alerts
    def alerts(
        self,
        statuses: Sequence[SLOStatus],
        *,
        runbook_base_url: str,
        dashboard_base_url: str = "",
    ) -> list[Alert]:
        """One ``slo_burn_page`` / ``slo_burn_ticket`` alert per firing tier.

        Labels: alertname, kind, severity, slo plus the SLO's own labels (as the
        generated Prometheus rules carry them, so both paths share a fingerprint).
        """
        out: list[Alert] = []
        for status in statuses:
            slo = self._by_name.get(status.name)
            if slo is None:
                raise EngineError(f"alerts: status for unknown SLO {status.name!r}")
            for severity in status.firing:
                kind = f"slo_burn_{severity}"
                runbook = slo.runbook_url or catalog_runbook_url(kind, runbook_base_url)
                dashboard = (
                    f"{dashboard_base_url.rstrip('/')}/{slo.name}" if dashboard_base_url else ""
                )
                out.append(
                    make_alert(
                        kind,
                        severity=severity,
                        labels={**dict(slo.labels), "slo": slo.name},
                        summary=f"SLO {slo.name} is burning its error budget ({severity})",
                        description=_alert_description(slo, status, severity),
                        runbook_url=runbook,
                        dashboard_url=dashboard,
                        annotations={
                            "burn_rates": _rates_text(status.burn_rates),
                            "fired_windows": ", ".join(status.fired_windows.get(severity, ())),
                            "budget_remaining": f"{status.budget_remaining_ratio:.1%}",
                            "budget_remaining_time": format_duration_s(
                                status.budget_remaining_seconds
                            ),
                            "objective": f"{slo.objective:g}",
                        },
                    )
                )
        return out

    def metrics_source(self) -> SLOMetricsSource:
        """A ``collect()`` source for ``StoreExporter.add_source`` (last evaluation)."""
        return SLOMetricsSource(self)


class SLOMetricsSource:
    """Gauges from the engine's last evaluation (nothing before the first one)."""

    def __init__(self, engine: SLOEngine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[Metric]:
        statuses = self.engine.last_statuses
        remaining = GaugeMetricFamily(
            "qsre_slo_error_budget_remaining_ratio",
            "Fraction of the SLO period's error budget left (negative once overspent).",
            labels=["slo"],
        )
        rates = GaugeMetricFamily(
            "qsre_slo_burn_rate",
            "Error ratio over the window divided by the error budget (1 = on budget).",
            labels=["slo", "window"],
        )
        ratio = GaugeMetricFamily(
            "qsre_slo_sli_ratio",
            "Good events / total events over the SLO window.",
            labels=["slo"],
        )
        for s in statuses:
            remaining.add_metric([s.name], s.budget_remaining_ratio)
            for window, rate in s.burn_rates.items():
                if rate is not None and math.isfinite(rate):
                    rates.add_metric([s.name, window], rate)
            if s.sli_ratio is not None:
                ratio.add_metric([s.name], s.sli_ratio)
        yield remaining
        yield rates
        yield ratio


def format_duration_s(seconds: float | None) -> str:
    """``2d 3h``, ``4h 10m``, ``12m``; ``-`` for None (not burning)."""
    if seconds is None:
        return "-"
    minutes = int(seconds // 60)
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {mins}m"
    return f"{mins}m"


def _rates_text(rates: Mapping[str, float | None]) -> str:
    return " ".join(f"{w}={r:.2f}" for w, r in rates.items() if r is not None)


def _alert_description(slo: SLO, status: SLOStatus, severity: str) -> str:
    windows = ", ".join(status.fired_windows.get(severity, ())) or "-"
    return (
        f"{slo.description or slo.name}: error budget burning above the {status.policy} "
        f"{severity} thresholds over {windows}; {status.budget_remaining_ratio:.1%} of the "
        f"budget left, exhausted in {format_duration_s(status.budget_remaining_seconds)} at "
        f"the current rate (objective {slo.objective:g})."
    )


def _notes(
    slo: SLO, ev: burn.Evaluation, history: datetime | None, at: datetime
) -> tuple[str, ...]:
    notes: list[str] = []
    if history is None or history > at:
        notes.append("no history yet: nothing recorded before this instant")
    elif slo.sli.kind == "cost_budget" and history > ev.budget.period_start:
        notes.append(f"no spend recorded before {history:%Y-%m-%d %H:%M} UTC (counted as $0)")
    elif not ev.budget.complete:
        notes.append(
            f"history since {history:%Y-%m-%d %H:%M} UTC is shorter than the SLO window: "
            "budget computed over the available data"
        )
    if ev.budget.total == 0:
        notes.append("no events in the SLO window")
    for tier in ev.tiers:
        if tier.suppressed:
            notes.append(f"{tier.severity} suppressed while a faster tier fires")
        elif not tier.firing:
            reasons = sorted(
                {
                    p.reason
                    for p in tier.pairs
                    if p.reason and p.reason != "burn rate below the factor"
                }
            )
            for reason in reasons:
                notes.append(f"{tier.severity} not evaluable: {reason}")
    return tuple(notes)
