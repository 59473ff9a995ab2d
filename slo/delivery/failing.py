"""``QsreNotificationsFailing``: raised while a receiver's last attempt failed.

One alert per failing receiver (label ``receiver``: a configured name, so the label
set stays bounded), carrying the receiver's answer (already redacted). The router
routes it only to ``alerting.fallback_receivers``, never to the receiver that fails,
and sends it in the same flush that saw the failure.
"""

from __future__ import annotations

from collections.abc import Iterable

from runbooks.catalog import runbook_url
from slo.alert_state import ReceiverState
from slo.alerts import Alert, make_alert

KIND = "notifications_failing"
SOURCE = "qsre-delivery"
ANSWER_MAX_CHARS = 500


def failing_alerts(
    states: Iterable[ReceiverState], exclude: Iterable[str] = (), *, runbook_base_url: str = ""
) -> list[Alert]:
    """One alert per receiver (not in ``exclude``) whose last attempt failed; its runbook
    link is built on ``runbook_base_url`` (empty: the installed runbook file)."""
    skip = set(exclude)
    errors: dict[str, str] = {}
    for st in states:
        if st.last_error and st.receiver not in skip:
            errors.setdefault(st.receiver, st.last_error)
    return [
        make_alert(
            KIND,
            labels={"receiver": receiver},
            summary=f"Notifications to receiver {receiver} are failing",
            runbook_url=runbook_url(KIND, runbook_base_url),
            annotations={
                "description": (
                    f"The last notification to {receiver} failed; receiver answered: "
                    f"{error[:ANSWER_MAX_CHARS]}"
                ),
            },
        )
        for receiver, error in sorted(errors.items())
    ]
