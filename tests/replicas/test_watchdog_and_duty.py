"""The watchdog's sends, its config errors, and LeaseDuty's stand-down and fence."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
import yaml

from collector.clock import VirtualClock
from collector.lease import Leases
from qsre.config import EMBEDDED_DEFAULT, parse_config
from qsre.duty import LeaseDuty
from qsre.errors import ConfigError
from qsre.watchdog import Watchdog
from tests.alerts.fake_http import start_fake_http


@pytest.fixture
def fake():
    server = start_fake_http()
    yield server
    server.close()


def test_beat_posts_watchdog_alert_and_pings_and_the_fence_stops_it(fake, t0):
    wd = Watchdog(
        alertmanager_urls=[f"{fake.url}/am/"],
        heartbeat_url=f"{fake.url}/ping/secret-check-id",
        heartbeat_method="POST",
        evaluation_interval_s=60,
        replica="h:1:abc",
    )
    assert wd.beat(t0) == 2
    (am,) = fake.ok("/am/api/v2/alerts")
    (alert,) = am.body
    assert alert["labels"]["alertname"] == "QsreWatchdog"
    assert alert["endsAt"] == (t0 + timedelta(seconds=180)).isoformat()
    (ping,) = fake.ok("/ping/secret-check-id")
    assert ping.method == "POST" and ping.headers["X-Qsre-Replica"] == "h:1:abc"
    assert wd.beat(t0, fence=lambda: False) == 0
    assert len(fake.requests) == 2
    wd.close()


def test_failed_heartbeat_is_counted_and_logged_without_its_secret_path(fake, t0, caplog):
    fake.fail_next("/ping/secret-check-id", 500)
    wd = Watchdog(heartbeat_url=f"{fake.url}/ping/secret-check-id")
    with caplog.at_level(logging.WARNING):
        assert wd.beat(t0) == 0
    assert wd.failures == 1
    assert "500" in caplog.text and "secret-check-id" not in caplog.text
    wd.close()


def _config(**watchdog):
    cfg = yaml.safe_load(EMBEDDED_DEFAULT.read_text())
    cfg["alerting"]["watchdog"] = watchdog
    return cfg


def test_watchdog_config_errors_name_file_and_field():
    with pytest.raises(ConfigError, match=r"q\.yaml: alerting\.watchdog\.alertmanager"):
        parse_config(_config(alertmanager=True), "q.yaml")
    with pytest.raises(ConfigError, match=r"q\.yaml: alerting\.watchdog: .*not both"):
        parse_config(_config(heartbeat_url="http://x/p", heartbeat_env="X"), "q.yaml")
    with pytest.raises(ConfigError, match=r"alerting\.watchdog\.heartbeat_url: expected an http"):
        parse_config(_config(heartbeat_url="x/p"), "q.yaml")
    with pytest.raises(ConfigError, match=r"alerting.*lease_ttl_s"):
        cfg = _config()
        cfg["alerting"]["lease_ttl_s"] = 0
        parse_config(cfg, "q.yaml")
    config = parse_config(_config(heartbeat_env="QSRE_TEST_HEARTBEAT"), "q.yaml")
    assert config.file.alerting.lease_ttl_s == 30
    assert (
        Watchdog.from_config(
            config.file.alerting.watchdog,
            config.file.alerting.receivers,
            evaluation_interval_s=60,
            replica="r",
        )
        is None
    )  # the variable is unset: nothing to ping (and it is logged)


def test_a_stalled_holder_stands_down_and_its_fence_fails(store, t0):
    clock = VirtualClock(t0)
    leases = Leases(store)
    a = LeaseDuty(leases, "duty", "a", clock, ttl_s=9)
    b = LeaseDuty(leases, "duty", "b", clock, ttl_s=9)
    hold = a.renew()
    assert hold is not None and b.renew() is None
    fence = a.fence_for(hold)
    assert fence()
    clock.advance(3)
    assert a.renew(healthy=False) is None  # stalled: does not renew
    assert fence()  # the old hold is still live until it expires
    clock.advance(6)
    assert not fence()
    took = b.renew()
    assert took is not None and took.epoch == hold.epoch + 1
    assert not fence()
