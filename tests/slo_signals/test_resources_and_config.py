"""resource_exhaustion from the daemon's health, store outages, the config section and
the alert catalogue contract."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import text

from collector.store import Store
from runbooks.catalog import runbook_for
from slo.alerts import ALERT_KINDS
from slo.signal_config import SignalConfig, SignalConfigError
from slo.signals import SIGNAL_KINDS, HealthSnapshot

from .conftest import RUNBOOKS, evaluate, job, kinds


def test_every_signal_kind_is_catalogued_with_a_runbook() -> None:
    assert set(SIGNAL_KINDS) <= set(ALERT_KINDS)
    # Burn alerts come from the SLO engine, notifications_failing from the router itself.
    assert set(ALERT_KINDS) - set(SIGNAL_KINDS) == {
        "slo_burn_page",
        "slo_burn_ticket",
        "notifications_failing",
        "evaluation_stalled",  # from Prometheus (slo.rules.stall_group)
    }
    for kind in SIGNAL_KINDS:
        assert runbook_for(kind).kind == kind


@pytest.mark.parametrize(
    ("health", "reason"),
    [
        (HealthSnapshot(spool_pending_bytes=900, spool_max_bytes=1000), "spool at 90%"),
        (HealthSnapshot(recorder_errors_recent=12), "12 recorder errors"),
    ],
)
def test_resource_exhaustion_from_health(store, t0, health, reason) -> None:
    (alert,) = evaluate(store, t0, health=health)
    assert dict(alert.labels) == {
        "alertname": "QsreResourceExhaustion",
        "kind": "resource_exhaustion",
        "severity": "page",
    }
    assert reason in alert.annotations["summary"]
    assert alert.annotations["runbook_url"] == f"{RUNBOOKS}resource_exhaustion.md"
    assert alert.annotations["dashboard_url"]


@pytest.mark.parametrize(("failed", "alerts"), [(3, [("resource_exhaustion", "sim-a")]), (2, [])])
def test_resource_exhaustion_on_a_backend(store, t0, failed, alerts) -> None:
    """F8: jobs failing for lack of memory on one backend (3 in 30 min by default),
    told apart from qsre's own resources by the backend label."""
    store.upsert_jobs(
        job("sim-a", t0 - timedelta(minutes=5 * i), status="error", error_class="resource")
        for i in range(failed)
    )
    # Other error classes on the same backend, or resource errors long ago, do not count.
    store.upsert_jobs([job("sim-a", t0, status="error", error_class="backend")])
    store.upsert_jobs(
        [job("sim-a", t0 - timedelta(hours=2), status="error", error_class="resource")]
    )
    found = evaluate(store, t0 + timedelta(seconds=1))
    assert kinds(found) == alerts
    for alert in found:
        assert alert.labels["severity"] == "page"
        assert f"{failed} jobs on sim-a" in alert.annotations["summary"]
        assert alert.annotations["runbook_url"] == f"{RUNBOOKS}resource_exhaustion.md"


def test_healthy_daemon_raises_nothing(store, t0) -> None:
    ok = HealthSnapshot(spool_pending_bytes=500, spool_max_bytes=1000, recorder_errors_recent=3)
    assert evaluate(store, t0, health=ok) == []
    assert evaluate(store, t0, health=HealthSnapshot(spool_pending_bytes=10**9)) == []


def test_store_unreachable_keeps_open_incidents(store, t0) -> None:
    store.upsert_jobs(job("sim-a", t0, status="error", error_class="auth") for _ in range(2))
    before = evaluate(store, t0 + timedelta(minutes=1))
    assert kinds(before) == [("auth_failure", "sim-a")]
    down = HealthSnapshot(store_reachable=False)
    # Long after the auth window: without the store we cannot know it ended, so the
    # open incident is carried, not resolved (and re-paged later).
    during = evaluate(store, t0 + timedelta(hours=1), health=down, previous=tuple(before))
    assert kinds(during) == [("auth_failure", "sim-a"), ("resource_exhaustion", "")]
    assert during[0] == before[0]
    assert "event store unreachable" in during[1].annotations["description"]


def test_failing_store_query_is_a_resource_alert(sqlite_url, t0) -> None:
    store = Store(sqlite_url)
    with store.engine.begin() as conn:
        conn.execute(text("DROP TABLE jobs"))
    alerts = evaluate(store, t0)
    assert kinds(alerts) == [("resource_exhaustion", "")]
    assert "event store query failed" in alerts[0].annotations["summary"]
    store.close()


def test_config_defaults_and_durations() -> None:
    default = SignalConfig.from_mapping(None)
    assert default == SignalConfig()
    assert default.auth_failure.window_s == 1800 and default.auth_failure.min_count == 1
    assert default.queue_overload.threshold_seconds == 600
    assert default.billing_spike.factor == 3.0
    cfg = SignalConfig.from_mapping(
        {"auth_failure": {"window_s": "10m"}, "billing_spike": {"window_s": "1h"}}
    )
    assert cfg.auth_failure.window_s == 600 and cfg.billing_spike.window_s == 3600
    with pytest.raises(ValidationError):  # frozen: thresholds cannot change under the daemon
        cfg.auth_failure.window_s = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("data", "path", "expected"),
    [
        (
            {"network_blips": {"min_ratio": 1.5}},
            "alerting.signals.network_blips.min_ratio",
            "expected less than or equal to 1, got 1.5",
        ),
        ({"auth_failure": {"window": 5}}, "alerting.signals.auth_failure.window", "window_s"),
        ({"auth_falure": {}}, "alerting.signals.auth_falure", "auth_failure"),
        (
            {"queue_overload": {"threshold_seconds": "soon"}},
            "queue_overload.threshold_seconds",
            "duration like 5m",
        ),
        (
            {"backend_down": {"error_classes": ["gremlins"]}},
            "backend_down.error_classes",
            "error classes",
        ),
        (
            {"billing_spike": {"baseline_days": 2}},
            "alerting.signals.billing_spike",
            "min_baseline_days <= baseline_days",
        ),
        ({"auth_failure": {"severity": "urgent"}}, "auth_failure.severity", "page"),
        (["auth_failure"], "alerting.signals", "a mapping"),
    ],
)
def test_config_errors_name_file_and_field(data, path, expected) -> None:
    with pytest.raises(SignalConfigError) as info:
        SignalConfig.from_mapping(data, where="qsre.yaml: alerting.signals")
    message = str(info.value)
    assert message.startswith("qsre.yaml: ")
    assert path in message
    assert expected in message
