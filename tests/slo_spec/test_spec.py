from __future__ import annotations

import contextlib
import copy
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slo.errors import SpecError
from slo.openslo import import_openslo
from slo.policy import get_policy
from slo.spec import parse_slos
from slo.windows import (
    CalendarWindow,
    RollingWindow,
    elapsed_fraction,
    parse_duration_s,
    period_s,
    window_bounds,
)

NATIVE = {
    "name": "ibm-jobs",
    "description": "jobs on IBM finish",
    "objective": 0.99,
    "sli": {"kind": "queue_latency", "backend": ["ibm_a", "ibm_b"], "threshold_seconds": 300},
    "window": {"calendar": "month", "time_zone": "Europe/Berlin"},
    "labels": {"team": "qc"},
}

OPENSLO = {
    "apiVersion": "openslo/v1",
    "kind": "SLO",
    "metadata": {"name": "ibm-success", "labels": {"team": ["qc", "ops"]}},
    "spec": {
        "description": "jobs succeed",
        "service": "quantum",
        "indicator": {
            "metadata": {"name": "success"},
            "spec": {
                "ratioMetric": {
                    "counter": True,
                    "good": {"metricSource": {"type": "qsre", "spec": {"sli": "job_success"}}},
                    "total": {"metricSource": {"type": "qsre", "spec": {"sli": "job_success"}}},
                }
            },
        },
        "timeWindow": [{"duration": "28d", "isRolling": True}],
        "budgetingMethod": "Occurrences",
        "objectives": [{"target": 0.995}],
    },
}


def test_native_slo_parses_with_defaults():
    (slo,) = parse_slos([NATIVE], "qsre.yaml")
    assert slo.name == "ibm-jobs" and slo.objective == 0.99
    assert slo.sli.backends == ("ibm_a", "ibm_b") and slo.sli.threshold_seconds == 300.0
    assert slo.window == CalendarWindow(unit="month", time_zone="Europe/Berlin")
    assert slo.policy == "sre-workbook" and slo.min_events == 10
    assert slo.labels == (("team", "qc"),)
    with pytest.raises(AttributeError):
        slo.objective = 0.5  # type: ignore[misc]


@pytest.mark.parametrize(
    ("mutate", "path", "expected"),
    [
        (
            lambda d: d.update(objective=1.5),
            "slos[1].objective",
            "strictly between 0 and 1, got 1.5",
        ),
        (lambda d: d.update(objective=True), "slos[1].objective", "strictly between 0 and 1"),
        (lambda d: d.pop("name"), "slos[1].name", "slug"),
        (lambda d: d["sli"].update(kind="uptime"), "slos[1].sli.kind", "one of job_success"),
        (lambda d: d.update(window="30x"), "slos[1].window", "rolling duration like"),
        (
            lambda d: d.update(window={"calendar": "year"}),
            "slos[1].window.calendar",
            "month or week",
        ),
        (
            lambda d: d.update(window={"calendar": "month", "time_zone": "Mars/Olympus"}),
            "slos[1].window.time_zone",
            "IANA time zone",
        ),
        (lambda d: d["sli"].update(threshold_seconds=45), "slos[1].sli.threshold_seconds", "300"),
        (lambda d: d.update(policy="fast"), "slos[1].policy", "sre-workbook, two-four"),
        (lambda d: d.update(min_events=-1), "slos[1].min_events", "whole number"),
        (lambda d: d.update(labels={"slo": "x"}), "slos[1].labels.slo", "label name"),
        (lambda d: d.update(objectiv=0.9), "slos[1].objectiv", "no such field"),
    ],
)
def test_bad_native_spec_names_file_field_and_expectation(mutate, path, expected):
    bad = copy.deepcopy(NATIVE)
    bad["name"] = "second"
    mutate(bad)
    with pytest.raises(SpecError) as err:
        parse_slos([NATIVE, bad], "qsre.yaml")
    assert err.value.file == "qsre.yaml" and err.value.field_path == path
    assert str(err.value).startswith(f"qsre.yaml: {path}: expected ")
    assert expected in str(err.value)


def test_duplicate_names_rejected():
    with pytest.raises(SpecError, match=r"slos\[1\]\.name: expected a name not used"):
        parse_slos([NATIVE, NATIVE], "qsre.yaml")


def test_openslo_rolling_and_calendar_timeslices():
    (slo,) = import_openslo([OPENSLO], "openslo.yaml")
    assert slo.window == RollingWindow(28 * 86400) and slo.objective == 0.995
    assert slo.sli.kind == "job_success" and slo.labels == (("team", "qc,ops"),)
    doc = copy.deepcopy(OPENSLO)
    doc["spec"]["timeWindow"] = [
        {
            "duration": "1M",
            "isRolling": False,
            "calendar": {"startTime": "2022-01-01 00:00:00", "timeZone": "Europe/Berlin"},
        }
    ]
    doc["spec"]["budgetingMethod"] = "Timeslices"
    doc["spec"]["objectives"] = [
        {"name": "strict", "target": 0.99, "timeSliceTarget": 0.95, "timeSliceWindow": "5m"},
        {"name": "loose", "target": 0.9, "timesliceTarget": 0.9, "timesliceWindow": "1m"},
    ]
    strict, loose = import_openslo(doc, "openslo.yaml")
    assert strict.name == "ibm-success-strict" and loose.name == "ibm-success-loose"
    assert strict.window == CalendarWindow("month", "Europe/Berlin")
    assert strict.budgeting.timeslice_window_s == 300 and loose.budgeting.timeslice_target == 0.9


@pytest.mark.parametrize(
    ("mutate", "path", "expected"),
    [
        (
            lambda d: d["spec"]["indicator"]["spec"]["ratioMetric"]["good"]["metricSource"].update(
                type="prometheus"
            ),
            "spec.indicator.spec.ratioMetric.good.metricSource.type",
            "qsre",
        ),
        (
            lambda d: d["spec"]["indicator"]["spec"]["ratioMetric"]["good"]["metricSource"][
                "spec"
            ].update(backend="other"),
            "spec.indicator.spec.ratioMetric.good",
            "same qsre sli kind",
        ),
        (
            lambda d: d["spec"].update(objectives=[{"target": 2}]),
            "spec.objectives[0].target",
            "between",
        ),
        (
            lambda d: d["spec"].update(timeWindow=[{"duration": "1Q", "isRolling": False}]),
            "spec.timeWindow[0].duration",
            "1M or 1w",
        ),
        (
            lambda d: d["spec"].update(budgetingMethod="RatioTimeslices"),
            "spec.budgetingMethod",
            "Occurrences",
        ),
        (lambda d: d.update(apiVersion="openslo/v2"), "apiVersion", "openslo/v1"),
    ],
)
def test_bad_openslo_rejected_with_path(mutate, path, expected):
    doc = copy.deepcopy(OPENSLO)
    mutate(doc)
    with pytest.raises(SpecError) as err:
        import_openslo(doc, "openslo.yaml")
    assert err.value.field_path == path and expected in str(err.value)


# -- property: random / mutated specs never raise anything but SpecError ------------

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(
        ["30d", "4w", "0m", "5m", "1M", "month", "qsre", "job_success", "Europe/Berlin"]
    ),
)
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


def _paths(doc, prefix=()):
    yield prefix
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _paths(v, (*prefix, i))


def _mutate(doc, data):
    doc = copy.deepcopy(doc)
    for _ in range(data.draw(st.integers(1, 3))):
        paths = [p for p in _paths(doc) if p]
        if not paths:
            break
        path = data.draw(st.sampled_from(paths))
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        if data.draw(st.booleans()) and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent[path[-1]] = data.draw(_values)
    return doc


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_specs_only_raise_spec_error(data):
    native = _mutate({"slos": [NATIVE]}, data)
    with contextlib.suppress(SpecError):
        parse_slos(native.get("slos"), "qsre.yaml")
    openslo = _mutate({"docs": [OPENSLO]}, data)
    with contextlib.suppress(SpecError):
        import_openslo(openslo.get("docs"), "openslo.yaml")


@settings(max_examples=200, deadline=None)
@given(_values)
def test_random_documents_only_raise_spec_error(value):
    for call in (lambda: parse_slos(value, "q.yaml"), lambda: import_openslo(value, "o.yaml")):
        with contextlib.suppress(SpecError):
            call()


# -- windows and durations -----------------------------------------------------------


def test_durations():
    assert [parse_duration_s(d) for d in ("5m", "1h", "30d", "4w")] == [300, 3600, 2592000, 2419200]
    assert [parse_duration_s(d) for d in ("5", "0m", "1.5h", "-1d", "1M", 5)] == [None] * 6


def test_berlin_month_across_dst_start_and_end():
    march = CalendarWindow("month", "Europe/Berlin")
    at = datetime(2026, 3, 30, 12, tzinfo=UTC)  # after the 29 March change to CEST
    start, end = window_bounds(march, at)
    assert start == datetime(2026, 2, 28, 23, tzinfo=UTC)  # 1 March 00:00 CET
    assert end == datetime(2026, 3, 31, 22, tzinfo=UTC)  # 1 April 00:00 CEST
    assert period_s(march, at) == (31 * 24 - 1) * 3600
    assert period_s(march, datetime(2026, 10, 15, tzinfo=UTC)) == (31 * 24 + 1) * 3600
    # Local midnight on the 1st in Berlin is still the previous month in UTC.
    assert window_bounds(march, datetime(2026, 2, 28, 23, 30, tzinfo=UTC))[0] == start
    assert elapsed_fraction(march, start) == 0.0
    assert elapsed_fraction(march, datetime(2026, 3, 16, 11, tzinfo=UTC)) == pytest.approx(
        (15 * 24 + 12) / 743
    )


def test_week_window_starts_monday_local_midnight():
    week = CalendarWindow("week", "Europe/Berlin")
    start, end = window_bounds(week, datetime(2026, 3, 26, tzinfo=UTC))  # a Thursday
    assert start == datetime(2026, 3, 22, 23, tzinfo=UTC)
    assert end == datetime(2026, 3, 29, 22, tzinfo=UTC)  # DST: 167 h long
    assert elapsed_fraction(RollingWindow(86400), start) == 1.0


def test_policy_factors_scale_with_the_period():
    policy = get_policy("sre-workbook")
    factors = lambda days: [p.factor(days * 86400) for t in policy.tiers for p in t.pairs]  # noqa: E731
    assert factors(30) == [14.4, 6.0, 3.0, 1.0]
    assert factors(28) == pytest.approx([13.44, 5.6, 2.8, 0.9333333], abs=1e-6)
    two_four = get_policy("two-four")
    assert [(t.severity, t.pairs[0].factor(7 * 86400)) for t in two_four.tiers] == [
        ("page", 4.0),
        ("ticket", 2.0),
    ]


def test_latency_buckets_match_the_collector():
    from collector.metrics import LATENCY_BUCKETS_SECONDS

    assert 300.0 in LATENCY_BUCKETS_SECONDS and 45.0 not in LATENCY_BUCKETS_SECONDS
