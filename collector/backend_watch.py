"""Which backend a wrapper runs on, and its calibration: looked up at most once a
minute, with a ``backends`` row (and a calibration snapshot) whenever it changes.
The BackendV2 proxy, the SamplerV2/EstimatorV2 instruments and the Braket
instrument all record it the same way."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from collector.calibration import calibration_summary, calibration_timestamp
from collector.providers import adapter_for
from collector.recording import JobRecording

CALIBRATION_REFRESH_S = 60.0


class BackendWatch:
    """The calibration time of ``backend`` (epoch seconds) as of a recent lookup.

    ``on_lookup(cal_s, looked_up_s, due_s)`` hears of every lookup (the proxy's C
    starter keeps a copy and reads it while it is fresh).
    """

    def __init__(
        self,
        backend: Any,
        name: str,
        rec: JobRecording,
        *,
        refresh_s: float = CALIBRATION_REFRESH_S,
        on_lookup: Callable[[float | None, float, float], None] | None = None,
    ) -> None:
        self.backend = backend
        self.name = name
        self._rec = rec
        self._refresh_s = refresh_s
        self._on_lookup = on_lookup
        self._lock = threading.Lock()
        # The calibration time as looked up at _checked_s, reused until _due_s.
        self._checked_s = math.inf
        self._due_s = -math.inf
        self._cal_s: float | None = None
        self._recorded = False

    def calibration_s(self, now_s: float) -> float | None:
        if self._checked_s <= now_s < self._due_s:
            return self._cal_s
        with self._lock:
            try:
                cal_at = calibration_timestamp(self.backend) if self.backend is not None else None
            except Exception:  # noqa: BLE001 - metadata only
                cal_at = None
            cal_s = cal_at.timestamp() if cal_at is not None else None
            changed = cal_s != self._cal_s or not self._recorded
            self._cal_s, self._checked_s = cal_s, now_s
            self._due_s = now_s + self._refresh_s
            if self._on_lookup is not None:
                self._on_lookup(cal_s, now_s, self._due_s)
            if changed and self.backend is not None:
                self._recorded = True
                self._rec.safe(self._rec.recorder.backend_seen, self._row(now_s, cal_at))
        return cal_s

    def _row(self, now_s: float, cal_at: datetime | None) -> dict[str, Any]:
        backend = self.backend
        return {
            "name": self.name,
            "seen_at": datetime.fromtimestamp(now_s, UTC).isoformat(),
            "num_qubits": adapter_for(backend).num_qubits(backend),
            "provider": _provider(backend),
            "calibration_at": cal_at.isoformat() if cal_at else None,
            "summary": calibration_summary(backend) if cal_at else {},
        }


def _provider(backend: Any) -> str:
    adapter = adapter_for(backend)
    return adapter.name if adapter.name != "generic" else type(backend).__module__.split(".")[0]
