"""Receivers against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from slo.alerts import InvalidAlert, make_alert
from slo.notify.base import Notification, NotifyError, no_sleep
from slo.notify.console import ConsoleNotifier
from slo.notify.pagerduty import PagerDutyNotifier
from slo.notify.slack import SlackNotifier
from slo.notify.webhook import WebhookNotifier

from .conftest import PD_KEY, SLACK_TOKEN

NOW = datetime(2026, 11, 16, 2, 0, tzinfo=UTC)


def page_alert(slo: str = "availability"):
    return make_alert(
        "slo_burn_page",
        labels={"slo": slo},
        summary=f"{slo} error budget burning 14.4x",
        runbook_url="https://runbooks.example/slo_burn_page",
        dashboard_url="https://grafana.example/d/slo",
        annotations={"burn_rates": "1h: 15.2x, 5m: 18.0x", "budget_remaining": "61 %"},
        starts_at=NOW,
    )


def note(firing=(), resolved=(), new=None, repeat=False) -> Notification:
    firing, resolved = tuple(firing), tuple(resolved)
    return Notification(
        "r",
        'route0:{slo="availability"}',
        {"slo": "availability"},
        firing,
        resolved,
        firing if new is None else tuple(new),
        NOW,
        is_repeat=repeat,
    )


def test_slack_posts_then_updates_same_message_and_threads(fake_http, secret_env) -> None:
    slack = SlackNotifier(
        "slack",
        channel="#alerts",
        token_env="QSRE_SLACK_TOKEN",
        api_url=fake_http.url + "/api/",
        sleep=no_sleep,
        seed=1,
    )
    a = page_alert()
    memo: dict = {}
    slack.notify(note([a]), memo)
    (post,) = fake_http.requests
    assert (
        post.path == "/api/chat.postMessage"
        and post.headers["Authorization"] == f"Bearer {SLACK_TOKEN}"
    )
    blocks = post.body["blocks"]
    text = str(blocks)
    for needle in ("Severity", "page", "availability", "1h: 15.2x", "61 %", "Runbook", "Dashboard"):
        assert needle in text
    actions = next(b for b in blocks if b["type"] == "actions")
    assert actions["elements"][0]["url"] == "https://runbooks.example/slo_burn_page"
    ts = memo["ts"]
    slack.notify(note([], [a.resolved(NOW)]), memo)
    upd, reply = fake_http.requests[1:]
    assert (
        upd.path == "/api/chat.update" and upd.body["ts"] == ts and "RESOLVED" in upd.body["text"]
    )
    assert reply.path == "/api/chat.postMessage" and reply.body["thread_ts"] == ts


def test_slack_honours_429_retry_after_and_500(fake_http, secret_env) -> None:
    waits: list[float] = []
    slack = SlackNotifier(
        "slack",
        channel="#a",
        token_env="QSRE_SLACK_TOKEN",
        api_url=fake_http.url + "/api/",
        sleep=waits.append,
        seed=3,
        max_retry_count=3,
    )
    fake_http.fail_next("/api/chat.postMessage", 429, headers={"Retry-After": "1"})
    fake_http.fail_next("/api/chat.postMessage", 500)
    memo: dict = {}
    slack.notify(note([page_alert()]), memo)
    assert [r.status for r in fake_http.requests] == [429, 500, 200]
    assert 1.0 <= waits[0] < 2.0 and memo["ts"]
    fake_http.fail_next("/api/chat.postMessage", 429, times=4, headers={"Retry-After": "1"})
    with pytest.raises(NotifyError) as err:
        slack.notify(note([page_alert("other")]), {})
    assert "429" in str(err.value) and SLACK_TOKEN not in str(err.value)


def test_pagerduty_trigger_resolve_payload_and_no_retrigger(fake_http, secret_env) -> None:
    pd = PagerDutyNotifier(
        "pd", routing_key_env="QSRE_PD_ROUTING_KEY", events_url=fake_http.url, sleep=no_sleep
    )
    a = page_alert()
    memo: dict = {}
    pd.notify(note([a]), memo)
    pd.notify(note([a], repeat=True, new=()), memo)  # a repeat: PagerDuty already has it
    (trig,) = fake_http.requests
    assert trig.path == "/v2/enqueue"
    body = trig.body
    assert body["routing_key"] == PD_KEY and body["event_action"] == "trigger"
    assert body["dedup_key"] == a.fingerprint
    p = body["payload"]
    assert (
        p["severity"] == "critical"
        and p["class"] == "slo_burn_page"
        and p["group"] == "availability"
    )
    assert len(p["summary"]) <= 1024 and p["timestamp"].startswith("2026-11-16T02:00")
    assert body["links"][0] == {"href": "https://runbooks.example/slo_burn_page", "text": "Runbook"}
    pd.notify(note([], [a.resolved(NOW)]), memo)
    res = fake_http.requests[-1].body
    assert (
        res["event_action"] == "resolve"
        and res["dedup_key"] == a.fingerprint
        and "payload" not in res
    )


def test_pagerduty_retries_429_5xx_never_400(fake_http, secret_env, caplog) -> None:
    waits: list[float] = []
    pd = PagerDutyNotifier(
        "pd", routing_key_env="QSRE_PD_ROUTING_KEY", events_url=fake_http.url, sleep=waits.append
    )
    fake_http.fail_next("/v2/enqueue", 429, headers={"Retry-After": "2"})
    fake_http.fail_next("/v2/enqueue", 502)
    memo: dict = {}
    pd.notify(note([page_alert()]), memo)
    assert [r.status for r in fake_http.requests] == [429, 502, 202] and waits == [2.0, 1.0]
    fake_http.fail_next("/v2/enqueue", 400, body={"status": "invalid event", "errors": ["bad"]})
    caplog.set_level(logging.DEBUG)
    with pytest.raises(NotifyError) as rejected:
        pd.notify(note([page_alert("b")]), memo)
    assert fake_http.requests[-1].status == 400 and len(fake_http.requests) == 4  # no retry
    # A 400 is a failed delivery the router retries on the group's next interval (not at
    # once): the notifier keeps no "rejected" list that would silence the page for good.
    assert not rejected.value.retryable and "invalid event" in str(rejected.value)
    pd.notify(note([page_alert("b")]), memo)
    assert len(fake_http.requests) == 5 and fake_http.requests[-1].status == 202
    assert "invalid event" in caplog.text and PD_KEY not in caplog.text


def test_webhook_alertmanager_v4_payload(fake_http, monkeypatch) -> None:
    monkeypatch.setenv("HOOK_TOKEN", "hook-secret-123")
    hook = WebhookNotifier(
        "hook", url=fake_http.url + "/hook", bearer_token_env="HOOK_TOKEN", sleep=no_sleep
    )
    a, b = page_alert("a"), page_alert("b")
    hook.notify(note([a], [b.resolved(NOW)]), {})
    (req,) = fake_http.requests
    body = req.body
    assert req.headers["Authorization"] == "Bearer hook-secret-123"
    assert set(body) == {
        "version",
        "groupKey",
        "truncatedAlerts",
        "status",
        "receiver",
        "groupLabels",
        "commonLabels",
        "commonAnnotations",
        "externalURL",
        "alerts",
    }
    assert body["version"] == "4" and body["status"] == "firing" and body["truncatedAlerts"] == 0
    assert body["commonLabels"] == {
        "alertname": "QsreSLOBurnRatePage",
        "kind": "slo_burn_page",
        "severity": "page",
    }
    first, second = body["alerts"]
    assert set(first) == {
        "status",
        "labels",
        "annotations",
        "startsAt",
        "endsAt",
        "generatorURL",
        "fingerprint",
    }
    assert first["status"] == "firing" and first["endsAt"] == "0001-01-01T00:00:00Z"
    assert second["status"] == "resolved" and second["endsAt"] == "2026-11-16T02:00:00.000Z"
    assert first["fingerprint"] == a.fingerprint


def test_missing_env_var_names_it_without_value(monkeypatch) -> None:
    monkeypatch.delenv("NOPE_TOKEN", raising=False)
    with pytest.raises(InvalidAlert, match="NOPE_TOKEN"):
        SlackNotifier("slack", channel="#a", token_env="NOPE_TOKEN")


def test_console_writes_one_line_per_notification(tmp_path, capsys) -> None:
    con = ConsoleNotifier(log_path=tmp_path / "alerts.log")
    con.notify(note([page_alert()]), {})
    con.notify(note([], [page_alert().resolved(NOW)]), {})
    lines = (tmp_path / "alerts.log").read_text().splitlines()
    assert len(lines) == 2 and "FIRING" in lines[0] and "RESOLVED" in lines[1]
    assert "runbook=https://runbooks.example/slo_burn_page" in lines[0]
    assert capsys.readouterr().out.splitlines() == lines
