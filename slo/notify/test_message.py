"""The test notification behind ``qsre alerts test RECEIVER``: a real firing message,
then its resolution, through the receiver's own notifier (so the same URL, secret and
client as real alerts), returning what the receiver answered at each step."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from slo.alerts import Alert
from slo.notify.base import Notification, Notifier

TEST_ALERTNAME = "QsreTestNotification"


def send_test_notification(notifier: Notifier, now: datetime) -> list[tuple[str, str]]:
    """[(step, answer)] for "firing" and "resolved"; raises NotifyError on failure."""
    alert = Alert(
        labels={"alertname": TEST_ALERTNAME, "severity": "info", "receiver": notifier.name},
        annotations={
            "summary": f"qsre test notification for receiver {notifier.name}",
            "description": "Sent by `qsre alerts test`; it resolves itself at once.",
        },
        starts_at=now,
    )
    incident = f"test-{uuid.uuid4().hex[:8]}"
    memo: dict[str, Any] = {}
    answers = []
    for step, firing, resolved in (
        ("firing", (alert,), ()),
        ("resolved", (), (alert.resolved(now),)),
    ):
        notification = Notification(
            receiver=notifier.name,
            group_key=f"test:{{receiver={notifier.name!r}}}",
            group_labels={"alertname": TEST_ALERTNAME},
            firing=firing,
            resolved=resolved,
            new_firing=firing,
            now=now,
            incident_id=incident,
        )
        notifier.notify(notification, memo)
        answers.append((step, str(getattr(notifier, "last_answer", "") or "")))
    return answers
