"""The daemon's own families on /metrics: absent before the first cycle, then the
cycle's clock time; bounded labels; `promtool check metrics` clean."""

from __future__ import annotations

import io
import shutil
import subprocess

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from collector.clock import VirtualClock
from collector.lease import Leases
from qsre.config import EMBEDDED_DEFAULT, load_config
from qsre.cycle import EvaluationCycle
from qsre.daemon import metrics_exporter
from qsre.duty import ROUTER_LEASE, LeaseDuty
from qsre.wiring import build_router


def _samples(exporter):
    text = generate_latest(exporter.registry).decode()
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return text, out


def test_daemon_families_and_promtool(sqlite_url, t0):
    from collector.store import Store

    store = Store(sqlite_url)
    clock = VirtualClock(t0)
    config = load_config(EMBEDDED_DEFAULT)
    router = build_router(config, store, clock, console_stream=io.StringIO())
    cycle = EvaluationCycle(config, store, router, clock)
    duty = LeaseDuty(Leases(store), ROUTER_LEASE, "host:42:abc123", clock, ttl_s=30)
    exporter = metrics_exporter(
        store, clock, cycle, replica="host:42:abc123", leases={ROUTER_LEASE: duty}
    )
    _, before = _samples(exporter)
    assert not any(name == "qsre_last_evaluation_timestamp_seconds" for name, _ in before)
    assert before[("qsre_lease_held", (("lease", ROUTER_LEASE),))] == 0
    duty.renew()
    clock.advance(90)
    cycle.tick()
    text, after = _samples(exporter)
    assert after[("qsre_last_evaluation_timestamp_seconds", ())] == clock.now().timestamp()
    assert after[("qsre_daemon_info", (("replica", "host:42:abc123"),))] == 1
    assert after[("qsre_lease_held", (("lease", ROUTER_LEASE),))] == 0  # expired at +30 s
    duty.renew()
    assert _samples(exporter)[1][("qsre_lease_held", (("lease", ROUTER_LEASE),))] == 1
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("SKIPPED LOUDLY: promtool not installed (apt-get install prometheus)")
    proc = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0 and not (proc.stdout + proc.stderr).strip(), (
        proc.stdout + proc.stderr
    )
    store.close()
