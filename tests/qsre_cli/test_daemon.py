"""`qsre run` end to end: adopts orphaned spools, serves /metrics, stops on SIGTERM."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import yaml

from collector import Store
from collector.spool import SpoolWriter, default_spool_dir
from qsre.config import EMBEDDED_DEFAULT

REPO = Path(__file__).resolve().parents[2]


def test_daemon_adopts_serves_and_stops(tmp_path):
    db = tmp_path / "q.db"
    url = f"sqlite:///{db}"
    store = Store(url)
    # An orphan: a spool whose writer is gone (its lock released), with one finished
    # job and one still in flight.
    writer = SpoolWriter(default_spool_dir(url))
    now = datetime.now(UTC).isoformat()
    base = {
        "backend": "orphan_backend",
        "project": "p",
        "tags": {},
        "purpose": "workload",
        "recorder": writer.proc_id,
        "shots": 5,
        "num_circuits": 1,
    }
    for job_id, final in (("job-done", True), ("job-lost", False)):
        writer.append(
            json.dumps(
                {"e": "s", "id": job_id, "status": "queued", "submitted_at": now, **base}
            ).encode()
            + b"\n"
        )
        if final:
            writer.append(
                json.dumps(
                    {
                        "id": job_id,
                        "status": "done",
                        "finished_at": now,
                        "queue_seconds": 1.5,
                        "run_seconds": 0.5,
                        "e2e_seconds": 2.0,
                    }
                ).encode()
                + b"\n"
            )
    writer.close(remove=False)

    cfg = yaml.safe_load(EMBEDDED_DEFAULT.read_text())
    cfg["store"]["url"] = url
    cfg["exporter"] = {"host": "127.0.0.1", "port": 0}
    cfg["backends"] = []
    cfg["alerting"]["evaluation_interval_s"] = 1
    path = tmp_path / "qsre.yaml"
    path.write_text(yaml.safe_dump(cfg))
    proc = subprocess.Popen(
        [sys.executable, "-m", "qsre.cli", "run", "-c", str(path)],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO), "QSRE_LOG_LEVEL": "INFO"},
    )
    try:
        port = None
        deadline = time.monotonic() + 60
        lines = []
        while port is None and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            lines.append(line)
            m = re.search(r"serving /metrics on [\d.]+:(\d+)", line)
            if m:
                port = int(m.group(1))
        assert port, "".join(lines)
        record = json.loads(lines[-1])
        assert record["level"] == "INFO" and "ts" in record  # structured logs
        body = ""
        for _ in range(50):
            body = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
            if 'backend="orphan_backend"' in body:
                break
            time.sleep(0.2)
        assert re.search(
            r'qsre_jobs_total\{backend="orphan_backend",error_class="",project="p",status="done"\} 1\.0',
            body,
        ), body[:3000]
        assert "qsre_slo_error_budget_remaining_ratio" in body
        # Quiet is a zero, not a missing series.
        assert 'qsre_alerts_firing{kind="auth_failure",severity="page"} 0.0' in body
        assert 'qsre_recorder_errors_total{recorder="store"} 0.0' in body
        assert 'qsre_spool_events{state="orphaned"} 0.0' in body
        # Adoption ships the spool, then closes the dead process's in-flight jobs:
        # /metrics can show the shipped job a moment before the second step.
        lost = store.job("job-lost")
        for _ in range(50):
            if lost is not None and lost.status == "unknown":
                break
            time.sleep(0.1)
            lost = store.job("job-lost")
        assert lost is not None and lost.status == "unknown"
        assert store.job("job-done").status == "done"
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err[-2000:]
    assert '"msg": "stopped"' in err
