"""The calibration section: per backend, the last calibration before the week's end,
its age then, and how many calibrations the week saw."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select

from collector.clock import as_utc
from collector.schema import BackendRow, CalibrationSnapshotRow
from collector.store import Store
from slo.report_week import ReportWeek

__all__ = ["CalibrationAge", "calibration_ages"]


@dataclass(frozen=True)
class CalibrationAge:
    backend: str
    last_calibration_at: datetime | None
    age_hours_at_week_end: float | None
    calibrations_in_week: int


def calibration_ages(store: Store, week: ReportWeek) -> tuple[CalibrationAge, ...]:
    snaps = CalibrationSnapshotRow.__table__
    backends = BackendRow.__table__
    in_week = func.sum(case((snaps.c.calibrated_at >= week.start, 1), else_=0))
    with store.engine.connect() as conn:
        names = {r.name: as_utc(r.last_calibration_at) for r in conn.execute(select(backends))}
        rows = conn.execute(
            select(snaps.c.backend, func.max(snaps.c.calibrated_at), in_week)
            .where(snaps.c.calibrated_at < week.end)
            .group_by(snaps.c.backend)
        ).all()
    latest: dict[str, datetime] = {}
    count: dict[str, int] = {}
    for backend, at, n in rows:
        names.setdefault(backend, None)
        latest[backend] = as_utc(at)  # type: ignore[assignment]
        count[backend] = int(n or 0)
    out = []
    for backend in sorted(names):
        last = latest.get(backend)
        if last is None and names[backend] is not None and names[backend] < week.end:  # type: ignore[operator]
            last = names[backend]
        age = None if last is None else (week.end - last).total_seconds() / 3600.0
        out.append(CalibrationAge(backend, last, age, count.get(backend, 0)))
    return tuple(out)
