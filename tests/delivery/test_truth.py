"""Delivery truth: a 4xx (other than 429) is a failed delivery, shown as failed with the
receiver's answer (never a secret) in `qsre alerts` and the notification log, counted
in qsre_notifications_total, and raising QsreNotificationsFailing to the fallback
receiver (console + alert log) in the same flush. Real slack-sdk and httpx clients
against the recording server; the store is SQLite and PostgreSQL."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from typer.testing import CliRunner

from qsre.cli import app
from slo.alert_state import AlertStateStore
from slo.routing import Router

from .conftest import PD_KEY, SLACK_TOKEN
from .world import CONFIG, T0, incident, make_router

runner = CliRunner()

PD_ANSWERS = {
    400: {"status": "invalid event", "message": "Event object is invalid", "errors": ["bad"]},
    404: {"status": "not found"},
}


def counter(router: Router) -> dict[tuple[str, str], float]:
    registry = CollectorRegistry()
    registry.register(router.metrics_source())
    out = {}
    for line in generate_latest(registry).decode().splitlines():
        if line.startswith("qsre_notifications_total{"):
            labels, value = line[len("qsre_notifications_total{") :].split("} ")
            d = dict(kv.split("=") for kv in labels.split(","))
            out[(d["receiver"].strip('"'), d["outcome"].strip('"'))] = float(value)
    return out


@pytest.mark.parametrize(
    ("pd_status", "slack_error"), [(400, "invalid_auth"), (404, "channel_not_found")]
)
def test_4xx_is_failed_shown_counted_and_raises_the_fallback_alert(
    store, fake_http, secret_env, tmp_path, caplog, pd_status, slack_error
) -> None:
    caplog.set_level(logging.INFO)
    alert_log = tmp_path / "alerts.log"
    fake_http.fail_next("/v2/enqueue", pd_status, body=PD_ANSWERS[pd_status])
    fake_http.fail_next("/api/chat.postMessage", 200, body={"ok": False, "error": slack_error})
    router = make_router(store, fake_http.url, alert_log=alert_log)
    router.process([incident()], T0, source="slo")
    report = router.flush(T0)

    assert {n.receiver for n, _ in report.failed} == {"pagerduty", "slack"}
    assert "pagerduty" not in {n.receiver for n in report.sent}
    errors = dict((n.receiver, e) for n, e in report.failed)
    assert f"HTTP {pd_status}" in errors["pagerduty"] and slack_error in errors["slack"]
    # The fallback receiver heard it in this same flush, once per failing receiver.
    lines = alert_log.read_text().splitlines()
    failing = [ln for ln in lines if "FIRING" in ln and "are failing" in ln]
    assert len(failing) == 2 and {"pagerduty", "slack"} == {
        r for r in ("pagerduty", "slack") for ln in failing if f"receiver {r} " in ln
    }
    assert counter(router)[("pagerduty", "failed")] == 1
    assert counter(router)[("slack", "failed")] == 1
    assert counter(router)[("pagerduty", "sent")] == 0
    assert counter(router)[("console", "sent")] == 2  # one notification per receiver

    # `qsre alerts`: failed, with the answer, no secret.
    out = runner.invoke(app, ["alerts", "--db", store.url, "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    (burn,) = [a for a in data["active"] if a["labels"]["kind"] == "slo_burn_page"]
    assert burn["receivers_notified"] == []
    assert set(burn["receivers_failed"]) == {"pagerduty", "slack"}
    assert f"HTTP {pd_status}" in burn["receivers_failed"]["pagerduty"]
    assert PD_ANSWERS[pd_status]["status"] in burn["receivers_failed"]["pagerduty"]
    assert slack_error in burn["receivers_failed"]["slack"]
    failed_rows = [r for r in data["recent_notifications"] if not r["ok"]]
    assert {r["receiver"] for r in failed_rows} == {"pagerduty", "slack"}
    table = runner.invoke(app, ["alerts", "--db", store.url])
    assert "FAILED" in table.output and slack_error in table.output
    for secret in (SLACK_TOKEN, PD_KEY):
        assert secret not in out.output and secret not in table.output
        assert secret not in caplog.text and secret not in alert_log.read_text()

    # Not retried at once (the far end rejected it), retried on the group interval:
    # the receivers now accept, the page goes out and the fallback alert resolves.
    assert not [n for n in router.flush(T0 + timedelta(seconds=15)).sent if n.receiver != "console"]
    report = router.flush(T0 + timedelta(seconds=60))
    assert {n.receiver for n in report.sent} == {"pagerduty", "slack", "console"}
    assert [r.body["event_action"] for r in fake_http.ok("/v2/enqueue")] == ["trigger"]
    assert any(
        "RESOLVED" in ln and "are failing" in ln for ln in alert_log.read_text().splitlines()
    )
    state = AlertStateStore(store)
    assert state.notification_log()[-1].ok


def test_receiver_urls_normalised_at_config_load(tmp_path, fake_http, secret_env) -> None:
    from qsre.config import load_config

    cfg_path = tmp_path / "qsre.yaml"
    cfg_path.write_text(
        f"""
alerting:
  routing:
    default_receiver: pd-base
  receivers:
    - name: pd-full
      type: pagerduty
      routing_key_env: QSRE_PD_ROUTING_KEY
      events_url: {fake_http.url}/v2/enqueue
    - name: pd-base
      type: pagerduty
      routing_key_env: QSRE_PD_ROUTING_KEY
      events_url: {fake_http.url}/
    - name: slack-bare
      type: slack
      channel: C123
      token_env: QSRE_SLACK_TOKEN
      api_url: {fake_http.url}
    - name: slack-api
      type: slack
      channel: C123
      token_env: QSRE_SLACK_TOKEN
      api_url: {fake_http.url}/api
"""
    )
    cfg = load_config(cfg_path)
    by_name = {r.name: r for r in cfg.file.alerting.receivers}
    assert by_name["pd-full"].events_url == by_name["pd-base"].events_url == fake_http.url
    assert by_name["slack-bare"].api_url == by_name["slack-api"].api_url == fake_http.url + "/api/"
    for name in by_name:
        out = runner.invoke(app, ["alerts", "test", name, "--config", str(cfg_path)])
        assert out.exit_code == 0, out.output
    # Every request reached the documented endpoints (no /v2/enqueue/v2/enqueue 404).
    assert {r.path for r in fake_http.requests} == {
        "/v2/enqueue",
        "/api/chat.postMessage",
        "/api/chat.update",
    }
    assert all(200 <= r.status < 300 for r in fake_http.requests)


def test_alerts_test_prints_the_answer_and_fails_on_rejection(
    tmp_path, fake_http, secret_env
) -> None:
    cfg_path = tmp_path / "qsre.yaml"
    cfg_path.write_text(
        f"""
alerting:
  routing:
    default_receiver: pagerduty
  receivers:
    - name: pagerduty
      type: pagerduty
      routing_key_env: QSRE_PD_ROUTING_KEY
      events_url: {fake_http.url}
    - name: slack
      type: slack
      channel: C123
      token_env: QSRE_SLACK_TOKEN
      api_url: {fake_http.url}/api/
"""
    )
    ok = runner.invoke(app, ["alerts", "test", "pagerduty", "--config", str(cfg_path)])
    assert ok.exit_code == 0, ok.output
    assert "Event processed" in ok.output  # PagerDuty's own answer
    actions = [r.body["event_action"] for r in fake_http.ok("/v2/enqueue")]
    assert actions == ["trigger", "resolve"]
    fake_http.fail_next("/v2/enqueue", 400, body=PD_ANSWERS[400])
    bad = runner.invoke(app, ["alerts", "test", "pagerduty", "--config", str(cfg_path)])
    assert bad.exit_code == 1 and "invalid event" in bad.output and PD_KEY not in bad.output
    fake_http.fail_next("/api/chat.postMessage", 200, body={"ok": False, "error": "invalid_auth"})
    bad = runner.invoke(app, ["alerts", "test", "slack", "--config", str(cfg_path)])
    assert bad.exit_code == 1 and "invalid_auth" in bad.output
    assert SLACK_TOKEN not in bad.output
    unknown = runner.invoke(app, ["alerts", "test", "nope", "--config", str(cfg_path)])
    assert unknown.exit_code == 2


def test_config_rejects_an_unknown_fallback_receiver(tmp_path) -> None:
    from qsre.config import load_config
    from qsre.errors import ConfigError

    cfg_path = tmp_path / "qsre.yaml"
    cfg_path.write_text("alerting:\n  fallback_receivers: [nowhere]\n")
    with pytest.raises(ConfigError, match="fallback_receivers"):
        load_config(cfg_path)
    assert CONFIG.fallback_receivers == ("console",)
