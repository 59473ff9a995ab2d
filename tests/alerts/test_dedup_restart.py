"""Acceptance: 10,000 evaluations, 20 incidents -> 20 Slack messages, 20 PagerDuty triggers,
20 resolves; through 429/500s and restarts; and no secret anywhere."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from collector.clock import VirtualClock
from collector.store import Store
from slo.alert_state import AlertStateStore, metadata
from slo.alerts import Alert, Matcher, make_alert
from slo.notify.base import no_sleep
from slo.notify.pagerduty import PagerDutyNotifier
from slo.notify.slack import SlackNotifier
from slo.routing import Route, Router, RoutingConfig

from .conftest import PD_KEY, SLACK_TOKEN
from .fake_http import FakeHttp

T0 = datetime(2026, 11, 16, tzinfo=UTC)
CONFIG = RoutingConfig(
    routes=(Route(receivers=("pagerduty", "slack"), matchers=(Matcher("severity", "page"),)),),
    default_receivers=("slack",),
)


def incidents(cycle: int) -> list[Alert]:
    # Burn-rate annotations change every evaluation; identity (labels) does not.
    return [
        make_alert(
            "slo_burn_page",
            labels={"slo": f"slo-{i:02d}", "backend": f"backend-{i % 4}"},
            summary=f"slo-{i:02d} burning",
            runbook_url="https://runbooks.example/slo_burn_page",
            annotations={"burn_rates": f"1h: {14.4 + cycle % 7:.1f}x"},
        )
        for i in range(20)
    ]


def make_router(store: Store, fake: FakeHttp, clock: VirtualClock) -> Router:
    notifiers = [
        PagerDutyNotifier(
            "pagerduty", routing_key_env="QSRE_PD_ROUTING_KEY", events_url=fake.url, sleep=no_sleep
        ),
        SlackNotifier(
            "slack",
            channel="#alerts",
            token_env="QSRE_SLACK_TOKEN",
            api_url=fake.url + "/api/",
            sleep=no_sleep,
            seed=7,
            max_retry_count=3,
        ),
    ]
    return Router(CONFIG, notifiers, state=AlertStateStore(store), clock=clock)


def slack_posts(fake: FakeHttp) -> list:
    return [r for r in fake.ok("/api/chat.postMessage") if "thread_ts" not in r.body]


def pd_events(fake: FakeHttp, action: str) -> list:
    return [r for r in fake.ok("/v2/enqueue") if r.body["event_action"] == action]


def all_rows_text(store: Store) -> str:
    with store.engine.connect() as conn:
        return "\n".join(
            str(list(row))
            for table in metadata.sorted_tables
            for row in conn.execute(select(table))
        )


def test_burst_with_rate_limits_and_restart(store, fake_http, secret_env, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    clock = VirtualClock(T0)
    # Slack rate-limits then errors on the first requests.
    fake_http.fail_next("/api/chat.postMessage", 429, times=3, headers={"Retry-After": "1"})
    fake_http.fail_next("/api/chat.postMessage", 500, times=2)
    fake_http.fail_next("/v2/enqueue", 500, times=2)
    router = make_router(store, fake_http, clock)
    failures = []
    for cycle in range(500):  # 500 cycles x 20 alerts = 10,000 evaluations
        if cycle == 250:  # restart mid-incident: a new router on the same store
            router = make_router(store, fake_http, clock)
        router.process(incidents(cycle), source="slo")
        failures += router.flush().failed
        clock.advance(15)
    assert len(slack_posts(fake_http)) == 20
    assert len(pd_events(fake_http, "trigger")) == 20
    assert len({r.body["dedup_key"] for r in pd_events(fake_http, "trigger")}) == 20
    assert failures, "the scripted 429/500s should have failed at least one flush"
    posted_ts = {r.response["ts"] for r in slack_posts(fake_http)}
    assert len(posted_ts) == 20
    # Everything recovers: resolve after another restart.
    router = make_router(store, fake_http, clock)
    router.process([], source="slo")
    clock.advance(300)
    router.flush()
    assert len(pd_events(fake_http, "resolve")) == 20
    updates = [r for r in fake_http.ok("/api/chat.update")]
    assert len(updates) == 20
    assert {r.body["ts"] for r in updates} == posted_ts  # the original messages
    assert all(
        r.body["thread_ts"] in posted_ts
        for r in fake_http.ok("/api/chat.postMessage")
        if "thread_ts" in r.body
    )
    assert len(slack_posts(fake_http)) == 20 and len(pd_events(fake_http, "trigger")) == 20
    assert router.groups() == [] and router.statuses() == []
    # Secrets: never in logs, in stored rows, or in errors.
    rows = all_rows_text(store)
    log_rows = AlertStateStore(store).notification_log()
    assert any(not e.ok for e in log_rows) and any(e.ok for e in log_rows)
    for secret in (SLACK_TOKEN, PD_KEY):
        assert secret not in caplog.text
        assert secret not in rows
        assert all(secret not in err for _, err in failures)
        assert all(secret not in (e.error or "") for e in log_rows)


CHILD = textwrap.dedent(
    """
    import sys, time
    from datetime import datetime
    sys.path.insert(0, {root!r})
    from collector.clock import VirtualClock
    from collector.store import Store
    from tests.alerts.test_dedup_restart import incidents, make_router
    from tests.alerts.fake_http import FakeHttp

    class Url:  # the parent's fake server, by URL only
        url = {url!r}

    clock = VirtualClock(datetime.fromisoformat({t0!r}))
    router = make_router(Store({db!r}), Url, clock)
    for cycle in range(10):
        router.process(incidents(cycle), source="slo")
        router.flush()
        clock.advance(15)
    print("READY", flush=True)
    time.sleep(600)
    """
)


def test_sigkill_mid_incident_then_restart_sends_no_second_trigger(
    sqlite_url, fake_http, secret_env
) -> None:
    root = str(Path(__file__).resolve().parents[2])
    code = CHILD.format(root=root, url=fake_http.url, t0=T0.isoformat(), db=sqlite_url)
    env = {**os.environ, "PYTHONPATH": root}
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, env=env, cwd=root)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == b"READY"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    assert len(pd_events(fake_http, "trigger")) == 20 and len(slack_posts(fake_http)) == 20
    posted_ts = {r.response["ts"] for r in slack_posts(fake_http)}
    store = Store(sqlite_url)
    clock = VirtualClock(T0 + timedelta(seconds=150))
    router = make_router(store, fake_http, clock)
    for cycle in range(10, 40):
        router.process(incidents(cycle), source="slo")
        router.flush()
        clock.advance(15)
    assert len(pd_events(fake_http, "trigger")) == 20 and len(slack_posts(fake_http)) == 20
    router.process([], source="slo")
    clock.advance(300)
    router.flush()
    assert len(pd_events(fake_http, "resolve")) == 20
    assert {r.body["ts"] for r in fake_http.ok("/api/chat.update")} == posted_ts
    store.close()
