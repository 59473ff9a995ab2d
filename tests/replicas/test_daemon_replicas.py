"""Two real `qsre run` replicas on one PostgreSQL store, a recording webhook server
on 127.0.0.1: one router at a time, failover within 2 x the lease TTL after SIGKILL,
a leader paused past its lease (SIGSTOP) sends nothing after SIGCONT, and the
heartbeat comes from the leader only and stops when the daemon dies."""

from __future__ import annotations

import re
import signal
import time
from collections import Counter

import pytest

from collector.store import Store
from tests.alerts.fake_http import FakeHttp, start_fake_http

from .daemons import (
    Replica,
    auth_failures,
    replica_config,
    router_lease,
    start_replica,
    wait_for,
)

TTL_S = 3.0


@pytest.fixture
def fake():
    server = start_fake_http()
    yield server
    server.close()


def hook_events(fake: FakeHttp, replica: str | None = None) -> Counter[tuple[str, str]]:
    """(backend, status) of every webhook notification, optionally of one replica."""
    out: Counter[tuple[str, str]] = Counter()
    for r in list(fake.requests):
        if not r.path.startswith("/hook/") or (replica and r.path != f"/hook/{replica}"):
            continue
        out[(r.body["groupLabels"]["backend"], r.body["status"])] += 1
    return out


def leader_of(store_url: str, replicas: list[Replica]) -> Replica:
    def find() -> Replica | None:
        row = router_lease(store_url)
        if row is None:
            return None
        holder = row[0]
        pid = int(holder.split(":")[1])
        return next((r for r in replicas if r.proc.pid == pid), None)

    return wait_for(find, 60, "a router lease holder")


@pytest.mark.slow
def test_one_router_failover_after_sigkill_and_one_notification_per_incident(
    pg_url, tmp_path, fake
):
    heartbeat = {"heartbeat_url": f"{fake.url}/ping", "alertmanager": True}
    replicas = [
        start_replica(
            tmp_path,
            name,
            replica_config(
                tmp_path,
                name,
                pg_url,
                fake.url,
                lease_ttl_s=TTL_S,
                watchdog=heartbeat,
                slack_and_pagerduty=True,
            ),
        )
        for name in ("a", "b")
    ]
    store = Store(pg_url)
    try:
        for r in replicas:
            r.port()
        leader = leader_of(pg_url, replicas)
        follower = next(r for r in replicas if r is not leader)
        first = [f"b{i:02d}" for i in range(10)]
        auth_failures(store, first)
        wait_for(lambda: len(hook_events(fake)) >= len(first), 30, "10 incidents notified", 0.2)
        # Only the leader routes: its webhook path got every incident, once.
        assert hook_events(fake, follower.name) == Counter()
        assert hook_events(fake, leader.name) == Counter({(b, "firing"): 1 for b in first})
        # Every replica serves the same alert state on /metrics (the follower reads
        # what the leader persisted).
        firing = 'qsre_alerts_firing{kind="auth_failure",severity="page"} 10.0'
        wait_for(lambda: firing in follower.metrics(), 10, "follower /metrics")
        assert firing in leader.metrics()
        assert 'qsre_lease_held{lease="qsre-alert-router"} 1.0' in leader.metrics()
        assert 'qsre_lease_held{lease="qsre-alert-router"} 0.0' in follower.metrics()
        assert "qsre_last_evaluation_timestamp_seconds " in follower.metrics()
        # Heartbeats and the QsreWatchdog alert come from the leader alone.
        wait_for(lambda: fake.ok("/ping") and fake.ok("/am/api/v2/alerts"), 10, "heartbeats")
        assert {r.headers.get("X-Qsre-Replica") for r in fake.ok("/ping")} == {leader.replica_id()}
        am = fake.ok("/am/api/v2/alerts")
        assert {a["labels"]["alertname"] for r in am for a in r.body} == {"QsreWatchdog"}

        _, epoch_before, _ = router_lease(pg_url) or ("", 0, None)
        leader.signal(signal.SIGKILL)
        killed_at = time.monotonic()
        leader.proc.wait(timeout=10)
        wait_for(
            lambda: (router_lease(pg_url) or ("",))[0] == follower.replica_id(),
            4 * TTL_S,
            "the follower to take the router lease",
            0.05,
        )
        failover_s = time.monotonic() - killed_at
        holder, epoch_after, _ = router_lease(pg_url) or ("", 0, None)
        print(f"failover after SIGKILL: {failover_s:.2f} s (lease TTL {TTL_S} s)")
        assert failover_s <= 2 * TTL_S
        assert epoch_after == epoch_before + 1
        # The new leader carries on: new incidents once, old and new resolve once.
        second = [f"b{i:02d}" for i in range(10, 20)]
        auth_failures(store, second)
        want = Counter({(b, s): 1 for b in first + second for s in ("firing", "resolved")})
        wait_for(lambda: hook_events(fake) == want, 60, "20 incidents fired and resolved", 0.3)
        time.sleep(2)  # a few more cycles: nothing doubled later either
        assert hook_events(fake) == want
        # The real Slack and PagerDuty clients: one post per incident, one trigger and
        # one resolve per dedup_key, across the failover.
        # (Thread replies are not new messages: only top-level posts count.)
        posts = [
            r.body["text"]
            for r in fake.ok()
            if r.path.endswith("/chat.postMessage") and not r.body.get("thread_ts")
        ]
        per_backend = {
            b: sum(bool(re.search(rf"\b{b}\b", text)) for text in posts) for b in first + second
        }
        assert len(posts) == len(first + second), posts
        assert set(per_backend.values()) == {1}, per_backend
        pd = Counter(
            (r.body["dedup_key"], r.body["event_action"])
            for r in fake.ok()
            if r.path.endswith("/v2/enqueue")
        )
        keys = {k for k, _ in pd}
        assert len(keys) == len(first + second)
        assert pd == Counter({(k, a): 1 for k in keys for a in ("trigger", "resolve")}), pd
        assert hook_events(fake, leader.name) == Counter({(b, "firing"): 1 for b in first})
        # Every log line names its replica; the two replicas are told apart.
        for r in replicas:
            assert all(rec.get("replica") == r.replica_id() for rec in r.records())
        assert leader.replica_id() != follower.replica_id()
        # Kill the last daemon: the heartbeat stops.
        follower.signal(signal.SIGKILL)
        follower.proc.wait(timeout=10)
        pings = len(fake.requests)
        time.sleep(3.0)  # three evaluation intervals
        assert len(fake.requests) == pings
    finally:
        for r in replicas:
            r.stop()
        store.close()


@pytest.mark.slow
def test_leader_paused_past_its_lease_sends_nothing_after_waking(pg_url, tmp_path, fake):
    configs = {
        name: replica_config(tmp_path, name, pg_url, fake.url, lease_ttl_s=TTL_S)
        for name in ("a", "b")
    }
    a = start_replica(tmp_path, "a", configs["a"])
    store = Store(pg_url)
    b = None
    try:
        a.port()
        assert leader_of(pg_url, [a]) is a  # a leads; b starts as follower
        b = start_replica(tmp_path, "b", configs["b"])
        b.port()
        # a's webhook answers slowly, so its flush of 8 incidents takes ~6 s and the
        # pause lands between receiver calls of one flush.
        fake.delays_s["/hook/a"] = 0.7
        backends = [f"p{i}" for i in range(8)]
        auth_failures(store, backends)
        wait_for(lambda: len(hook_events(fake, "a")) >= 2, 30, "a's first notifications")
        a.signal(signal.SIGSTOP)
        stopped_at = time.monotonic()
        wait_for(
            lambda: (router_lease(pg_url) or ("",))[0] == b.replica_id(),
            4 * TTL_S,
            "b to take over from the paused leader",
            0.05,
        )
        takeover_s = time.monotonic() - stopped_at
        print(f"takeover from a SIGSTOPped leader: {takeover_s:.2f} s (lease TTL {TTL_S} s)")
        assert takeover_s <= 2 * TTL_S
        wait_for(
            lambda: {k[0] for k in hook_events(fake)} == set(backends), 20, "b notifies the rest"
        )
        time.sleep(1.0)  # the request a had in flight is recorded after its delay
        sent_by_a = sum(hook_events(fake, "a").values())
        a.signal(signal.SIGCONT)
        # a wakes with a router that still owes notifications: its fence must stop it.
        wait_for(
            lambda: any(
                "no longer current" in rec["msg"] or "lost" in rec["msg"] for rec in a.records()
            ),
            10,
            "a to notice it lost the lease",
        )
        time.sleep(3.0)  # several evaluation cycles and renewals of a after waking
        assert sum(hook_events(fake, "a").values()) == sent_by_a
        assert a.proc.poll() is None  # alive and following, not crashed
        events = hook_events(fake)
        duplicates = {k: n for k, n in events.items() if n > 1}
        print(
            f"a sent {sent_by_a}, b sent {sum(hook_events(fake, 'b').values())}, "
            f"duplicated incidents: {duplicates}"
        )
        assert {k[0] for k in events} == set(backends)
        assert all(s == "firing" for _, s in events)
    finally:
        for r in (a, b):
            if r is not None:
                r.stop()
        store.close()
