"""Injected time. Nothing in qsre calls ``time.time()`` directly; it asks a clock.

``SystemClock`` is wall time; ``VirtualClock`` lets the demo and the tests run days
of virtual time in seconds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    """Anything with ``now()`` returning an aware UTC datetime."""

    def now(self) -> datetime: ...


class SystemClock:
    """Wall-clock time (UTC)."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def epoch_s(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class VirtualClock:
    """A clock that only moves when told to: ``advance(seconds)`` or ``set(t)``.

    ``sleep`` advances virtual time instead of blocking, so code that backs off or
    waits (retries, schedules) runs instantly under test.
    """

    def __init__(self, start: datetime | None = None) -> None:
        start = start or datetime(2026, 1, 5, tzinfo=UTC)
        if start.tzinfo is None:
            raise ValueError(f"VirtualClock start must be timezone-aware, got naive {start!r}")
        self._now = start.astimezone(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> datetime:
        if seconds < 0:
            raise ValueError(f"VirtualClock.advance: seconds must be >= 0, got {seconds}")
        with self._lock:
            self._now += timedelta(seconds=seconds)
            return self._now

    def set(self, when: datetime) -> None:
        if when.tzinfo is None:
            raise ValueError(f"VirtualClock.set: expected an aware datetime, got naive {when!r}")
        with self._lock:
            if when < self._now:
                raise ValueError(f"VirtualClock.set: cannot go back from {self._now} to {when}")
            self._now = when.astimezone(UTC)

    def sleep(self, seconds: float) -> None:
        self.advance(max(0.0, seconds))


def epoch_seconds(clock: Clock) -> Callable[[], float]:
    """The clock as a function returning epoch seconds: the proxy's hot path keeps
    times as floats (a datetime costs more to make and to serialise)."""
    if type(clock) is SystemClock:
        return time.time  # a C function: no Python frame on the hot path
    fast = getattr(clock, "epoch_s", None)
    if callable(fast):
        return fast
    return lambda: clock.now().timestamp()


def sleep_on(clock: Clock, seconds: float) -> None:
    """Sleep using the clock's own notion of time (virtual clocks just advance)."""
    sleeper = getattr(clock, "sleep", None)
    if sleeper is not None:
        sleeper(seconds)
    elif seconds > 0:
        time.sleep(seconds)


def as_utc(value: datetime | None) -> datetime | None:
    """Normalise a datetime read back from a database to aware UTC.

    SQLite hands back naive datetimes; we always store UTC, so naive means UTC.
    """
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
