"""The SLO section: the SLO engine evaluated at each day boundary of the week (and at
now, for a week in progress).

The week-end figures are what ``qsre slo status --at <week end>`` shows; the first
point (the week's start, i.e. the previous week's end) gives the week-over-week
change. The engine is built read-only: a report never writes rollups.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from collector.clock import Clock
from collector.store import Store
from slo.report_week import ReportError, ReportWeek
from slo.spec import SLO

__all__ = ["BudgetPoint", "EngineFactory", "SLOEntry", "default_engine_factory", "slo_entries"]

EngineFactory = Callable[[Store, Sequence[SLO], Clock], Any]


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
    # At the week's start (= the previous week's end), for the week-over-week change.
    attainment_week_start: float | None = None
    budget_remaining_week_start_ratio: float | None = None

    @property
    def attainment_change(self) -> float | None:
        if self.attainment is None or self.attainment_week_start is None:
            return None
        return self.attainment - self.attainment_week_start

    @property
    def budget_change(self) -> float | None:
        if self.budget_remaining_ratio is None or self.budget_remaining_week_start_ratio is None:
            return None
        return self.budget_remaining_ratio - self.budget_remaining_week_start_ratio


def default_engine_factory(store: Store, slos: Sequence[SLO], clock: Clock) -> Any:
    """The same engine ``qsre slo status`` uses, read-only: the report writes nothing."""
    try:
        from slo.engine import SLOEngine
    except ImportError as exc:
        raise ReportError(f"SLO section: slo.engine is not importable ({exc})") from exc
    from slo.rollup import Rollups

    # One snapshot for the whole section: the day boundaries' windows overlap, and
    # each minute is read from the store once.
    rollups = Rollups(store, read_only=True, snapshot=True)
    return SLOEngine(store, list(slos), clock=clock, read_only=True, rollups=rollups)


def slo_entries(
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
    # A week still in progress is evaluated at each day boundary so far and at now
    # (the engine rightly refuses instants after now), so its SLO numbers count the
    # same jobs as its totals.
    instants = [d for d in week.day_starts if d <= now]
    if week.start < now < week.end and instants[-1] < now:
        instants.append(now)
    for at in instants:
        for status in engine.evaluate(at):
            series[status.name].append((at, status))
    out = []
    for slo in slos:
        points = series.get(slo.name, [])
        if not points:
            continue
        first, end = points[0][1], points[-1][1]
        # Calendar windows reset inside a week; the drop is only meaningful when the
        # window did not restart between the two points.
        same_window = first.window_start == end.window_start
        used = (
            None
            if first.budget_remaining_ratio is None
            or end.budget_remaining_ratio is None
            or not same_window
            else first.budget_remaining_ratio - end.budget_remaining_ratio
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
                attainment_week_start=first.sli_ratio if len(points) > 1 else None,
                budget_remaining_week_start_ratio=(
                    first.budget_remaining_ratio if len(points) > 1 and same_window else None
                ),
            )
        )
    return tuple(out)
