"""Console/log receiver: one line per notification (the demo's receiver)."""

from __future__ import annotations

import logging
import sys
from collections import deque
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any, TextIO

from slo.notify.base import Notification

log = logging.getLogger(__name__)


def format_line(notification: Notification) -> str:
    lead = (notification.firing or notification.resolved)[0]
    runbook = lead.annotations.get("runbook_url", "")
    kind = "repeat" if notification.is_repeat else notification.status
    return (
        f"{notification.now:%Y-%m-%dT%H:%M:%SZ} {notification.receiver} {kind.upper()} "
        f"{notification.title} firing={len(notification.firing)} "
        f"resolved={len(notification.resolved)} group={notification.group_key}"
        + (f" runbook={runbook}" if runbook else "")
    )


class ConsoleNotifier:
    def __init__(
        self, name: str = "console", *, stream: TextIO | None = None, log_path: Path | None = None
    ) -> None:
        self.name = name
        self.resend_interval_s: float | None = None
        self._stream = stream
        self._log_path = Path(log_path) if log_path else None
        self.lines: deque[str] = deque(maxlen=1000)  # recent lines, for the demo and tests

    def secrets(self) -> tuple[str, ...]:
        return ()

    def notify(self, notification: Notification, memo: MutableMapping[str, Any]) -> None:
        line = format_line(notification)
        self.lines.append(line)
        print(line, file=self._stream or sys.stdout, flush=True)
        log.info("%s", line)
        if self._log_path is not None:
            self._log_path.parent.mkdir(parents=True, exist_ok=True)
            with self._log_path.open("a", encoding="utf-8") as fh:
                fh.write(line + "\n")
