"""Burn rates, error budgets and alert decisions: pure functions over minute buckets.

Input is per-minute ``good`` / ``total`` event counts (bucket ``i`` holds events in
``[start + i min, start + (i+1) min)``), the index of "now" (the evaluation instant
``start + now_index min``; windows end there and cover buckets ``< now_index``),
and the index where collected history begins. Cumulative sums make every window
sum O(1), so a whole policy over 30 days of buckets costs microseconds.

Semantics (matched by the generated Prometheus rules, see slo.rules):

- Error ratio of a window = Σbad / Σtotal over the window (summed counts, never an
  average of ratios); burn rate = error ratio / (1 − objective).
- A window reaching back before the start of history is *incomplete* and never
  fires: a fresh install with 7 h of data cannot raise the 3 d / 6 h ticket.
- A pair fires when both windows are complete, the long window saw at least
  ``slo.min_events`` events (not for cost_budget, whose events are synthetic), the
  short window saw any, and both error ratios exceed ``factor × (1 − objective)``.
- Tiers are ordered page → ticket; while a faster tier fires, slower tiers of the
  same SLO are suppressed (reported with ``suppressed=True``).
- Budget over the SLO period (rolling: the last period; calendar: since the period
  start), both clipped to available history: remaining = 1 − error ratio / (1 − O).
  A spend budget is clipped only where its minutes are unknown (``budget_start_index``):
  before the store's first job, nothing was spent through it.
  Time remaining = remaining × period / current burn rate, where the current burn
  rate is the 1 h burn rate (less noisy than 5 m; ``slo:current_burn_rate:ratio``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np

from slo.errors import BurnInputError
from slo.policy import Policy, WindowPair
from slo.spec import SLO
from slo.windows import CalendarWindow, factor_period_s, period_s, window_bounds

CURRENT_BURN_WINDOW_S = 3600
_MINUTE_S = 60


@dataclass(frozen=True, eq=False)
class MinuteBuckets:
    """Per-minute good/total counts from ``start`` (a minute-aligned aware instant).

    ``history_start_index``: first bucket at which collection was live; earlier
    buckets are zeros that mean "unknown", not "no traffic".
    ``budget_start_index``: first bucket the period budget counts from when that
    differs from the history start (None: the history start). A spend budget counts
    from the period start: before the first job the store holds, nothing was spent
    through it, which is a known $0, not an unknown.
    """

    start: datetime
    good: np.ndarray
    total: np.ndarray
    history_start_index: int = 0
    budget_start_index: int | None = None
    _cum_good: np.ndarray = field(init=False, repr=False)
    _cum_total: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        good = np.asarray(self.good, dtype=np.float64)
        total = np.asarray(self.total, dtype=np.float64)
        if good.ndim != 1 or good.shape != total.shape:
            raise BurnInputError(
                f"good and total must be 1-D arrays of equal length, got {good.shape} and {total.shape}"
            )
        if self.start.tzinfo is None or self.start.second or self.start.microsecond:
            raise BurnInputError(
                f"start must be an aware, minute-aligned instant, got {self.start!r}"
            )
        if not 0 <= self.history_start_index <= len(total):
            raise BurnInputError(
                f"history_start_index must be within 0..{len(total)}, got {self.history_start_index}"
            )
        if self.budget_start_index is not None and not (0 <= self.budget_start_index <= len(total)):
            raise BurnInputError(
                f"budget_start_index must be within 0..{len(total)}, got {self.budget_start_index}"
            )
        object.__setattr__(self, "good", good)
        object.__setattr__(self, "total", total)
        object.__setattr__(self, "_cum_good", np.concatenate(([0.0], np.cumsum(good))))
        object.__setattr__(self, "_cum_total", np.concatenate(([0.0], np.cumsum(total))))

    @classmethod
    def from_history_start(
        cls,
        start: datetime,
        good: np.ndarray,
        total: np.ndarray,
        history_start: datetime,
        budget_start: datetime | None = None,
    ) -> MinuteBuckets:
        """Buckets whose history begins at ``history_start`` and whose period budget
        counts from ``budget_start`` (None: the history start); both rounded up to a
        minute."""
        n = len(np.asarray(total))

        def index(at: datetime) -> int:
            return min(max(0, int(np.ceil((at - start).total_seconds() / _MINUTE_S))), n)

        return cls(
            start,
            good,
            total,
            index(history_start),
            None if budget_start is None else index(budget_start),
        )

    def __len__(self) -> int:
        return len(self.total)

    def instant(self, index: int) -> datetime:
        return (self.start + timedelta(minutes=index)).astimezone(UTC)

    def index_of(self, at: datetime) -> int:
        """Number of complete minutes between ``start`` and ``at`` (floor)."""
        return int((at - self.start).total_seconds() // _MINUTE_S)

    def sums(self, begin: int, end: int) -> tuple[float, float]:
        """(good, total) over buckets [begin, end), clipped to the array."""
        begin, end = max(begin, 0), min(end, len(self.total))
        if end <= begin:
            return 0.0, 0.0
        return (
            float(self._cum_good[end] - self._cum_good[begin]),
            float(self._cum_total[end] - self._cum_total[begin]),
        )

    def window_sums(self, window_minutes: int) -> tuple[np.ndarray, np.ndarray]:
        """(good, total) for the window ending at every now_index 0..len, vectorised."""
        n = np.arange(len(self.total) + 1)
        lo = np.maximum(n - window_minutes, 0)
        return self._cum_good - self._cum_good[lo], self._cum_total - self._cum_total[lo]


@dataclass(frozen=True)
class WindowBurn:
    window_s: int
    good: float
    total: float
    error_ratio: float | None  # None without events
    burn_rate: float | None
    complete: bool  # history covers the whole window


@dataclass(frozen=True)
class PairDecision:
    long: WindowBurn
    short: WindowBurn
    factor: float
    threshold_ratio: float  # factor × (1 − objective)
    firing: bool
    reason: str  # why it does not fire ("" when firing)


@dataclass(frozen=True)
class TierDecision:
    severity: str
    firing: bool
    suppressed: bool  # its pairs fire but a faster tier already does
    pairs: tuple[PairDecision, ...]

    @property
    def fired_windows(self) -> tuple[tuple[int, int], ...]:
        """(long_s, short_s) of every pair whose condition holds."""
        return tuple((p.long.window_s, p.short.window_s) for p in self.pairs if p.firing)


@dataclass(frozen=True)
class BudgetStatus:
    period_start: datetime  # of the data used (clipped to history)
    period_end: datetime
    period_s: float
    elapsed_fraction: float
    good: float
    total: float
    sli_attainment: float | None  # good / total over the period
    error_budget: float  # 1 − objective
    remaining_ratio: float  # 1 − consumed; negative once overspent
    current_burn_rate: float | None
    time_remaining_s: float | None  # at the current burn rate; None if not burning
    exhaustion_at: datetime | None  # None if not burning or (calendar) not before period end
    complete: bool  # history covers the whole period so far


@dataclass(frozen=True)
class Evaluation:
    slo: str
    at: datetime
    windows: tuple[WindowBurn, ...]
    budget: BudgetStatus
    tiers: tuple[TierDecision, ...]

    def firing(self, severity: str) -> bool:
        return any(t.firing for t in self.tiers if t.severity == severity)

    def window(self, window_s: int) -> WindowBurn:
        for w in self.windows:
            if w.window_s == window_s:
                return w
        raise KeyError(window_s)


def cost_budget_buckets(spend_usd: np.ndarray, slo: SLO) -> tuple[np.ndarray, np.ndarray]:
    """(good, total) minute buckets for a cost_budget SLO from per-minute spend.

    total = budgeted spend per minute / (1 − objective); bad = spend. Then
    burn rate = (spend / total) / (1 − objective) = spend rate / budgeted rate.
    """
    if slo.sli.budget_usd is None:
        raise BurnInputError(f"SLO {slo.name} is {slo.sli.kind}, not cost_budget")
    spend = np.asarray(spend_usd, dtype=np.float64)
    per_minute = slo.sli.budget_usd / (factor_period_s(slo.window) / _MINUTE_S) / slo.error_budget
    total = np.full_like(spend, per_minute)
    return total - spend, total


def timeslice_buckets(buckets: MinuteBuckets, target: float, slice_minutes: int) -> MinuteBuckets:
    """Buckets of time slices: a slice with events is good when good/total >= target.

    Slices are aligned to bucket 0; each slice's outcome (1 total, 0/1 good) lands
    in its last minute, so windows count slices that have ended.
    """
    n = len(buckets)
    whole = n - n % slice_minutes
    good = buckets.good[:whole].reshape(-1, slice_minutes).sum(axis=1)
    total = buckets.total[:whole].reshape(-1, slice_minutes).sum(axis=1)
    has = total > 0
    ok = has & (good >= target * np.where(has, total, 1.0))
    slice_good = np.zeros(n)
    slice_total = np.zeros(n)
    last = np.arange(slice_minutes - 1, whole, slice_minutes)
    slice_good[last] = ok
    slice_total[last] = has
    return MinuteBuckets(
        buckets.start,
        slice_good,
        slice_total,
        buckets.history_start_index,
        buckets.budget_start_index,
    )


def effective_buckets(slo: SLO, buckets: MinuteBuckets) -> MinuteBuckets:
    """Buckets the budgeting method counts: events, or time slices."""
    b = slo.budgeting
    if b.method == "timeslices":
        assert b.timeslice_target is not None and b.timeslice_window_s is not None
        return timeslice_buckets(buckets, b.timeslice_target, b.timeslice_window_s // _MINUTE_S)
    return buckets


def window_burn(slo: SLO, buckets: MinuteBuckets, now_index: int, window_s: int) -> WindowBurn:
    minutes = window_s // _MINUTE_S
    good, total = buckets.sums(now_index - minutes, now_index)
    ratio = (total - good) / total if total > 0 else None
    return WindowBurn(
        window_s=window_s,
        good=good,
        total=total,
        error_ratio=ratio,
        burn_rate=None if ratio is None else ratio / slo.error_budget,
        complete=now_index - minutes >= buckets.history_start_index,
    )


def evaluate(slo: SLO, policy: Policy, buckets: MinuteBuckets, now_index: int) -> Evaluation:
    """Everything the engine decides for one SLO at ``start + now_index`` minutes."""
    if not 0 <= now_index <= len(buckets):
        raise BurnInputError(f"now_index must be within 0..{len(buckets)}, got {now_index}")
    buckets = effective_buckets(slo, buckets)
    period = factor_period_s(slo.window)
    wanted = {*policy.windows_s(), CURRENT_BURN_WINDOW_S, period}
    burns = {w: window_burn(slo, buckets, now_index, w) for w in sorted(wanted)}
    tiers: list[TierDecision] = []
    faster_firing = False
    for tier in policy.tiers:
        pairs = tuple(_pair(slo, p, burns, period) for p in tier.pairs)
        would = any(p.firing for p in pairs)
        tiers.append(
            TierDecision(
                severity=tier.severity,
                firing=would and not faster_firing,
                suppressed=would and faster_firing,
                pairs=pairs,
            )
        )
        faster_firing = faster_firing or would
    at = buckets.instant(now_index)
    budget = _budget(slo, buckets, now_index, at, burns[CURRENT_BURN_WINDOW_S].burn_rate)
    return Evaluation(
        slo=slo.name, at=at, windows=tuple(burns.values()), budget=budget, tiers=tuple(tiers)
    )


def _pair(slo: SLO, pair: WindowPair, burns: dict[int, WindowBurn], period: int) -> PairDecision:
    factor = pair.factor(period)
    threshold = factor * slo.error_budget
    long, short = burns[pair.long_s], burns[pair.short_s]
    reason = ""
    if not long.complete:
        reason = "history shorter than the long window"
    elif slo.sli.kind != "cost_budget" and long.total < slo.min_events:
        reason = f"fewer than {slo.min_events} events in the long window"
    elif short.error_ratio is None or long.error_ratio is None:
        reason = "no events in the short window"
    elif not (long.error_ratio > threshold and short.error_ratio > threshold):
        reason = "burn rate below the factor"
    return PairDecision(long, short, factor, threshold, reason == "", reason)


def _budget(
    slo: SLO, buckets: MinuteBuckets, now_index: int, at: datetime, burn: float | None
) -> BudgetStatus:
    if isinstance(slo.window, CalendarWindow):
        start, end = window_bounds(slo.window, at)
        length_s = (end - start).total_seconds()
        begin = int(np.ceil((start - buckets.start).total_seconds() / _MINUTE_S))
    else:
        length_s = float(slo.window.duration_s)
        end = at
        begin = now_index - slo.window.duration_s // _MINUTE_S
    floor = buckets.history_start_index
    if buckets.budget_start_index is not None:
        floor = buckets.budget_start_index
    complete = begin >= floor
    begin = max(begin, floor)
    good, total = buckets.sums(begin, now_index)
    ratio = (total - good) / total if total > 0 else 0.0
    remaining = 1.0 - ratio / slo.error_budget
    time_left = exhaustion = None
    if burn is not None and burn > 0:
        time_left = max(remaining, 0.0) * length_s / burn
        exhaustion = at + timedelta(seconds=time_left)
        if isinstance(slo.window, CalendarWindow) and exhaustion >= end:
            exhaustion = None
    elapsed = (
        (at - buckets.instant(begin)).total_seconds()
        if isinstance(slo.window, CalendarWindow)
        else length_s
    )
    return BudgetStatus(
        period_start=buckets.instant(begin),
        period_end=end,
        period_s=length_s if isinstance(slo.window, CalendarWindow) else period_s(slo.window, at),
        elapsed_fraction=min(1.0, max(0.0, elapsed / length_s)),
        good=good,
        total=total,
        sli_attainment=good / total if total > 0 else None,
        error_budget=slo.error_budget,
        remaining_ratio=remaining,
        current_burn_rate=burn,
        time_remaining_s=time_left,
        exhaustion_at=exhaustion,
        complete=complete,
    )


def firing_timeline(slo: SLO, policy: Policy, buckets: MinuteBuckets) -> dict[str, np.ndarray]:
    """For every now_index 0..len, whether each tier fires (after suppression).

    Vectorised equivalent of calling ``evaluate`` at every minute; used to backfill
    alert history and to compare with Prometheus.
    """
    buckets = effective_buckets(slo, buckets)
    period = factor_period_s(slo.window)
    n = np.arange(len(buckets) + 1)
    sums: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for w in policy.windows_s():
        sums[w] = buckets.window_sums(w // _MINUTE_S)
    out: dict[str, np.ndarray] = {}
    faster = np.zeros(len(n), dtype=bool)
    for tier in policy.tiers:
        would = np.zeros(len(n), dtype=bool)
        for pair in tier.pairs:
            threshold = pair.factor(period) * slo.error_budget
            (lg, lt), (sg, st) = sums[pair.long_s], sums[pair.short_s]
            with np.errstate(divide="ignore", invalid="ignore"):
                long_ratio = np.where(lt > 0, (lt - lg) / lt, -1.0)
                short_ratio = np.where(st > 0, (st - sg) / st, -1.0)
            ok = n - pair.long_s // _MINUTE_S >= buckets.history_start_index
            if slo.sli.kind != "cost_budget":
                ok &= lt >= slo.min_events
            would |= ok & (lt > 0) & (st > 0) & (long_ratio > threshold) & (short_ratio > threshold)
        out[tier.severity] = would & ~faster
        faster |= would
    return out
