"""Fingerprints and the forwarder against the real Alertmanager binary on 127.0.0.1."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from slo.alerts import Alert, fingerprint, job_alert, make_alert
from slo.notify.alertmanager import AlertmanagerNotifier
from slo.notify.base import Notification, no_sleep

AM_BIN = "/usr/bin/prometheus-alertmanager"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def alertmanager(tmp_path_factory) -> Iterator[str]:
    if not shutil.which(AM_BIN):
        pytest.skip(
            f"SKIPPED LOUDLY: {AM_BIN} not installed (apt-get install prometheus-alertmanager)"
        )
    tmp = tmp_path_factory.mktemp("am")
    cfg = tmp / "am.yml"
    cfg.write_text("route:\n  receiver: 'null'\nreceivers:\n  - name: 'null'\n")
    port = _free_port()
    proc = subprocess.Popen(
        [
            AM_BIN,
            f"--config.file={cfg}",
            f"--storage.path={tmp}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if httpx.get(f"{url}/-/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        else:
            pytest.fail("alertmanager did not become ready")
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def _am_alerts(url: str) -> list[dict]:
    return httpx.get(f"{url}/api/v2/alerts", timeout=5).json()


def test_known_fingerprint_values() -> None:
    # FNV-1a 64 offset basis for the empty label set, as prometheus/common defines it.
    assert fingerprint({}) == "cbf29ce484222325"
    assert len(fingerprint({"a": "b"})) == 16


def test_fingerprint_matches_real_alertmanager(alertmanager: str) -> None:
    label_sets = [
        {
            "alertname": "QsreAuthFailure",
            "kind": "auth_failure",
            "severity": "page",
            "backend": "ibm_fez",
            "error_class": "auth",
        },
        {
            "alertname": "QsreSLOBurnRatePage",
            "slo": "availability-99.9",
            "severity": "page",
            "kind": "slo_burn_page",
        },
        {"alertname": "Unicode", "backend": "sim-δ ü", "x": ""},
        {"a": "b"},
    ]
    body = [{"labels": ls, "annotations": {"summary": "t"}} for ls in label_sets]
    assert httpx.post(f"{alertmanager}/api/v2/alerts", json=body, timeout=5).status_code == 200
    got = {}
    for a in _am_alerts(alertmanager):
        got[tuple(sorted(a["labels"].items()))] = a["fingerprint"]
    for ls in label_sets:
        # Alertmanager drops empty-valued labels; the fingerprint is over what it keeps.
        kept = {k: v for k, v in ls.items() if v}
        assert (
            got[tuple(sorted(kept.items()))] == fingerprint(kept) == Alert(labels=kept).fingerprint
        )


def test_forwarder_posts_and_resolves(alertmanager: str) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    a = job_alert(
        "quota_breach",
        backend="fwd",
        error_class="quota",
        starts_at=now - timedelta(minutes=1),
        summary="quota",
    )
    am = AlertmanagerNotifier("am", api_url=alertmanager, sleep=no_sleep)
    n = Notification("am", "g", {}, (a,), (), (a,), now)
    am.notify(n, {})
    mine = [x for x in _am_alerts(alertmanager) if x["labels"].get("backend") == "fwd"]
    assert len(mine) == 1 and mine[0]["status"]["state"] == "active"
    assert mine[0]["fingerprint"] == a.fingerprint
    done = a.resolved(now)
    am.notify(Notification("am", "g", {}, (), (done,), (), now), {})
    mine = [x for x in _am_alerts(alertmanager) if x["labels"].get("backend") == "fwd"]
    assert mine == [] or mine[0]["endsAt"].startswith(now.strftime("%Y-%m-%dT%H:%M:%S"))
    assert make_alert("backend_down", labels={"backend": "x"}).fingerprint == fingerprint(
        {"alertname": "QsreBackendDown", "kind": "backend_down", "severity": "page", "backend": "x"}
    )
    am.close()
