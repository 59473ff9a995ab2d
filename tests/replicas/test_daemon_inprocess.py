"""Two Daemon objects on one store, driven by hand: the singleton duties (routing,
the weekly report) follow the router lease, and release hands it over at once."""

from __future__ import annotations

import yaml

from qsre.config import EMBEDDED_DEFAULT, parse_config
from qsre.daemon import Daemon


def _daemon(store_url, tmp_path, name):
    cfg = yaml.safe_load(EMBEDDED_DEFAULT.read_text())
    cfg["store"] = {"url": store_url, "spool_dir": str(tmp_path / f"spool-{name}")}
    cfg["backends"] = []
    cfg["alerting"]["receivers"] = [
        {"name": "console", "type": "console", "log_path": str(tmp_path / f"{name}.log")}
    ]
    return Daemon(parse_config(cfg, f"{name}.yaml"), port=0, schedules=False)


def test_weekly_report_and_routing_follow_the_router_lease(sqlite_url, tmp_path, monkeypatch):
    import slo.report

    built: list[str] = []
    monkeypatch.setattr(
        slo.report, "build_weekly_report", lambda *a, **k: built.append("x") or None
    )
    a, b = _daemon(sqlite_url, tmp_path, "a"), _daemon(sqlite_url, tmp_path, "b")
    try:
        a.renew_router_lease()
        b.renew_router_lease()
        assert a.router_duty.current() is not None and b.router_duty.current() is None
        b.weekly_report()
        assert built == []  # not the holder: skipped
        a.weekly_report()  # the holder builds it (the stub returns no paths: logged)
        assert built == ["x"]
        a.evaluate()
        b.evaluate()
        assert a._routing_epoch == a.router_duty.current().epoch
        assert b._routing_epoch is None
        # A clean stop of the holder releases the lease: b takes it at its next renewal.
        a.router_duty.release()
        b.renew_router_lease()
        lease = b.router_duty.current()
        assert lease is not None and lease.epoch == 2
        b.evaluate()
        assert b._routing_epoch == 2
        a.evaluate()
        assert a._routing_epoch is None
    finally:
        a.store.close()
        b.store.close()
