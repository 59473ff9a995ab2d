"""Incident boundaries per receiver, grouping into an open incident, and the fence.

Real slack-sdk and httpx clients against the recording server; SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import timedelta

from collector.clock import VirtualClock
from slo.alert_state import AlertStateStore
from slo.alerts import make_alert
from slo.routing import Router

from .world import CONFIG, T0, incident, make_router


def slack_posts(fake) -> list:
    return [r for r in fake.ok("/api/chat.postMessage") if "thread_ts" not in r.body]


def thread_replies(fake) -> list:
    return [r for r in fake.ok("/api/chat.postMessage") if "thread_ts" in r.body]


def pd_ok(fake, action: str) -> list:
    return [r for r in fake.ok("/v2/enqueue") if r.body["event_action"] == action]


def at(seconds: float):
    return T0 + timedelta(seconds=seconds)


def test_refire_after_a_shown_resolve_is_a_new_incident(store, fake_http, secret_env) -> None:
    router = make_router(store, fake_http.url)
    router.process([incident()], at(0), source="slo")
    router.flush(at(0))
    router.process([], at(60), source="slo")
    router.flush(at(60))  # both receivers show RESOLVED
    assert len(pd_ok(fake_http, "resolve")) == 1
    router = make_router(store, fake_http.url)  # and a restart in between
    router.process([incident()], at(120), source="slo")
    router.flush(at(120))
    posts = slack_posts(fake_http)
    assert len(posts) == 2 and posts[0].response["ts"] != posts[1].response["ts"]
    incidents = [p.body["metadata"]["event_payload"]["incident"] for p in posts]
    assert incidents[0] != incidents[1]
    triggers = pd_ok(fake_http, "trigger")
    assert len(triggers) == 2
    assert triggers[0].body["dedup_key"] != triggers[1].body["dedup_key"]
    # The first message was never edited back to FIRING.
    first_ts = posts[0].response["ts"]
    edits = [u.body["text"] for u in fake_http.ok("/api/chat.update") if u.body["ts"] == first_ts]
    assert edits and all(t.startswith("[RESOLVED]") for t in edits)


def test_slack_starts_a_new_incident_while_pagerduty_still_owes_its_resolve(
    store, fake_http, secret_env
) -> None:
    router = make_router(store, fake_http.url)
    router.process([incident()], at(0), source="slo")
    router.flush(at(0))
    # PagerDuty answers 500 to every attempt (4) of the resolve.
    fake_http.fail_next("/v2/enqueue", 500, times=4)
    router.process([], at(60), source="slo")
    report = router.flush(at(60))
    assert [n.receiver for n, _ in report.failed] == ["pagerduty"]
    first_ts = slack_posts(fake_http)[0].response["ts"]
    assert fake_http.ok("/api/chat.update")[-1].body["text"].startswith("[RESOLVED]")
    # Re-fire: Slack showed RESOLVED, so the channel gets a new message; PagerDuty's
    # incident never resolved, so it stays the same one (no second trigger).
    router.process([incident()], at(75), source="slo")
    router.flush(at(120))
    posts = slack_posts(fake_http)
    assert len(posts) == 2 and posts[1].response["ts"] != first_ts
    edits = [u.body["text"] for u in fake_http.ok("/api/chat.update") if u.body["ts"] == first_ts]
    assert all(t.startswith("[RESOLVED]") for t in edits)
    assert len(pd_ok(fake_http, "trigger")) == 1 and pd_ok(fake_http, "resolve") == []
    # The end of it resolves both: the new Slack message and the one PagerDuty incident.
    router.process([], at(180), source="slo")
    router.flush(at(180))
    second_ts = posts[1].response["ts"]
    assert fake_http.ok("/api/chat.update")[-1].body["ts"] == second_ts
    assert fake_http.ok("/api/chat.update")[-1].body["text"].startswith("[RESOLVED]")
    (resolve,) = pd_ok(fake_http, "resolve")
    assert resolve.body["dedup_key"] == pd_ok(fake_http, "trigger")[0].body["dedup_key"]


def test_new_alert_grouped_into_an_open_incident_updates_and_replies(
    store, fake_http, secret_env
) -> None:
    router = make_router(store, fake_http.url)
    router.process([incident()], at(0), source="slo")
    router.flush(at(0))
    second = make_alert(
        "slo_burn_page",
        labels={"slo": "jobs-availability", "backend": "ibm_x", "window": "6h"},
        summary="jobs-availability burning (6h)",
    )
    router.process([incident(), second], at(30), source="slo")
    router.flush(at(60))
    (post,) = slack_posts(fake_http)
    ts = post.response["ts"]
    (update,) = fake_http.ok("/api/chat.update")
    assert update.body["ts"] == ts and update.body["text"].startswith("[FIRING]")
    (reply,) = thread_replies(fake_http)
    assert reply.body["thread_ts"] == ts and reply.body["text"].startswith("New in this group")
    keys = [r.body["dedup_key"] for r in pd_ok(fake_http, "trigger")]
    assert len(keys) == 2 and len(set(keys)) == 2


def test_fence_is_asked_before_every_call_and_false_stops_the_flush(
    store, fake_http, secret_env
) -> None:
    fence_seen: list[int] = []  # requests recorded when the fence was asked
    allowed = {"n": 10**6}

    def fence() -> bool:
        fence_seen.append(len(fake_http.requests))
        return len(fence_seen) <= allowed["n"]

    def router_with(fence_fn) -> Router:
        base = make_router(store, fake_http.url)
        return Router(
            CONFIG,
            base.notifiers,
            state=AlertStateStore(store),
            clock=VirtualClock(T0),
            fence=fence_fn,
        )

    fake_http.fail_next("/v2/enqueue", 500, times=2)
    fake_http.fail_next("/api/chat.postMessage", 429, headers={"Retry-After": "0"})
    router = router_with(fence)
    router.process([incident()], at(0), source="slo")
    router.flush(at(0))
    n = len(fake_http.requests)
    assert n == 5  # PagerDuty 500, 500, 202; Slack 429, 200
    # Every request, retries after back-off included, came right after a fence check.
    assert set(range(n)) <= set(fence_seen)

    # A leader fenced off while PagerDuty backs off sends nothing more.
    fence_seen.clear()
    fake_http.requests.clear()
    fake_http.fail_next("/v2/enqueue", 500)
    allowed["n"] = 2  # the router's check + the first request; the retry is refused
    router.process([], at(60), source="slo")
    report = router.flush(at(60))
    assert report.fenced and report.sent == []
    assert [r.status for r in fake_http.requests] == [500]
    # The new leader (a router rebuilt from the store) finishes it: one resolve each.
    fake_http.requests.clear()
    successor = router_with(None)
    successor.process([], at(75), source="slo")
    successor.flush(at(75))
    assert len(pd_ok(fake_http, "resolve")) == 1
    assert [u.body["text"][:10] for u in fake_http.ok("/api/chat.update")] == ["[RESOLVED]"]
    assert slack_posts(fake_http) == []
