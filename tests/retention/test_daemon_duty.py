"""`qsre run` enforces store.retention by itself: its leased duty prunes old rows."""

from __future__ import annotations

import time
from datetime import timedelta

from collector.clock import SystemClock
from collector.store import Store
from qsre.config import parse_config
from qsre.daemon import Daemon

from .kit import JOBS, RESULTS, count, fill


def test_the_daemon_prunes_rows_older_than_the_retention(sqlite_url, tmp_path) -> None:
    now = SystemClock().now()
    store = Store(sqlite_url)
    fill(store, 10, 30, start=now - timedelta(days=75))  # all older than 65 days
    fill(store, 2, 30, start=now - timedelta(days=2))  # kept
    assert count(store, JOBS) == 12 * 30
    config = parse_config(
        {
            "store": {
                "url": sqlite_url,
                "spool_dir": str(tmp_path / "spool"),
                "retention": {"jobs": "60d", "job_results": "50d", "interval_s": 0.5},
            },
            "exporter": {"port": 0},
        },
        str(tmp_path / "qsre.yaml"),
    )
    daemon = Daemon(config, schedules=False)
    daemon.start()
    try:
        deadline = time.monotonic() + 20
        while count(store, JOBS) > 2 * 30 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert count(store, JOBS) == 2 * 30
        assert count(store, RESULTS) == 2 * 30 * 2
        assert daemon.retention.duty.current() is not None  # held under the lease
    finally:
        daemon.stop()
    assert daemon.retention.duty.current() is None  # released on stop
    store.close()
