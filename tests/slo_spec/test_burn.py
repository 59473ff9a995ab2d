from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from slo.burn import MinuteBuckets, cost_budget_buckets, evaluate, firing_timeline
from slo.errors import BurnInputError
from slo.policy import get_policy
from slo.spec import Budgeting, parse_slos

START = datetime(2026, 3, 2, tzinfo=UTC)
WORKBOOK = get_policy("sre-workbook")


def _slo(**over):
    spec = {"name": "jobs", "objective": 0.999, "sli": {"kind": "job_success"}, "window": "30d"}
    spec.update(over)
    return parse_slos([spec], "test.yaml")[0]


def _buckets(total, bad, history_start_index=0):
    total = np.asarray(total, dtype=float)
    return MinuteBuckets(START, total - np.asarray(bad, dtype=float), total, history_start_index)


def test_workbook_example_pages_at_minute_464_not_463():
    total = np.full(600, 100.0)
    bad = np.zeros(600)
    bad[420:] = 2.0
    b = _buckets(total, bad)
    assert not evaluate(_slo(), WORKBOOK, b, 463).firing("page")
    at_464 = evaluate(_slo(), WORKBOOK, b, 464)
    assert at_464.firing("page")
    assert at_464.tiers[0].fired_windows == ((3600, 300),)
    assert at_464.window(3600).error_ratio == pytest.approx(88 / 6000)
    assert at_464.at == START + timedelta(minutes=464)


def test_fresh_install_does_not_ticket_on_incomplete_windows():
    # 7 h of data at 5x burn: a 3d window computed over 7 h would say 5x > 1x.
    total = np.full(7 * 60, 1000.0)
    b = _buckets(total, np.full(7 * 60, 5.0))
    ev = evaluate(_slo(), WORKBOOK, b, 7 * 60)
    ticket = ev.tiers[1]
    assert not ticket.firing and not ticket.suppressed
    assert ev.window(259200).burn_rate == pytest.approx(5.0) and not ev.window(259200).complete
    assert {p.reason for p in ticket.pairs} == {"history shorter than the long window"}
    assert not firing_timeline(_slo(), WORKBOOK, b)["ticket"].any()
    # With 3 days of history, a day at 5x burn does ticket.
    b2 = _buckets(
        np.full(4 * 1440, 1000.0), np.concatenate((np.zeros(3 * 1440), np.full(1440, 5.0)))
    )
    assert firing_timeline(_slo(), WORKBOOK, b2)["ticket"].any()


def test_history_start_inside_the_array_is_respected():
    total = np.full(3000, 100.0)
    b = _buckets(total, np.full(3000, 1.0), history_start_index=2000)
    ev = evaluate(_slo(), WORKBOOK, b, 2000 + 61)
    assert ev.window(3600).complete and not ev.window(86400).complete


def test_low_traffic_needs_min_events_in_the_long_window():
    total = np.zeros(600)
    total[::10] = 1.0  # 6 jobs per hour
    bad = np.zeros(600)
    bad[500] = 1.0
    b = _buckets(total, bad)
    ev = evaluate(_slo(), WORKBOOK, b, 505)
    assert ev.window(3600).burn_rate > 14.4
    assert not ev.tiers[0].pairs[0].firing
    assert "fewer than 10 events" in ev.tiers[0].pairs[0].reason
    assert evaluate(_slo(min_events=5), WORKBOOK, b, 505).tiers[0].pairs[0].firing


def test_page_suppresses_ticket():
    total = np.full(2 * 1440, 100.0)
    bad = np.zeros(2 * 1440)
    bad[1440:] = 5.0  # 50x burn: every complete pair fires
    b = _buckets(total, bad)
    ev = evaluate(_slo(), WORKBOOK, b, 1440 + 130)
    assert ev.firing("page") and not ev.firing("ticket")
    assert ev.tiers[1].suppressed and ev.tiers[1].fired_windows == ((86400, 7200),)
    tl = firing_timeline(_slo(), WORKBOOK, b)
    assert tl["page"].any() and not (tl["page"] & tl["ticket"]).any()


def test_budget_from_summed_counts_not_average_of_ratios():
    # Hour 1: 10 000 jobs, no errors. Hour 2: 10 jobs, 5 errors. The average of the
    # hourly ratios is 25%; the true error ratio is 5 / 10 010.
    total = np.concatenate((np.full(60, 10000 / 60), np.zeros(59), [10.0]))
    bad = np.concatenate((np.zeros(119), [5.0]))
    ev = evaluate(_slo(window="1d"), WORKBOOK, _buckets(total, bad), 120)
    assert ev.budget.sli_attainment == pytest.approx(1 - 5 / 10010)
    assert ev.budget.remaining_ratio == pytest.approx(1 - (5 / 10010) / 0.001)


def test_budget_remaining_and_time_left_at_the_current_burn():
    slo = _slo(objective=0.99, window="7d")
    n = 7 * 1440
    total = np.full(n, 100.0)
    bad = np.zeros(n)
    bad[-3 * 1440 :] = 0.5  # last 3 days at 0.5x burn, the last hour at 2x
    bad[-60:] = 2.0
    ev = evaluate(slo, WORKBOOK, _buckets(total, bad), n)
    consumed = bad.sum() / total.sum() / 0.01
    assert ev.budget.remaining_ratio == pytest.approx(1 - consumed)
    assert ev.budget.current_burn_rate == pytest.approx(2.0)
    assert ev.budget.time_remaining_s == pytest.approx((1 - consumed) * 7 * 86400 / 2.0)
    assert ev.budget.exhaustion_at == ev.at + timedelta(seconds=ev.budget.time_remaining_s)


def test_calendar_budget_counts_since_the_local_period_start():
    slo = _slo(window={"calendar": "month", "time_zone": "Europe/Berlin"})
    start = datetime(2026, 2, 27, tzinfo=UTC)
    n = 4 * 1440
    total = np.full(n, 10.0)
    bad = np.zeros(n)
    bad[: 1440 + 1380] = 10.0  # everything before 1 March 00:00 Berlin (28 Feb 23:00 UTC) failed
    ev = evaluate(slo, WORKBOOK, MinuteBuckets(start, total - bad, total), n)
    assert ev.budget.period_start == datetime(2026, 2, 28, 23, tzinfo=UTC)
    assert ev.budget.remaining_ratio == 1.0 and ev.budget.sli_attainment == 1.0
    assert ev.budget.period_s == (31 * 24 - 1) * 3600
    assert ev.budget.exhaustion_at is None  # not burning


def test_cost_budget_burn_rate_is_spend_rate_over_budget_rate():
    slo = _slo(sli={"kind": "cost_budget", "budget_usd": 4320.0}, objective=0.9)
    spend = np.full(120, 0.2)  # 0.2 $/min against a 4320 $/30 d = 0.1 $/min budget
    good, total = cost_budget_buckets(spend, slo)
    ev = evaluate(slo, WORKBOOK, MinuteBuckets(START, good, total), 120)
    assert ev.window(3600).burn_rate == pytest.approx(2.0)


def test_spend_budget_counts_from_its_budget_start_not_the_history_start():
    slo = _slo(sli={"kind": "cost_budget", "budget_usd": 4320.0}, objective=0.9)
    spend = np.zeros(120)
    spend[110] = 3.0  # the store's first job, 10 minutes ago
    good, total = cost_budget_buckets(spend, slo)
    clipped = evaluate(slo, WORKBOOK, MinuteBuckets(START, good, total, 110), 120)
    # Pro rata for 10 minutes of history (1 $ of budget), 3 $ overspends it:
    assert clipped.budget.remaining_ratio == pytest.approx(1 - 3.0 / 1.0)
    counted = evaluate(slo, WORKBOOK, MinuteBuckets(START, good, total, 110, 0), 120)
    # ... from the budget start (120 minutes: 12 $ of budget), a quarter of it.
    assert counted.budget.remaining_ratio == pytest.approx(1 - 3.0 / 12.0)
    with pytest.raises(BurnInputError, match="budget_start_index"):
        MinuteBuckets(START, good, total, 110, 121)


def test_timeslices_count_good_minutes():
    slo = dataclasses.replace(_slo(objective=0.9), budgeting=Budgeting("timeslices", 0.95, 60))
    total = np.full(120, 100.0)
    bad = np.zeros(120)
    bad[::4] = 10.0  # every 4th minute misses the 95% slice target
    ev = evaluate(slo, WORKBOOK, _buckets(total, bad), 120)
    assert ev.window(3600).total == 60 and ev.window(3600).error_ratio == pytest.approx(0.25)


def test_timeline_matches_pointwise_evaluation():
    rng = np.random.default_rng(11)
    n = 2 * 1440
    total = rng.poisson(50, n).astype(float)
    rate = 0.02 * (1 + np.sin(np.linspace(0, 8 * np.pi, n)))  # burn 0..8x at 99.5%
    bad = rng.binomial(total.astype(int), rate).astype(float)
    seen = set()
    for policy in (WORKBOOK, get_policy("two-four")):
        slo = _slo(policy=policy.name, objective=0.995)
        b = _buckets(total, bad, history_start_index=30)
        tl = firing_timeline(slo, policy, b)
        seen |= {(policy.name, sev) for sev, fired in tl.items() if fired.any()}
        for t in range(0, n + 1, 7):
            ev = evaluate(slo, policy, b, t)
            assert (ev.firing("page"), ev.firing("ticket")) == (tl["page"][t], tl["ticket"][t])
    assert {("sre-workbook", "page"), ("two-four", "page"), ("two-four", "ticket")} <= seen
