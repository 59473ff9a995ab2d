"""Small ones from issue 12: group_wait_s: 0 is honoured (not replaced by 30 s), and
windows print as people say them."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest

from collector.clock import VirtualClock
from slo.alerts import make_alert
from slo.notify.console import ConsoleNotifier
from slo.routing import Router, RoutingConfig
from slo.signals import window_text


def test_group_wait_zero_sends_in_the_first_flush() -> None:
    cfg = RoutingConfig.from_mapping({"group_wait_s": 0, "group_interval_s": 0})
    assert cfg.group_wait_s == 0.0 and cfg.group_interval_s == 0.0
    assert RoutingConfig.from_mapping({}).group_wait_s == 30.0
    t0 = datetime(2026, 12, 1, tzinfo=UTC)
    console = ConsoleNotifier("console", stream=io.StringIO())
    router = Router(cfg, [console], clock=VirtualClock(t0))
    router.process([make_alert("backend_down", labels={"backend": "ibm_x"})], t0)
    assert [n.status for n in router.flush(t0).sent] == ["firing"]
    router.process([], t0 + timedelta(seconds=1))
    assert [n.status for n in router.flush(t0 + timedelta(seconds=1)).sent] == ["resolved"]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (20, "20 s"),
        (60, "1 min"),
        (90, "1 min 30 s"),
        (900, "15 min"),
        (7200, "2 h"),
        (9000, "2 h 30 min"),
        (86400, "24 h"),
    ],
)
def test_window_text(seconds: float, text: str) -> None:
    assert window_text(seconds) == text
