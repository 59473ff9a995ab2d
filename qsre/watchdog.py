"""Dead man's switch: each evaluation cycle, the replica that routes alerts proves it.

Two channels, both optional (``alerting.watchdog``):

- an always-firing ``QsreWatchdog`` alert posted to every Alertmanager receiver
  (``POST /api/v2/alerts`` with ``endsAt`` a few cycles ahead, so Alertmanager
  resolves it by itself once the posts stop); route it to a dead man's switch
  service that pages when it stops arriving;
- a heartbeat URL (healthchecks.io, Cronitor, Opsgenie heartbeats...) requested each
  cycle; the service alerts when the pings stop.

Only the router lease holder beats, after its routing cycle and under its fence. A
ping says "qsre evaluated AND the replica that pages is working": a follower pinging
would keep the switch quiet while the holder is wedged with the lease, the one
failure nobody else catches. Between a holder's death and the takeover (at most
2 x lease TTL) no one pings, so the service's grace period must exceed
``evaluation_interval_s + 2 x lease_ttl_s``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import httpx

log = logging.getLogger(__name__)

WATCHDOG_ALERTNAME = "QsreWatchdog"


class Watchdog:
    """Sends the per-cycle proof of life. Failures are logged, never raised: a broken
    heartbeat endpoint must not break alert routing."""

    def __init__(
        self,
        *,
        alertmanager_urls: Sequence[str] = (),
        heartbeat_url: str | None = None,
        heartbeat_method: str = "GET",
        evaluation_interval_s: float = 60.0,
        timeout_s: float = 5.0,
        replica: str = "",
        client: httpx.Client | None = None,
    ) -> None:
        self.alertmanager_urls = tuple(u.rstrip("/") + "/api/v2/alerts" for u in alertmanager_urls)
        self.heartbeat_url = heartbeat_url
        self.heartbeat_method = heartbeat_method
        self.evaluation_interval_s = evaluation_interval_s
        self.replica = replica
        self._client = client or httpx.Client(timeout=timeout_s)
        self.beats = 0
        self.failures = 0

    @classmethod
    def from_config(
        cls, watchdog: Any, receivers: Sequence[Any], *, evaluation_interval_s: float, replica: str
    ) -> Watchdog | None:
        """From ``alerting.watchdog`` and ``alerting.receivers``; None when disabled."""
        url = watchdog.heartbeat_url
        if watchdog.heartbeat_env:
            url = os.environ.get(watchdog.heartbeat_env) or None
            if url is None:
                log.error(
                    "alerting.watchdog.heartbeat_env: environment variable %s is not set; "
                    "no heartbeat will be sent",
                    watchdog.heartbeat_env,
                )
        ams = (
            [r.api_url for r in receivers if r.type == "alertmanager"]
            if watchdog.alertmanager
            else []
        )
        if not url and not ams:
            return None
        return cls(
            alertmanager_urls=ams,
            heartbeat_url=url,
            heartbeat_method=watchdog.heartbeat_method,
            evaluation_interval_s=evaluation_interval_s,
            timeout_s=watchdog.timeout_s,
            replica=replica,
        )

    def _watchdog_alert(self, now: datetime) -> dict[str, Any]:
        # endsAt three cycles ahead: a missed cycle or two does not resolve it, a dead
        # daemon lets it resolve (which is what the switch downstream keys on).
        ends = now + timedelta(seconds=3 * self.evaluation_interval_s)
        return {
            "labels": {"alertname": WATCHDOG_ALERTNAME, "severity": "none", "kind": "watchdog"},
            "annotations": {
                "summary": "qsre is evaluating and routing alerts (always firing)",
                "description": f"sent each evaluation cycle by the router lease holder {self.replica}",
            },
            "startsAt": now.isoformat(),
            "endsAt": ends.isoformat(),
        }

    def beat(self, now: datetime, fence: Callable[[], bool] | None = None) -> int:
        """Send this cycle's proofs; returns how many were accepted (2xx). Each send
        is preceded by the fence: a replica that lost the lease proves nothing."""
        ok = 0
        targets: list[tuple[str, str, Any]] = [
            ("POST", url, [self._watchdog_alert(now)]) for url in self.alertmanager_urls
        ]
        if self.heartbeat_url:
            targets.append((self.heartbeat_method, self.heartbeat_url, None))
        for method, url, body in targets:
            if fence is not None and not fence():
                break
            try:
                # The replica header tells, at the far end, which process proved life.
                headers = {"X-Qsre-Replica": self.replica} if self.replica else {}
                resp = self._client.request(method, url, json=body, headers=headers)
                if 200 <= resp.status_code < 300:
                    ok += 1
                else:
                    self.failures += 1
                    log.warning("watchdog: %s %s answered %d", method, _safe(url), resp.status_code)
            except httpx.HTTPError as exc:
                self.failures += 1
                log.warning("watchdog: %s %s failed: %s", method, _safe(url), type(exc).__name__)
        self.beats += ok
        return ok

    def close(self) -> None:
        self._client.close()


def _safe(url: str) -> str:
    """The URL without its path: heartbeat paths often embed a secret check id."""
    parts = httpx.URL(url)
    return f"{parts.scheme}://{parts.host}{f':{parts.port}' if parts.port else ''}/..."
