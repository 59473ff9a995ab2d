"""One delivery attempt for one (receiver, group): fence, intent, call, outcome.

The order is the contract that makes a crash at any instant recoverable:

1. the fence (a router that lost the routing duty sends nothing);
2. the intent, with the receiver's state (its incident id, and the firing alerts
   counted as open: the far end may act on them before we learn so);
3. the call, with the fence checked again before every request and retry;
4. the outcome, with the receiver's memo (Slack ts, PagerDuty keys) and the log line.

A 4xx other than 429 is a failure like any other: never counted or logged as sent.
After a receiver has shown RESOLVED (everything it was told about is resolved), its
memo and incident are dropped, so a re-fire is a new incident for that receiver
(a new Slack message, a new PagerDuty dedup_key) whatever other receivers still owe.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from slo.alert_state import LogEntry, ReceiverState
from slo.delivery.hooks import Fence, Fenced, attempt_scope, check_fence, crash_point
from slo.delivery.ledger import DeliveryLedger
from slo.notify.base import Notification, Notifier, NotifyError, redact

log = logging.getLogger(__name__)

SENT = "sent"
FAILED = "failed"
OUTCOMES = (SENT, FAILED)


def new_incident_id() -> str:
    return uuid.uuid4().hex[:12]


@dataclass(frozen=True)
class AttemptResult:
    ok: bool
    error: str | None = None
    # False when the far end rejected the request (4xx): retrying at once would fail
    # the same way, so the router waits for the group's next interval.
    retryable: bool = True


class Deliverer:
    """Runs attempts and keeps ``qsre_notifications_total`` counts."""

    def __init__(
        self,
        ledger: DeliveryLedger | None,
        *,
        secrets: tuple[str, ...],
        fence: Fence | None = None,
        new_incident: Callable[[], str] = new_incident_id,
    ) -> None:
        self._ledger = ledger
        self._secrets = secrets
        self._fence = fence
        self._new_incident = new_incident
        self.counts: Counter[tuple[str, str]] = Counter()

    def check_fence(self, receiver: str) -> None:
        check_fence(receiver, self._fence)

    def attempt(
        self,
        notifier: Notifier,
        notification: Notification,
        st: ReceiverState,
        *,
        status: str,
        now: datetime,
    ) -> AttemptResult:
        """Send ``notification`` (built with ``st.incident_id``) and update ``st``."""
        receiver = notifier.name
        self.check_fence(receiver)
        firing_fps = {a.fingerprint for a in notification.firing}
        resolved_fps = {a.fingerprint for a in notification.resolved}
        fps = tuple(sorted(firing_fps | resolved_fps))
        # The far end may act on the firing alerts before we hear back: count them as
        # open now, so a crash still leads to their resolution later.
        st.open_fingerprints |= firing_fps
        attempt_id = None
        if self._ledger is not None:
            attempt_id = self._ledger.intent(st, status=status, fingerprints=fps, now=now)
        crash_point("before_call", receiver, status)
        try:
            with attempt_scope(receiver, status, self._fence):
                notifier.notify(notification, st.memo)
        except Fenced:
            raise  # not the receiver's failure: this router must stop sending
        except NotifyError as exc:
            result = AttemptResult(False, redact(str(exc), self._secrets), exc.retryable)
        except Exception as exc:  # noqa: BLE001 - one receiver never blocks the others
            result = AttemptResult(False, redact(f"{type(exc).__name__}: {exc}", self._secrets))
        else:
            result = AttemptResult(True)
        crash_point("after_call", receiver, status)
        self._apply(st, result, firing_fps, resolved_fps, notification, now)
        entry = LogEntry(now, receiver, st.group_key, status, fps, result.ok, result.error)
        if self._ledger is not None and attempt_id is not None:
            self._ledger.outcome(
                attempt_id, st, ok=result.ok, answer=result.error, log=entry, now=now
            )
        self.counts[(receiver, SENT if result.ok else FAILED)] += 1
        crash_point("after_outcome", receiver, status)
        if not result.ok:
            log.warning("alert receiver %s failed for %s: %s", receiver, st.group_key, result.error)
        return result

    def _apply(
        self,
        st: ReceiverState,
        result: AttemptResult,
        firing_fps: set[str],
        resolved_fps: set[str],
        notification: Notification,
        now: datetime,
    ) -> None:
        if not result.ok:
            st.failures += 1
            # Retried on the next flush when the far end may recover (429, 5xx, network);
            # on the group's next interval when it rejected the request (4xx).
            st.retry_pending = result.retryable
            st.last_error = result.error
            return
        st.last_firing = firing_fps
        st.open_fingerprints = (st.open_fingerprints | firing_fps) - resolved_fps
        st.last_sent_at = now
        st.retry_pending = False
        st.last_error = None
        if not notification.firing and not st.open_fingerprints:
            # This receiver has shown RESOLVED: its incident is over. A re-fire starts a
            # new one (new Slack message, new PagerDuty dedup_key).
            st.memo = {}
            st.incident_id = None

    def ensure_incident(self, st: ReceiverState) -> str:
        # None: no incident yet. "" is a conversation opened before incident ids
        # existed; it keeps its bare-fingerprint keys until it ends.
        if st.incident_id is None:
            st.incident_id = self._new_incident()
        return st.incident_id
