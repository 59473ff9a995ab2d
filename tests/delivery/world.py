"""One incident, two receivers, on a virtual clock: what the routing process in the
crash tests runs (``python -m tests.delivery.world DB_URL FAKE_URL START``).

The alert fires from T0 to T0 + 10 min; the process steps 15 s at a time from START to
T0 + 15 min, printing ``T <time>`` before each step, so a restarted process resumes at
the step the killed one was in (the store holds the state, as in a real restart).
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from collector.clock import VirtualClock
from collector.store import Store
from slo.alert_state import AlertStateStore
from slo.alerts import Alert, Matcher, make_alert
from slo.notify.base import no_sleep
from slo.notify.console import ConsoleNotifier
from slo.notify.pagerduty import PagerDutyNotifier
from slo.notify.slack import SlackNotifier
from slo.routing import Route, Router, RoutingConfig

T0 = datetime(2026, 12, 1, tzinfo=UTC)
FIRING_S = 600
END_S = 900
STEP_S = 15
CHANNEL = "C123"
CONFIG = RoutingConfig(
    routes=(
        Route(
            receivers=("pagerduty", "slack"),
            matchers=(Matcher("severity", "page"),),
            group_wait_s=0.0,
            group_interval_s=60.0,
        ),
    ),
    default_receivers=("slack",),
)


def incident() -> Alert:
    return make_alert(
        "slo_burn_page",
        labels={"slo": "jobs-availability", "backend": "ibm_x"},
        summary="jobs-availability burning",
        runbook_url="https://runbooks.example/slo_burn_page",
    )


def make_router(store: Store, url: str, *, alert_log: Path | None = None) -> Router:
    notifiers = [
        PagerDutyNotifier(
            "pagerduty", routing_key_env="QSRE_PD_ROUTING_KEY", events_url=url, sleep=no_sleep
        ),
        SlackNotifier(
            "slack",
            channel=CHANNEL,
            token_env="QSRE_SLACK_TOKEN",
            api_url=url,  # without /api/: normalised by the notifier
            sleep=no_sleep,
            seed=3,
        ),
        ConsoleNotifier("console", stream=sys.stderr, log_path=alert_log),
    ]
    return Router(CONFIG, notifiers, state=AlertStateStore(store), clock=VirtualClock(T0))


def run(db_url: str, url: str, start: datetime) -> None:
    store = Store(db_url)
    router = make_router(store, url)
    clock = router.clock
    assert isinstance(clock, VirtualClock)
    clock.set(start)
    while clock.now() <= T0 + timedelta(seconds=END_S):
        now = clock.now()
        print("T", now.isoformat(), flush=True)
        firing = (now - T0).total_seconds() < FIRING_S
        router.process([incident()] if firing else [], now, source="slo")
        router.flush(now)
        clock.advance(STEP_S)
    print("DONE", flush=True)
    store.close()


if __name__ == "__main__":
    run(sys.argv[1], sys.argv[2], datetime.fromisoformat(sys.argv[3]))
