"""Push dashboards to Grafana's HTTP API (POST /api/dashboards/db).

Retries 429 and 5xx with exponential back-off (honouring Retry-After); a 4xx is the
caller's problem (bad token, bad folder, invalid JSON) and fails at once with the
dashboard named. The API token is only ever placed in the Authorization header: it is
never logged and never part of an error message.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from dashboards.errors import DashboardSpecError, PushError

log = logging.getLogger(__name__)

_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class PushResult:
    """What Grafana answered for one dashboard."""

    name: str
    uid: str
    status: str
    url: str
    version: int | None


def _retry_after_s(response: httpx.Response, fallback_s: float) -> float:
    value = response.headers.get("Retry-After", "")
    try:
        return min(float(value), 60.0)
    except ValueError:
        return fallback_s


def push_dashboards(
    dashboards: Mapping[str, Mapping[str, Any]],
    grafana_url: str,
    token: str,
    folder_uid: str | None = None,
    overwrite: bool = True,
    *,
    max_attempts: int = 4,
    backoff_s: float = 0.5,
    timeout_s: float = 10.0,
    sleep: Callable[[float], None] = time.sleep,
    transport: httpx.BaseTransport | None = None,
) -> list[PushResult]:
    """POST each dashboard (name -> JSON, as from build_dashboards) to Grafana.

    `token` is a Grafana service-account token (the CLI reads it from the env var the
    user names). Raises PushError naming the dashboard on a 4xx, or after
    `max_attempts` on 429/5xx/network errors. `sleep` is injectable for tests.
    """
    if not grafana_url.startswith(("http://", "https://")):
        raise DashboardSpecError("grafana_url", grafana_url, "an http:// or https:// URL")
    if not token:
        raise DashboardSpecError("token", "<empty>", "a non-empty Grafana API token")
    if max_attempts < 1:
        raise DashboardSpecError("max_attempts", max_attempts, "at least 1")
    endpoint = grafana_url.rstrip("/") + "/api/dashboards/db"
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    results: list[PushResult] = []
    with httpx.Client(headers=headers, timeout=timeout_s, transport=transport) as client:
        for name, dashboard in dashboards.items():
            uid = str(dashboard.get("uid", name))
            body: dict[str, Any] = {
                # Grafana assigns ids; sending one from another instance would clash.
                "dashboard": {**dashboard, "id": None},
                "overwrite": overwrite,
                "message": "pushed by qsre",
            }
            if folder_uid:
                body["folderUid"] = folder_uid
            results.append(
                _push_one(client, endpoint, name, uid, body, max_attempts, backoff_s, sleep)
            )
    return results


def _push_one(
    client: httpx.Client,
    endpoint: str,
    name: str,
    uid: str,
    body: dict[str, Any],
    max_attempts: int,
    backoff_s: float,
    sleep: Callable[[float], None],
) -> PushResult:
    delay_s = backoff_s
    for attempt in range(1, max_attempts + 1):
        try:
            response = client.post(endpoint, json=body)
        except httpx.TransportError as exc:
            if attempt == max_attempts:
                raise PushError(uid, None, f"{type(exc).__name__}: {exc}") from exc
            log.warning("grafana push of %s: %s, retrying", uid, type(exc).__name__)
            sleep(delay_s)
            delay_s *= 2
            continue
        if response.is_success:
            data = response.json() if response.content else {}
            log.info("pushed dashboard %s (%s)", uid, data.get("status", "success"))
            return PushResult(
                name=name,
                uid=str(data.get("uid", uid)),
                status=str(data.get("status", "success")),
                url=str(data.get("url", "")),
                version=data.get("version"),
            )
        if response.status_code in _RETRY_STATUSES and attempt < max_attempts:
            wait_s = _retry_after_s(response, delay_s)
            log.warning(
                "grafana push of %s: HTTP %d, retry %d/%d in %.1fs",
                uid,
                response.status_code,
                attempt,
                max_attempts - 1,
                wait_s,
            )
            sleep(wait_s)
            delay_s *= 2
            continue
        raise PushError(uid, response.status_code, _detail(response, name))
    raise AssertionError("unreachable: the loop returns or raises")


def _detail(response: httpx.Response, name: str) -> str:
    try:
        message = response.json().get("message", "")
    except ValueError:
        message = response.text[:200]
    hint = {401: " (check the token)", 403: " (token lacks dashboard write permission)"}
    return f"{name}: {message or response.reason_phrase}{hint.get(response.status_code, '')}"
