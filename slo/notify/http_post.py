"""POST JSON over httpx with the retry policy every HTTP receiver shares.

Retries 429 (honouring Retry-After), 5xx and network errors with exponential back-off;
never retries other 4xx: the far end rejected the request and would reject it again.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from slo.delivery.hooks import backoff_sleep, before_call
from slo.notify.base import NotifyError, Sleep, redact

log = logging.getLogger(__name__)


def post_json(
    client: httpx.Client,
    url: str,
    payload: Any,
    *,
    receiver: str,
    secrets: Sequence[str] = (),
    headers: Mapping[str, str] | None = None,
    max_attempts: int = 4,
    backoff_s: float = 0.5,
    max_backoff_s: float = 30.0,
    sleep: Sleep,
) -> httpx.Response:
    """The 2xx response, or NotifyError (``retryable`` False for a 4xx other than 429)."""
    last = ""
    for attempt in range(1, max_attempts + 1):
        wait_s = min(max_backoff_s, backoff_s * 2 ** (attempt - 1))
        before_call()  # the leadership fence, before every attempt
        try:
            resp = client.post(url, json=payload, headers=dict(headers or {}))
        except httpx.HTTPError as exc:
            last = f"{type(exc).__name__}: {exc}"
        else:
            if resp.is_success:
                return resp
            body = resp.text[:300]
            last = f"HTTP {resp.status_code} from {url}: {body}"
            if resp.status_code == 429:
                retry_after = resp.headers.get("Retry-After", "")
                if retry_after.isdigit():
                    wait_s = min(max_backoff_s, float(retry_after))
            elif resp.status_code < 500:
                msg = redact(last, secrets)
                log.error("receiver %s: request rejected, not retrying: %s", receiver, msg)
                raise NotifyError(receiver, msg, retryable=False)
        if attempt < max_attempts:
            log.warning(
                "receiver %s: attempt %d/%d failed (%s); retrying in %.1fs",
                receiver,
                attempt,
                max_attempts,
                redact(last, secrets),
                wait_s,
            )
            backoff_sleep(sleep, wait_s)
    raise NotifyError(receiver, f"gave up after {max_attempts} attempts: {redact(last, secrets)}")
