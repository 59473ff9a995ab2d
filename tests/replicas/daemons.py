"""Real `qsre run` replicas for the replica tests: config, start, find the leader.

Each replica is `python -m qsre.cli run` with its own config file (same store, its own
webhook path on the recording server, so every request says which replica sent it)
and its stderr (the JSON log) in a file.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import yaml
from sqlalchemy import create_engine, text

from qsre.config import EMBEDDED_DEFAULT

REPO = Path(__file__).resolve().parents[2]
SLACK_TOKEN_ENV = "QSRE_TEST_SLACK_TOKEN"
PD_KEY_ENV = "QSRE_TEST_PD_ROUTING_KEY"


def replica_config(
    tmp: Path,
    name: str,
    store_url: str,
    fake_url: str,
    *,
    lease_ttl_s: float,
    interval_s: float = 1.0,
    auth_window_s: float = 15.0,
    watchdog: dict[str, Any] | None = None,
    slack_and_pagerduty: bool = False,
) -> Path:
    """A config whose only routed alert is auth_failure (one per backend, firing for
    ``auth_window_s`` after the job) to this replica's webhook path (and, optionally,
    to the real Slack and PagerDuty clients pointed at the recording server, shared by
    the replicas; tokens from SLACK_TOKEN_ENV / PD_KEY_ENV)."""
    cfg = yaml.safe_load(EMBEDDED_DEFAULT.read_text())
    cfg["store"] = {"url": store_url, "spool_dir": str(tmp / f"spool-{name}")}
    cfg["exporter"] = {"host": "127.0.0.1", "port": 0}
    cfg["backends"] = []
    cfg["slos"] = []
    cfg["reports"] = {"weekly": {"enabled": False}}
    receivers: list[dict[str, Any]] = [
        {"name": "hook", "type": "webhook", "url": f"{fake_url}/hook/{name}"},
        {"name": "console", "type": "console", "log_path": str(tmp / f"alerts-{name}.log")},
    ]
    routed = ["hook"]
    if slack_and_pagerduty:
        receivers += [
            {
                "name": "slack",
                "type": "slack",
                "channel": "#oncall",
                "token_env": SLACK_TOKEN_ENV,
                "api_url": f"{fake_url}/slack/api/",
            },
            {
                "name": "pd",
                "type": "pagerduty",
                "routing_key_env": PD_KEY_ENV,
                "events_url": f"{fake_url}/pd",
            },
        ]
        routed += ["slack", "pd"]
    if watchdog and watchdog.get("alertmanager"):
        receivers.append({"name": "am", "type": "alertmanager", "api_url": f"{fake_url}/am"})
    cfg["alerting"] = {
        "evaluation_interval_s": interval_s,
        "lease_ttl_s": lease_ttl_s,
        "routing": {
            "group_by": ["alertname", "backend"],
            "group_wait_s": 0.1,
            "group_interval_s": 1,
            "repeat_interval_s": 3600,
            "inhibit_rules": [],
            "default_receiver": "console",
            "routes": [{"match": {"kind": "auth_failure"}, "receivers": routed}],
        },
        "receivers": receivers,
        "signals": {"auth_failure": {"window_s": auth_window_s}},
        **({"watchdog": watchdog} if watchdog else {}),
    }
    path = tmp / f"qsre-{name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


@dataclass
class Replica:
    name: str
    proc: subprocess.Popen[bytes]
    log_path: Path

    def records(self) -> list[dict[str, Any]]:
        out = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a traceback line of a crash, or a partial last line
        return out

    def port(self, timeout_s: float = 60) -> int:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for rec in self.records():
                m = re.search(r"serving /metrics on [\d.]+:(\d+)", rec.get("msg", ""))
                if m:
                    return int(m.group(1))
            assert self.proc.poll() is None, self.log_path.read_text()[-3000:]
            time.sleep(0.1)
        raise AssertionError(f"{self.name} did not start: {self.log_path.read_text()[-3000:]}")

    def replica_id(self) -> str:
        ids = {r.get("replica") for r in self.records()} - {"", None}
        assert len(ids) == 1, ids
        return ids.pop()

    def metrics(self) -> str:
        return httpx.get(f"http://127.0.0.1:{self.port()}/metrics", timeout=10).text

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        return self.proc.returncode


def start_replica(tmp: Path, name: str, config: Path) -> Replica:
    log_path = tmp / f"replica-{name}.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "qsre.cli", "run", "-c", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=log_path.open("wb"),
        env={
            **os.environ,
            "PYTHONPATH": str(REPO),
            "QSRE_LOG_LEVEL": "INFO",
            SLACK_TOKEN_ENV: "xoxb-test-token",
            PD_KEY_ENV: "pd-routing-key-0123456789abcdef",
        },
        cwd=tmp,
    )
    return Replica(name, proc, log_path)


def router_lease(store_url: str) -> tuple[str, int, datetime] | None:
    """(holder, epoch, expires_at) of the router lease row, read with its own engine."""
    engine = create_engine(store_url)
    try:
        with engine.connect() as conn:
            row = conn.execute(
                text(
                    "SELECT holder, epoch, expires_at FROM qsre_leases"
                    " WHERE name = 'qsre-alert-router'"
                )
            ).first()
    finally:
        engine.dispose()
    if row is None:
        return None
    expires = row.expires_at
    expires = expires.replace(tzinfo=UTC) if expires.tzinfo is None else expires
    return str(row.holder), int(row.epoch), expires


def wait_for(predicate: Any, timeout_s: float, what: str, poll_s: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll_s)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def auth_failures(store: Any, backends: list[str]) -> None:
    """One job failed with error_class auth per backend, finished now: one
    auth_failure incident per backend."""
    now = datetime.now(UTC)
    store.upsert_jobs(
        {
            "id": str(uuid.uuid4()),
            "backend": b,
            "project": "p",
            "submitted_at": now,
            "finished_at": now,
            "status": "error",
            "error_class": "auth",
        }
        for b in backends
    )
