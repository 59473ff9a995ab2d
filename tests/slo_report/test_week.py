"""ISO week selection: bounds in a time zone, the default week, clear errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from collector.clock import VirtualClock
from slo.report import ReportError, build_weekly_report
from slo.report_data import last_complete_week, parse_week

from .conftest import insert_jobs


def test_utc_week_bounds():
    w = parse_week("2026-W47")
    assert w.start == datetime(2026, 11, 16, tzinfo=UTC)
    assert w.end == datetime(2026, 11, 23, tzinfo=UTC)
    assert w.days[0] == "2026-11-16" and w.days[-1] == "2026-11-22"
    assert len(w.day_starts) == 8


def test_week_bounds_in_a_zone_across_dst():
    # Berlin switches to summer time on Sunday 2026-03-29: that week is 167 h long.
    w = parse_week("2026-W13", "Europe/Berlin")
    assert w.start == datetime(2026, 3, 22, 23, tzinfo=UTC)  # Monday 00:00 CET
    assert w.end == datetime(2026, 3, 29, 22, tzinfo=UTC)  # Monday 00:00 CEST
    assert (w.end - w.start) == timedelta(hours=167)
    assert w.day_starts[6] == datetime(2026, 3, 28, 23, tzinfo=UTC)


def test_iso_week_53_and_year_boundary():
    w = parse_week("2026-W53")  # 2026 starts on a Thursday: it has 53 ISO weeks
    assert w.start == datetime(2026, 12, 28, tzinfo=UTC)
    assert parse_week("2027-W01").start == datetime(2027, 1, 4, tzinfo=UTC)


@pytest.mark.parametrize(
    "bad", ["2026-47", "2026-W7", "W47", "", "2025-W53", "2026-W00", "2026-w47", "47", "2026-W47x"]
)
def test_bad_week_strings_name_the_expected_format(bad):
    with pytest.raises(ReportError, match=r"YYYY-Www") as info:
        parse_week(bad)
    assert repr(bad) in str(info.value)


def test_bad_time_zone():
    with pytest.raises(ReportError, match="IANA time zone"):
        parse_week("2026-W47", "Mars/Olympus")


def test_last_complete_week_depends_on_the_zone():
    now = datetime(2026, 11, 23, 0, 30, tzinfo=UTC)  # Monday in UTC, Sunday in LA
    assert last_complete_week(now, "UTC") == "2026-W47"
    assert last_complete_week(now, "America/Los_Angeles") == "2026-W46"
    assert last_complete_week(datetime(2027, 1, 5, tzinfo=UTC)) == "2026-W53"


def test_bad_week_fails_before_writing(store, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(ReportError, match="2026-W47"):
        build_weekly_report(store, [], week="last week", clock=VirtualClock(), out_dir=out)
    assert not out.exists()


def test_days_are_local_days(store, tmp_path):
    base = {
        "backend": "b",
        "project": "p",
        "tags": {},
        "purpose": "workload",
        "status": "done",
        "cost_usd": 1.0,
        "shots": 10,
    }
    # 23:30 UTC on Monday is already Tuesday in Berlin; 23:30 UTC on Sunday 11-15 is
    # Monday 00:30 in Berlin, so inside the Berlin week but outside the UTC one.
    insert_jobs(
        store,
        [
            {**base, "id": "a", "submitted_at": datetime(2026, 11, 16, 23, 30, tzinfo=UTC)},
            {**base, "id": "b", "submitted_at": datetime(2026, 11, 15, 23, 30, tzinfo=UTC)},
        ],
    )
    clock = VirtualClock(datetime(2026, 12, 1, tzinfo=UTC))
    berlin = build_weekly_report(
        store, [], week="2026-W47", clock=clock, out_dir=tmp_path / "b", timezone="Europe/Berlin"
    )
    data = json.loads(berlin.data_json.read_text())
    days = {r["day"]: r["jobs"] for r in data["cost"]["daily"] if r["dimension"] == "backend"}
    assert days == {"2026-11-16": 1, "2026-11-17": 1}
    utc = build_weekly_report(store, [], week="2026-W47", clock=clock, out_dir=tmp_path / "u")
    data = json.loads(utc.data_json.read_text())
    assert data["totals"]["jobs"] == 1
