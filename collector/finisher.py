"""One job's ticket: its id and submission time, and the completion callback that
records its end. ``collector._fastspool.Finisher`` is the C one; ``PyFinisher``
here behaves the same, for installs without the extension and for recorders
that have no C shortcut.

The end of a job is recorded exactly once. For a job that completes a
``concurrent.futures.Future`` the finisher itself is the future's completion
callback and records a plain result as the job completes, on the worker thread;
``ProxyJob.result()`` asks ``claim()`` and records the end itself only when the
callback did not (a failure, a result that is not plain, a callback that never
ran). A claim made while the callback is mid-way answers None: ask again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from collector.health import recorder_errors

PENDING, RECORDING, RECORDED, DECLINED, CLAIMED = range(5)

# SpoolRecorder.done_plain: (job_id, finished_ns, result, shots, attempts,
# cost_usd, provider_job_id, record_counts) -> 1 written, 0 not plain.
DoneWriter = Callable[[str, int, Any, int, int, float, str, bool], int]


class PyFinisher:
    """``_fastspool.Finisher`` in Python (same attributes, same answers)."""

    def __init__(
        self,
        done: DoneWriter | None,
        job_id: str,
        submitted_s: float,
        shots: int,
        record_counts: bool,
        clock: Callable[[], float],
        sink: Callable[[tuple[str, Any]], None] | None = None,
        info: Any = None,
    ) -> None:
        self._done = done
        self.job_id = job_id
        self.submitted_s = submitted_s
        self.shots = shots
        self.attempts = 1
        self._record_counts = record_counts
        self._clock = clock
        self._sink = sink
        self._info = info
        self._state = PENDING
        self._lock = threading.Lock()

    @property
    def recorded(self) -> bool:
        return self._state == RECORDED

    def hand_over(self) -> None:
        """Give the job's circuits to the sink, once, as the pair (job_id, info)."""
        with self._lock:
            sink, info = self._sink, self._info
            self._sink = self._info = None
        if sink is not None:
            sink((self.job_id, info))

    def claim(self) -> bool | None:
        with self._lock:
            if self._state in (PENDING, DECLINED):
                self._state = CLAIMED
                return True
            return None if self._state == RECORDING else False

    def __call__(self, future: Any) -> None:
        with self._lock:
            if self._state != PENDING:
                return
            self._state = RECORDING
        state = DECLINED
        try:
            self.hand_over()
            # The proxy's learning step checked that these are the job's result
            # and that the result's job_id is the provider's id.
            if future._exception is None and self._done is not None:
                result = future._result
                written = self._done(
                    self.job_id,
                    int(self._clock() * 1e9),
                    result,
                    self.shots,
                    self.attempts,
                    0.0,
                    result.job_id,
                    self._record_counts,
                )
                state = RECORDED if written == 1 else DECLINED
        except Exception:  # noqa: BLE001 - declined: result() takes the general path
            recorder_errors.inc("proxy")
        finally:
            with self._lock:
                self._state = state
