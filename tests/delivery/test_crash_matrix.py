"""Crash matrix: SIGKILL the routing process at each step of a notification, for Slack
and for PagerDuty, then restart it on the same PostgreSQL store.

After the restart, the incident has exactly one Slack message (found again through
its metadata when its ts was never saved) that ends RESOLVED, and one PagerDuty
incident: one dedup_key, triggered (twice only when the kill came after PagerDuty
accepted the trigger and before the outcome was saved: the same dedup_key, which
PagerDuty folds) and resolved once.

The kill is deterministic: QSRE_TEST_CRASH_AT (slo.delivery.hooks) makes the child
SIGKILL itself at the named point of the named receiver's firing (or resolving)
notification.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from slo.delivery.hooks import CRASH_ENV

from .world import T0

ROOT = Path(__file__).resolve().parents[2]
MATRIX = [
    (point, receiver, "firing")
    for receiver in ("slack", "pagerduty")
    for point in ("before_call", "backoff", "after_call", "after_outcome")
] + [
    # The resolution is a notification too: killed around it, it is still delivered.
    (point, receiver, "resolved")
    for receiver in ("slack", "pagerduty")
    for point in ("before_call", "after_call")
]


def run_child(db_url: str, url: str, start: str, crash: str | None) -> tuple[int, list[str]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop(CRASH_ENV, None)
    if crash:
        env[CRASH_ENV] = crash
    proc = subprocess.run(
        [sys.executable, "-m", "tests.delivery.world", db_url, url, start],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return proc.returncode, proc.stdout.splitlines()


def slack_posts(fake) -> list:
    return [r for r in fake.ok("/api/chat.postMessage") if "thread_ts" not in r.body]


def pd_ok(fake, action: str) -> list:
    return [r for r in fake.ok("/v2/enqueue") if r.body["event_action"] == action]


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.parametrize(
    ("point", "receiver", "status"), MATRIX, ids=["-".join(case) for case in MATRIX]
)
def test_sigkill_at_each_step_then_restart(pg_url, fake_http, secret_env, point, receiver, status):
    path = "/api/chat.postMessage" if receiver == "slack" else "/v2/enqueue"
    if point == "backoff":
        fake_http.fail_next(path, 500)  # the first call fails: the receiver backs off
    code, lines = run_child(pg_url, fake_http.url, T0.isoformat(), f"{point}:{receiver}:{status}")
    assert code == -signal.SIGKILL, lines  # it died where we asked, not later
    resume_at = [ln.split()[1] for ln in lines if ln.startswith("T ")][-1]
    code, lines = run_child(pg_url, fake_http.url, resume_at, None)
    assert code == 0 and lines[-1] == "DONE"

    posts = slack_posts(fake_http)
    assert len(posts) == 1, [p.body for p in posts]
    ts = posts[0].response["ts"]
    assert posts[0].body["metadata"]["event_type"] == "qsre_incident"
    updates = fake_http.ok("/api/chat.update")
    assert updates and {u.body["ts"] for u in updates} == {ts}
    assert updates[-1].body["text"].startswith("[RESOLVED]")

    triggers, resolves = pd_ok(fake_http, "trigger"), pd_ok(fake_http, "resolve")
    keys = {r.body["dedup_key"] for r in triggers}
    assert len(keys) == 1
    # Killed after PagerDuty accepted an event and before the outcome was saved, the
    # restart sends that event again with the same dedup_key (PagerDuty folds it).
    twice = (point, receiver) == ("after_call", "pagerduty")
    assert len(triggers) == (2 if twice and status == "firing" else 1)
    assert [r.body["dedup_key"] for r in resolves] == list(keys) * (
        2 if twice and status == "resolved" else 1
    )
