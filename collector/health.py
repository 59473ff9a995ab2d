"""In-process health counters of the recording path (exported as
``qsre_recorder_errors_total{recorder}``). A failing recorder is counted, never raised."""

from __future__ import annotations

import threading
from collections import Counter

# Every recorder name the collector counts under. Exported with zeros from the start,
# so "no errors" is a 0, not a missing series.
KNOWN_RECORDERS = (
    "proxy",
    "spool",
    "spool_full",
    "spool_decode",
    "shipper",
    "store",
    "circuit_info",
    "provider_metrics",
    "sampler",
    "spans",
    "exporter",
    "exporter_source",
)


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

    def snapshot_with_known(self) -> dict[str, int]:
        """Counts including a 0 for every known recorder."""
        out = dict.fromkeys(KNOWN_RECORDERS, 0)
        out.update(self.snapshot())
        return out


recorder_errors = RecorderErrors()
