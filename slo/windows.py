"""Durations and SLO windows: rolling (``30d``) and calendar-aligned (month, week).

Calendar windows are aligned in an IANA time zone (``zoneinfo``), so a Berlin month
starts at local midnight on the 1st; across a DST change the period is 1 h shorter
or longer than 31 × 24 h, and every function here reports the true UTC length.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

_DURATION_RE = re.compile(r"^([1-9][0-9]{0,6})(s|m|h|d|w)$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}

# The burn factors of a calendar window use a fixed nominal period (30 d for a
# month, 7 d for a week) so that alert thresholds do not change from one month to
# the next and match the generated Prometheus rules.
NOMINAL_MONTH_S = 30 * 86400
NOMINAL_WEEK_S = 7 * 86400


def parse_duration_s(text: object) -> int | None:
    """Seconds in a duration like ``5m``, ``1h``, ``30d``, ``4w``; None if malformed."""
    if not isinstance(text, str):
        return None
    match = _DURATION_RE.match(text.strip())
    if match is None:
        return None
    return int(match.group(1)) * _UNIT_S[match.group(2)]


def prom_duration(seconds: int) -> str:
    """The Prometheus duration string for a whole number of seconds (``1d``, ``30m``).

    Weeks are spelled in days so that rule names read ``_rate28d``, like Sloth's.
    """
    if seconds <= 0:
        raise ValueError(f"a Prometheus duration must be positive, got {seconds} s")
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@dataclass(frozen=True)
class RollingWindow:
    """The last ``duration_s`` seconds before the evaluation instant."""

    duration_s: int
    kind: Literal["rolling"] = "rolling"


@dataclass(frozen=True)
class CalendarWindow:
    """The calendar month or ISO week (Monday 00:00) containing the instant, in ``time_zone``."""

    unit: Literal["month", "week"]
    time_zone: str = "UTC"
    kind: Literal["calendar"] = "calendar"


Window = RollingWindow | CalendarWindow


def window_bounds(window: Window, at: datetime) -> tuple[datetime, datetime]:
    """(start, end) in UTC of the window that ``at`` (aware) falls in.

    For a rolling window the end is ``at`` itself; for a calendar window it is the
    end of the calendar period.
    """
    at_utc = _aware(at).astimezone(UTC)
    if isinstance(window, RollingWindow):
        return at_utc - timedelta(seconds=window.duration_s), at_utc
    zone = ZoneInfo(window.time_zone)
    local = at_utc.astimezone(zone)
    if window.unit == "month":
        start_local = datetime(local.year, local.month, 1, tzinfo=zone)
        year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
        end_local = datetime(year, month, 1, tzinfo=zone)
    else:
        day = datetime(local.year, local.month, local.day, tzinfo=zone)
        start_date = day.date() - timedelta(days=local.weekday())
        end_date = start_date + timedelta(days=7)
        start_local = datetime(start_date.year, start_date.month, start_date.day, tzinfo=zone)
        end_local = datetime(end_date.year, end_date.month, end_date.day, tzinfo=zone)
    # Wall-clock midnights converted to UTC: the difference is the true length,
    # 1 h off 24 h × days when the period contains a DST change.
    return start_local.astimezone(UTC), end_local.astimezone(UTC)


def period_s(window: Window, at: datetime) -> float:
    """True length in seconds of the window containing ``at``."""
    start, end = window_bounds(window, at)
    return (end - start).total_seconds()


def elapsed_fraction(window: Window, at: datetime) -> float:
    """Fraction of the period elapsed at ``at``: always 1.0 for rolling windows."""
    if isinstance(window, RollingWindow):
        return 1.0
    start, end = window_bounds(window, at)
    return (_aware(at).astimezone(UTC) - start).total_seconds() / (end - start).total_seconds()


def factor_period_s(window: Window) -> int:
    """The period used for burn factors (budget % × period / long window) and for
    the period recording rule: the rolling duration, or the nominal calendar length."""
    if isinstance(window, RollingWindow):
        return window.duration_s
    return NOMINAL_MONTH_S if window.unit == "month" else NOMINAL_WEEK_S


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError(f"expected a timezone-aware datetime, got naive {at!r}")
    return at
