"""Alert receivers: Slack, PagerDuty, generic webhook, Alertmanager, console."""

from slo.notify.base import Notification, Notifier, NotifyError

__all__ = ["Notification", "Notifier", "NotifyError"]
