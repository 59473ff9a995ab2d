"""A Slack post whose answer is lost to a client timeout (Slack posted it anyway) is
found again by its metadata on the next flush and updated, never posted twice; a
PagerDuty trigger that timed out is re-sent with the same dedup_key."""

from __future__ import annotations

import time
from datetime import timedelta

from slo.alert_state import AlertStateStore
from slo.notify.base import no_sleep
from slo.notify.pagerduty import PagerDutyNotifier
from slo.notify.slack import SlackNotifier
from slo.routing import Router

from .world import CHANNEL, CONFIG, T0, incident


def wait_for(predicate, what: str, deadline_s: float = 30.0) -> None:
    # Waiting for the server thread to finish a request; the bound only avoids a hang.
    end = time.monotonic() + deadline_s
    while not predicate():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_timed_out_post_is_found_and_updated_not_reposted(store, fake_http, secret_env) -> None:
    notifiers = [
        PagerDutyNotifier(
            "pagerduty",
            routing_key_env="QSRE_PD_ROUTING_KEY",
            events_url=fake_http.url,
            sleep=no_sleep,
            timeout_s=1.0,
            max_attempts=1,
        ),
        SlackNotifier(
            "slack",
            channel=CHANNEL,
            token_env="QSRE_SLACK_TOKEN",
            api_url=fake_http.url,
            sleep=no_sleep,
            timeout_s=1,
        ),
    ]
    router = Router(CONFIG, notifiers, state=AlertStateStore(store))
    fake_http.next_delays_s["/api/chat.postMessage"].append(1.5)
    fake_http.next_delays_s["/v2/enqueue"].append(1.5)
    router.process([incident()], T0, source="slo")
    report = router.flush(T0)
    assert {n.receiver for n, _ in report.failed} == {"pagerduty", "slack"}
    wait_for(lambda: len(fake_http.ok("/api/chat.postMessage")) == 1, "the slow post")
    wait_for(lambda: len(fake_http.ok("/v2/enqueue")) == 1, "the slow trigger")

    report = router.flush(T0 + timedelta(seconds=15))
    # (and console: the QsreNotificationsFailing raised by the timeouts resolves)
    assert {n.receiver for n in report.sent} == {"pagerduty", "slack", "console"}
    (post,) = [r for r in fake_http.ok("/api/chat.postMessage") if "thread_ts" not in r.body]
    assert [r.path for r in fake_http.requests if "conversations" in r.path] == [
        "/api/conversations.history"
    ]
    (update,) = fake_http.ok("/api/chat.update")
    assert update.body["ts"] == post.response["ts"]
    triggers = [r.body["dedup_key"] for r in fake_http.ok("/v2/enqueue")]
    assert len(triggers) == 2 and len(set(triggers)) == 1  # PagerDuty folds them

    router.process([], T0 + timedelta(seconds=60), source="slo")
    router.flush(T0 + timedelta(seconds=60))
    assert fake_http.ok("/api/chat.update")[-1].body["text"].startswith("[RESOLVED]")
    assert len([r for r in fake_http.ok("/api/chat.postMessage") if "thread_ts" not in r.body]) == 1
