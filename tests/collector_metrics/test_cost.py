"""Pricing, estimates, budgets and spend queries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.cost import (
    Budget,
    Pricing,
    PricingError,
    actual_cost_usd,
    estimate_cost_usd,
    spend_usd,
)
from collector.errors import InvalidInput

from .conftest import job, put

price = st.floats(min_value=0, max_value=10, allow_nan=False)
pricings = st.builds(
    Pricing,
    per_shot_usd=price,
    per_job_usd=price,
    per_circuit_usd=price,
    per_second_usd=price,
    minimum_job_usd=price,
    seconds_per_shot=st.floats(min_value=0, max_value=1, allow_nan=False),
)
shots = st.integers(min_value=0, max_value=10**6)
circuits = st.integers(min_value=0, max_value=300)
seconds = st.floats(min_value=0, max_value=1e5, allow_nan=False)


@settings(max_examples=300, derandomize=True)
@given(pricings, shots, shots, circuits, seconds)
def test_cost_is_non_negative_and_monotone_in_shots(p, a, b, n, s):
    lo, hi = sorted((a, b))
    assert actual_cost_usd(p, lo, n, s) >= 0
    assert actual_cost_usd(p, lo, n, s) <= actual_cost_usd(p, hi, n, s)
    assert 0 <= estimate_cost_usd(p, lo, n) <= estimate_cost_usd(p, hi, n)
    assert actual_cost_usd(p, lo, n, s) >= p.minimum_job_usd


@settings(max_examples=200, derandomize=True)
@given(pricings, shots, circuits, seconds, seconds)
def test_cost_is_monotone_in_run_seconds(p, k, n, s1, s2):
    lo, hi = sorted((s1, s2))
    assert actual_cost_usd(p, k, n, lo) <= actual_cost_usd(p, k, n, hi)


def test_pricing_formula_and_minimum():
    p = Pricing.from_config(
        {"per_shot": 0.00035, "per_job": 0.3, "per_circuit": 0.01, "per_second": 1.6},
        "qsre.yaml: backends.qpu.pricing",
    )
    # 3 circuits x 1000 shots = 3000 billed shots.
    assert actual_cost_usd(p, 1000, 3, 2.0) == pytest.approx(0.3 + 0.03 + 1.05 + 3.2)
    m = Pricing.from_config({"per_shot": 0.001, "minimum_per_job": 5}, "x")
    assert actual_cost_usd(m, 100, 1, None) == 5
    assert actual_cost_usd(m, 10_000, 1, None) == pytest.approx(10)


def test_estimate_uses_seconds_per_shot():
    p = Pricing.from_config({"per_second": 2.0, "seconds_per_shot": 0.001}, "x")
    assert estimate_cost_usd(p, 1000, 2) == pytest.approx(4.0)
    assert estimate_cost_usd(Pricing.from_config({"per_second": 2.0}, "x"), 1000, 2) == 0


def test_other_currency_needs_a_rate_and_is_converted():
    with pytest.raises(PricingError, match=r"qsre.yaml: backends.eu.pricing.usd_per_unit"):
        Pricing.from_config({"currency": "EUR", "per_shot": 0.01}, "qsre.yaml: backends.eu.pricing")
    p = Pricing.from_config({"currency": "eur", "per_shot": 0.01, "usd_per_unit": 1.1}, "x")
    assert p.currency == "EUR"
    assert p.per_shot_usd == pytest.approx(0.011)


@pytest.mark.parametrize(
    ("config", "fragment"),
    [
        ({"per_shot": -1}, r"where\.per_shot=-1\.0: expected a finite number >= 0"),
        ({"per_shot": "cheap"}, r"where\.per_shot='cheap': expected a non-negative number"),
        ({"per_shots": 1}, r"where: unknown field\(s\) \['per_shots'\]"),
        ({"currency": "dollars"}, r"where\.currency='dollars': expected a 3-letter"),
        ({"usd_per_unit": 2}, r"where\.usd_per_unit=2: expected 1"),
        ([1, 2], r"where=\[1, 2\]: expected a mapping"),
    ],
)
def test_bad_pricing_config_names_path_field_and_expectation(config, fragment):
    with pytest.raises(PricingError, match=fragment):
        Pricing.from_config(config, "where")


def test_invalid_inputs_are_rejected():
    p = Pricing(per_shot_usd=1)
    with pytest.raises(InvalidInput, match="shots"):
        actual_cost_usd(p, -1, 1, 0)
    with pytest.raises(InvalidInput, match="run_seconds"):
        actual_cost_usd(p, 1, 1, -3.0)
    with pytest.raises(PricingError, match="per_job_usd"):
        Pricing(per_job_usd=float("nan"))


def test_budget_periods_and_config():
    now = datetime(2026, 12, 17, 15, 30, tzinfo=UTC)  # a Thursday
    b = Budget.from_config({"scope": "project:alpha", "limit_usd": 100, "period": "week"}, "b")
    assert b.project == "alpha" and b.backend is None
    assert b.period_bounds(now) == (
        datetime(2026, 12, 14, tzinfo=UTC),
        datetime(2026, 12, 21, tzinfo=UTC),
    )
    assert Budget("all", 1, "month").period_bounds(now) == (
        datetime(2026, 12, 1, tzinfo=UTC),
        datetime(2027, 1, 1, tzinfo=UTC),
    )
    assert Budget("backend:x", 1, "day").period_bounds(now)[0] == datetime(2026, 12, 17, tzinfo=UTC)
    with pytest.raises(PricingError, match=r"b\.period='year'"):
        Budget.from_config({"limit_usd": 1, "period": "year"}, "b")
    with pytest.raises(PricingError, match=r"b: Budget.scope='team:x'"):
        Budget.from_config({"limit_usd": 1, "scope": "team:x"}, "b")
    with pytest.raises(PricingError, match=r"b\.limit_usd: missing"):
        Budget.from_config({"scope": "all"}, "b")


def test_spend_sums_terminal_costs_in_window(store, t0):
    day = timedelta(days=1)
    put(
        store,
        [
            job("a", t0, cost_usd=1.0),
            job(
                "b",
                t0,
                cost_usd=2.0,
                backend="ibm",
                project="beta",
                status="error",
                error_class="backend",
            ),
            job("c", t0, cost_usd=4.0, status="cancelled"),
            {**job("d", t0, status="running"), "cost_usd": 100.0},  # not final: not spend
            job("e", t0 - 2 * day, cost_usd=8.0),  # before the window
            job("f", t0 + day, cost_usd=16.0),  # after the window
            job("g", t0, cost_usd=32.0, status="unknown", finished_at=None),
        ],
    )
    assert spend_usd(store, since=t0, until=t0 + day) == 1 + 2 + 4 + 32
    assert spend_usd(store, since=t0) == 1 + 2 + 4 + 32 + 16
    assert spend_usd(store, since=t0, until=t0 + day, project="beta") == 2
    assert spend_usd(store, since=t0, until=t0 + day, backend="aer") == 1 + 4 + 32
    assert spend_usd(store, since=t0 + 5 * day) == 0
    budget = Budget("backend:ibm", 10.0, "day")
    assert budget.remaining_usd(store, t0 + timedelta(hours=3)) == 8.0
