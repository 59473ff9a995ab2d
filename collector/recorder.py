"""The recording interface the proxy depends on, and its spool-backed implementation.

Like OpenTelemetry's API/SDK split: the proxy calls a ``Recorder``; the spool (and,
behind it, the store and spans) implements it. Every call here is on the user's
hot path, so events are tiny pre-templated JSON lines and the expensive work
(circuit hash, depth, decoding counts, the database) happens on the shipper thread.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from collector.clock import Clock, SystemClock
from collector.finisher import PyFinisher
from collector.health import recorder_errors
from collector.shipper import Shipper, SpanSink
from collector.spool import PyAppender, SpoolReader, SpoolWriter, _fastspool, default_spool_dir
from collector.spool_format import dumps, format_done, format_submit, hex_counts, run_seconds
from collector.store import Store

log = logging.getLogger(__name__)
_SUBMIT_KEYS = {"shots", "num_circuits", "idempotency_key", "calibration_at"}


class Recorder(Protocol):
    """What the execution proxy needs from a recorder. Implementations never raise.

    A recorder may also offer two shortcuts, used when present:
    ``starter(static_bytes, clock, record_counts)`` returns an object (or None)
    whose ``begin(shots, num_circuits, idempotency_key, circuits)`` makes a new
    job's id, time, ``submitted`` event and ticket in one call, or declines
    (``_fastspool.JobStarter``); ``finisher(job_id, submitted_s, shots,
    record_counts, clock, circuits)`` makes the ticket of a job submitted the
    ordinary way (``collector.finisher``). With a ticket, jobs that complete a
    future are recorded by its completion callback. ``SpoolRecorder`` offers both.
    """

    proc_id: str

    def static_fragment(self, fields: dict[str, Any]) -> str: ...

    def submitted(
        self, job_id: str, static: str, submitted_s: float, fields: dict[str, Any]
    ) -> None: ...

    def event(self, fields: dict[str, Any]) -> None: ...

    def done(
        self,
        job_id: str,
        finished_ns: int,
        run_seconds: float | None,
        attempts: int,
        cost_usd: float,
        provider_job_id: str,
        widths: list[int],
        counts: list[dict[str, int]] | None,
    ) -> None: ...

    def circuit_info(self, job_id: str, circuits: Any) -> None: ...

    def backend_seen(self, fields: dict[str, Any]) -> None: ...


class SpoolRecorder:
    """Appends lifecycle events to this process's spool; a shipper thread moves them
    into the store."""

    def __init__(
        self,
        store: Store,
        directory: Path | None = None,
        *,
        interval_s: float = 0.2,
        max_delay_s: float = 1.0,
        span_sink: SpanSink | None = None,
        max_pending_bytes: int | None = None,
        native: bool = True,
    ) -> None:
        """``max_delay_s``: the longest an event waits in the spool before the shipper
        moves it (it ships earlier once a batch is worth its fixed cost).
        ``native=False``: Python formats and appends every event, even where the C
        hot path was built (tests compare the two)."""
        self.store = store
        self.directory = Path(directory) if directory else default_spool_dir(store.url)
        kwargs = {} if max_pending_bytes is None else {"max_pending_bytes": max_pending_bytes}
        self.writer = SpoolWriter(self.directory, native=native, **kwargs)
        self.proc_id = self.writer.proc_id
        self.shipper = Shipper(
            store,
            SpoolReader(self.directory, self.proc_id),
            writer=self.writer,
            interval_s=interval_s,
            max_delay_s=max_delay_s,
            span_sink=span_sink,
        )
        self.shipper.start()
        self._closed = False

    def _append(self, line: bytes) -> None:
        try:
            if not self.writer.append(line):
                recorder_errors.inc("spool_full")
        except Exception:  # noqa: BLE001 - telemetry never breaks the user's call
            recorder_errors.inc("spool")
            log.warning("qsre could not write to spool %s", self.directory, exc_info=True)

    def static_fragment(self, fields: dict[str, Any]) -> str:
        """JSON members that are the same for every job of one proxy, encoded once."""
        return dumps({**fields, "recorder": self.proc_id})[1:-1]

    def submitted(
        self, job_id: str, static: str, submitted_s: float, fields: dict[str, Any]
    ) -> None:
        if fields.keys() == _SUBMIT_KEYS:
            line = format_submit(
                job_id,
                static,
                submitted_s,
                fields["shots"],
                fields["num_circuits"],
                fields["idempotency_key"],
                fields["calibration_at"],
            )
        else:
            line = (
                f'{{"e":"s","id":"{job_id}","status":"queued",'
                f'"submitted_at":{submitted_s!r},{static},{dumps(fields)[1:-1]}}}\n'
            ).encode()
        self._append(line)

    def event(self, fields: dict[str, Any]) -> None:
        self._append(dumps(fields).encode() + b"\n")

    def done(
        self,
        job_id: str,
        finished_ns: int,
        run_seconds: float | None,
        attempts: int,
        cost_usd: float,
        provider_job_id: str,
        widths: list[int],
        counts: list[dict[str, int]] | None,
    ) -> None:
        self._append(
            format_done(
                job_id,
                finished_ns,
                run_seconds,
                attempts,
                cost_usd,
                provider_job_id,
                widths,
                counts,
            )
        )

    def starter(self, static: bytes, clock: Callable[[], float], record_counts: bool) -> Any:
        """The C ``JobStarter`` for one wrapper's jobs (id, time, submitted event and
        ticket in one call), or None without the extension."""
        appender = self.writer.appender
        if isinstance(appender, PyAppender):
            return None
        return _fastspool.JobStarter(
            appender, static, clock, record_counts, self.shipper.circuit_sink
        )

    def finisher(
        self,
        job_id: str,
        submitted_s: float,
        shots: int,
        record_counts: bool,
        clock: Callable[[], float],
        circuits: Any,
    ) -> Any:
        """A job's ticket and completion callback (``collector.finisher``), for a job
        whose submitted event was written by ``submitted``; it hands ``circuits``
        to the shipper once."""
        appender = self.writer.appender
        sink = self.shipper.circuit_sink
        if isinstance(appender, PyAppender):
            return PyFinisher(
                self.done_plain, job_id, submitted_s, shots, record_counts, clock, sink, circuits
            )
        return _fastspool.Finisher(
            appender, job_id, submitted_s, shots, record_counts, clock, sink, circuits
        )

    def done_plain(
        self,
        job_id: str,
        finished_ns: int,
        result: Any,
        shots: int,
        attempts: int,
        cost_usd: float,
        provider_job_id: str,
        record_counts: bool,
    ) -> int:
        """``_fastspool.Appender.done`` in Python: the compact finish record of a
        plain successful result (1), or 0 (not plain: the caller's general path)."""
        if getattr(result, "success", True) is False:
            return 0
        plain = hex_counts(result, shots)
        if plain is None:
            return 0
        widths, counts = plain
        self.done(
            job_id,
            finished_ns,
            run_seconds(result),
            attempts,
            cost_usd,
            provider_job_id,
            widths,
            counts if record_counts else None,
        )
        return 1

    def circuit_info(self, job_id: str, circuits: Any) -> None:
        self.shipper.submit_circuit_info(job_id, circuits)

    def backend_seen(self, fields: dict[str, Any]) -> None:
        self._append(dumps({"e": "b", **fields}).encode() + b"\n")

    def flush(self, timeout_s: float = 30.0) -> bool:
        """Ship everything spooled so far (tests, CLI, shutdown)."""
        return self.shipper.flush(timeout_s)

    def close(self, clock: Clock | None = None, timeout_s: float = 10.0) -> None:
        """Clean shutdown: jobs still in flight become ``unknown``; the spool files are
        removed only if everything reached the store (else ``qsre run`` adopts them)."""
        if self._closed:
            return
        self._closed = True
        now = (clock or SystemClock()).now()
        for job_id in self.shipper.in_flight_ids():
            self.event(
                {
                    "id": job_id,
                    "status": "unknown",
                    "finished_at": now.timestamp(),
                    "error_message": "the process exited before the job's result was collected",
                }
            )
        drained = self.shipper.stop(timeout_s)
        self.writer.close(remove=drained)
        if not drained:
            log.warning(
                "qsre: %d bytes of events could not reach the store; they stay in %s "
                "until `qsre run` adopts them",
                self.writer.pending_bytes,
                self.directory,
            )


_registry: dict[tuple[str, str], SpoolRecorder] = {}
_registry_lock = threading.Lock()
_default_span_sink: SpanSink | None = None


def set_default_span_sink(sink: SpanSink | None) -> None:
    """Emit a span per finished job from every recorder of this process (existing
    and future). Spans are built on the shipper thread, off the user's call."""
    global _default_span_sink
    with _registry_lock:
        _default_span_sink = sink
        for rec in _registry.values():
            rec.shipper.span_sink = sink


def spool_recorder(store: Store, directory: Path | None = None) -> SpoolRecorder:
    """The process-wide recorder for a store (one spool and one shipper per store)."""
    directory = Path(directory) if directory else default_spool_dir(store.url)
    key = (store.url, str(directory.resolve()))
    with _registry_lock:
        rec = _registry.get(key)
        if rec is None or rec._closed:
            rec = SpoolRecorder(store, directory, span_sink=_default_span_sink)
            _registry[key] = rec
        return rec


@atexit.register
def close_all() -> None:
    with _registry_lock:
        recs = list(_registry.values())
        _registry.clear()
    for rec in recs:
        try:
            rec.close()
        except Exception:  # noqa: BLE001
            log.warning("qsre recorder shutdown failed", exc_info=True)


def _after_fork_in_child() -> None:
    # The child inherited the parent's spool descriptors (and the flock on the
    # shared open file description). Close them without unlocking, so the parent's
    # lock stays the parent's; the child starts its own spool on first use.
    for rec in list(_registry.values()):
        rec.writer.abandon_after_fork()
        rec._closed = True
    _registry.clear()


os.register_at_fork(after_in_child=_after_fork_in_child)
