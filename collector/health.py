"""In-process health counters of the recording path (exported as
``qsre_recorder_errors_total{recorder}``). A failing recorder is counted, never raised."""

from __future__ import annotations

import threading
from collections import Counter


class RecorderErrors:
    """Thread-safe counter of recorder failures by recorder name."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def inc(self, recorder: str, amount: int = 1) -> None:
        with self._lock:
            self._counts[recorder] += amount

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)


recorder_errors = RecorderErrors()
