"""Job-derived signals on SQLite and PostgreSQL: each fires on its failure, stays quiet
on healthy traffic (shot noise, low traffic, a rare retry), and clears after its window."""

from __future__ import annotations

from datetime import timedelta

import pytest

from slo.alerts import JOB_LEVEL_LABELS
from slo.notify.console import ConsoleNotifier
from slo.routing import Router, RoutingConfig
from slo.signal_config import SignalConfig

from .conftest import GRAFANA, RUNBOOKS, evaluate, healthy_stream, job, kinds

MIN = timedelta(minutes=1)


@pytest.mark.parametrize(
    ("kind", "error_class", "window_min", "message"),
    [
        ("auth_failure", "auth", 30, "InjectedAuthError: 401 Unauthorized: invalid token"),
        ("result_corruption", "result_corrupt", 30, "counts sum to 812, expected 1000 shots"),
        ("quota_breach", "quota", 30, "QuotaExceeded: project team over 1000000 shots/day"),
    ],
)
def test_job_level_alert_fires_once_per_backend_and_clears(
    store, t0, kind, error_class, window_min, message
) -> None:
    start = t0 - timedelta(hours=1)
    store.upsert_jobs(healthy_stream(start, t0 + timedelta(hours=1), seed=1))
    fail_at = t0 + 10 * MIN
    store.upsert_jobs(
        job(
            "sim-b",
            fail_at + i * 20 * timedelta(seconds=1),
            status="error",
            error_class=error_class,
            message=message,
        )
        for i in range(3)
    )
    # Rows after `now` are not seen: the virtual clock has not reached them yet.
    assert evaluate(store, fail_at - timedelta(seconds=1)) == []
    alerts = evaluate(store, fail_at + 2 * MIN)
    assert kinds(alerts) == [(kind, "sim-b")]
    (alert,) = alerts
    assert set(alert.labels) == JOB_LEVEL_LABELS
    assert alert.labels["error_class"] == error_class
    assert alert.annotations["runbook_url"] == f"{RUNBOOKS}{kind}.md"
    assert alert.annotations["dashboard_url"].startswith(f"{GRAFANA}/d/")
    assert "var-backend=sim-b" in alert.annotations["dashboard_url"]
    assert alert.annotations["summary"].startswith("3 ")
    assert message in alert.annotations["description"]
    last = fail_at + 40 * timedelta(seconds=1)
    assert kinds(evaluate(store, last + window_min * MIN - timedelta(seconds=1))) == [
        (kind, "sim-b")
    ]
    assert evaluate(store, last + window_min * MIN) == []


def test_network_blips_need_ratio_and_count(store, t0) -> None:
    # Low traffic: one retried job out of two is 50 % but only one job - quiet.
    store.upsert_jobs([job("sim-a", t0, attempts=2), job("sim-a", t0 + MIN)])
    assert evaluate(store, t0 + 2 * MIN) == []

    at = t0 + timedelta(hours=1)
    jobs = [job("sim-b", at + i * MIN) for i in range(14)]
    jobs += [job("sim-b", at + i * MIN, status="error", error_class="transient") for i in range(3)]
    jobs += [job("sim-b", at + i * MIN, attempts=3) for i in range(3, 5)]
    # Quota rejections are client-side: they neither dilute nor count.
    jobs += [job("sim-b", at, status="error", error_class="quota") for _ in range(30)]
    store.upsert_jobs(jobs)
    now = at + 14 * MIN
    alerts = [a for a in evaluate(store, now) if a.labels["kind"] == "network_blips"]
    assert kinds(alerts) == [("network_blips", "sim-b")]
    assert "5 of 19 job(s)" in alerts[0].annotations["description"]
    assert set(alerts[0].labels) == {"alertname", "kind", "severity", "backend"}
    assert alerts[0].labels["severity"] == "ticket"
    # 15 minutes after the last blip (at + 4 min) the window no longer holds it.
    later = [a for a in evaluate(store, at + 19 * MIN) if a.labels["kind"] == "network_blips"]
    assert later == []
    tighter = SignalConfig.from_mapping({"network_blips": {"min_ratio": 0.5}})
    assert [a for a in evaluate(store, now, tighter) if a.labels["kind"] == "network_blips"] == []


def test_queue_overload_on_slow_finished_jobs_but_not_one_outlier(store, t0) -> None:
    # One stuck job among normal ones at low traffic: the median is fine.
    store.upsert_jobs(
        [job("sim-a", t0 + i * MIN, queue_seconds=5.0) for i in range(4)]
        + [job("sim-a", t0 + 5 * MIN, queue_seconds=5000.0)]
    )
    assert evaluate(store, t0 + 6 * MIN) == []

    at = t0 + timedelta(hours=2)
    store.upsert_jobs(job("sim-c", at + i * MIN, queue_seconds=1802.0) for i in range(6))
    alerts = evaluate(store, at + 6 * MIN)
    assert kinds(alerts) == [("queue_overload", "sim-c")]
    assert "is 1802 s" in alerts[0].annotations["description"]
    assert evaluate(store, at + 5 * MIN + 15 * MIN) == []
    # Too few jobs for a quantile: two slow jobs do not alert.
    store.upsert_jobs(job("sim-b", at + 30 * MIN, queue_seconds=3000.0) for _ in range(2))
    assert evaluate(store, at + 31 * MIN) == []


def test_queue_overload_on_jobs_still_waiting(store, t0) -> None:
    def queued(backend, submitted):
        return {
            "id": f"{backend}-{submitted.isoformat()}",
            "backend": backend,
            "status": "queued",
            "submitted_at": submitted,
        }

    store.upsert_jobs([queued("sim-a", t0 + i * MIN) for i in range(3)])
    store.upsert_jobs([queued("sim-b", t0 + i * MIN) for i in range(2)])
    assert evaluate(store, t0 + 29 * MIN) == []  # not waiting 30 min yet
    alerts = evaluate(store, t0 + 33 * MIN)
    assert kinds(alerts) == [("queue_overload", "sim-a")]
    assert "3 job(s) still queued" in alerts[0].annotations["description"]
    # Jobs abandoned long ago (beyond waiting_lookback_s) are not a queue.
    assert evaluate(store, t0 + timedelta(hours=6, minutes=1)) == []
    off = SignalConfig.from_mapping({"queue_overload": {"waiting_min_jobs": 0}})
    assert evaluate(store, t0 + 33 * MIN, off) == []


def test_backend_down_fires_inhibits_symptoms_and_ignores_client_errors(store, t0) -> None:
    jobs = [job("sim-a", t0 + i * MIN, status="error", error_class="transient") for i in range(5)]
    jobs += [job("sim-a", t0, status="error", error_class="quota") for _ in range(5)]
    # A partial failure on sim-b (2 of 10) is not "down"; auth errors on sim-c are not.
    jobs += [job("sim-b", t0 + i * MIN) for i in range(8)]
    jobs += [job("sim-b", t0 + i * MIN, status="error", error_class="backend") for i in range(2)]
    jobs += [job("sim-c", t0 + i * MIN, status="error", error_class="auth") for i in range(5)]
    store.upsert_jobs(jobs)
    now = t0 + 5 * MIN
    alerts = evaluate(store, now)
    assert kinds(alerts) == [
        ("auth_failure", "sim-c"),
        ("backend_down", "sim-a"),
        ("network_blips", "sim-a"),
        ("quota_breach", "sim-a"),
    ]
    down = next(a for a in alerts if a.labels["kind"] == "backend_down")
    assert down.labels["severity"] == "page"
    assert "5 of 5 job(s)" in down.annotations["description"]

    router = Router(RoutingConfig(), [ConsoleNotifier()])
    router.process(alerts, now, source="signals")
    states = {
        (s.alert.labels["kind"], s.alert.labels.get("backend")): s.state
        for s in router.statuses(now)
    }
    assert states[("network_blips", "sim-a")] == "suppressed"  # inhibited by backend_down
    assert states[("quota_breach", "sim-a")] == "firing"  # not a symptom of the outage
    assert states[("backend_down", "sim-a")] == "firing"
    # The outage is over 10 minutes after its last failure.
    assert ("backend_down", "sim-a") not in kinds(evaluate(store, t0 + 14 * MIN))


def test_billing_spike_against_the_same_hour_on_previous_days(store, t0) -> None:
    start = t0 - timedelta(days=7)
    spike_at, spike_end = t0 + timedelta(hours=13), t0 + timedelta(hours=17)
    jobs = healthy_stream(
        start, t0 + timedelta(hours=20), seed=7, backends=("sim-a",), projects=("chem", "fin")
    )
    for j in jobs:
        if j["project"] == "chem" and spike_at <= j["finished_at"] < spike_end:
            j["cost_usd"] *= 10.0
    store.upsert_jobs(jobs)

    def billing(now):
        return [a for a in evaluate(store, now) if a.labels["kind"] == "billing_spike"]

    # Quiet over the healthy history (including night hours below the dollar floor).
    for k in range(0, 36 * 4):
        assert billing(t0 - timedelta(days=2) + k * 15 * MIN) == []
    assert billing(spike_at + 5 * MIN) == []  # too early to tell
    alerts = billing(spike_at + 30 * MIN)
    assert [a.labels["project"] for a in alerts] == ["chem"]
    assert set(alerts[0].labels) == {"alertname", "kind", "severity", "project"}
    assert (
        "median of the same window on the previous 7 day(s)" in alerts[0].annotations["description"]
    )
    assert all(billing(spike_at + k * 15 * MIN) for k in range(2, 17))
    assert billing(spike_end + timedelta(hours=1)) == []


def test_billing_spike_silent_without_a_baseline(store, t0) -> None:
    """A fresh install (one day of history) has no baseline: no alert, whatever the spend."""
    jobs = healthy_stream(
        t0 - timedelta(days=1),
        t0 + timedelta(hours=14),
        seed=3,
        backends=("sim-a",),
        projects=("chem",),
    )
    for j in jobs:
        if j["finished_at"] >= t0 + timedelta(hours=13):
            j["cost_usd"] *= 20.0
    store.upsert_jobs(jobs)
    assert [
        a for a in evaluate(store, t0 + timedelta(hours=14)) if a.labels["kind"] == "billing_spike"
    ] == []
    two_days = SignalConfig.from_mapping({"billing_spike": {"min_baseline_days": 1}})
    assert kinds(
        a
        for a in evaluate(store, t0 + timedelta(hours=14), two_days)
        if a.labels["kind"] == "billing_spike"
    ) == [("billing_spike", "chem")]


def test_healthy_traffic_raises_nothing(store, t0) -> None:
    """Four days of normal traffic on three backends, a quiet night, a rare retry,
    queue times up to minutes: not one alert in a day of evaluations every 10 minutes."""
    store.upsert_jobs(
        healthy_stream(
            t0 - timedelta(days=3), t0 + timedelta(days=1), seed=11, projects=("chem", "fin")
        )
    )
    fired = {
        (now, kind)
        for now in (t0 + k * 10 * MIN for k in range(144))
        for kind in kinds(evaluate(store, now))
    }
    assert fired == set()


def test_disabled_signal_and_severity_override(store, t0) -> None:
    store.upsert_jobs(job("sim-a", t0, status="error", error_class="auth") for _ in range(2))
    off = SignalConfig.from_mapping({"auth_failure": {"enabled": False}})
    assert evaluate(store, t0 + MIN, off) == []
    ticket = SignalConfig.from_mapping({"auth_failure": {"severity": "ticket", "min_count": 2}})
    (alert,) = evaluate(store, t0 + MIN, ticket)
    assert alert.labels["severity"] == "ticket"
    three = SignalConfig.from_mapping({"auth_failure": {"min_count": 3}})
    assert evaluate(store, t0 + MIN, three) == []
