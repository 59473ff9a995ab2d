"""The report's week: ISO week labels, their local-midnight bounds in a time zone.

A week is ISO Monday 00:00 to the next Monday 00:00 local time; its instants are
aware UTC, so every query compares them with the store's UTC timestamps.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from slo.errors import SLOError

__all__ = [
    "WEEK_FORMAT",
    "ReportError",
    "ReportWeek",
    "last_complete_week",
    "local_day_starts",
    "parse_week",
    "zone",
]

WEEK_FORMAT = "YYYY-Www (ISO 8601 week, e.g. 2026-W47)"
_WEEK_RE = re.compile(r"^(\d{4})-W(\d{2})$")


class ReportError(SLOError):
    """A report that cannot be built as asked (bad week, time zone, missing engine)."""


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


def zone(time_zone: str) -> ZoneInfo:
    try:
        return ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ReportError(
            f"timezone: expected an IANA time zone name such as UTC or Europe/Berlin, "
            f"got {time_zone!r}"
        ) from exc


def local_day_starts(first: date, days: int, time_zone: str) -> tuple[datetime, ...]:
    """``days + 1`` instants (UTC): local midnight of ``first`` and of each following day.

    Local days, so a DST change makes one of them 23 or 25 hours long."""
    tz = zone(time_zone)
    return tuple(
        datetime.combine(first + timedelta(days=i), time(0), tzinfo=tz).astimezone(UTC)
        for i in range(days + 1)
    )


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
    day_starts = local_day_starts(monday, 7, time_zone)
    year, number, _ = monday.isocalendar()
    return ReportWeek(
        label=f"{year:04d}-W{number:02d}",
        time_zone=time_zone,
        start=day_starts[0],
        end=day_starts[-1],
        day_starts=day_starts,
        days=tuple((monday + timedelta(days=i)).isoformat() for i in range(7)),
    )


def last_complete_week(now: datetime, time_zone: str = "UTC") -> str:
    """The label of the last ISO week that ended at or before ``now`` in ``time_zone``."""
    local = now.astimezone(zone(time_zone))
    this_monday = local.date() - timedelta(days=local.weekday())
    year, number, _ = (this_monday - timedelta(days=7)).isocalendar()
    return f"{year:04d}-W{number:02d}"
