"""Moves spooled events into the store: in-process (a background thread) and for
orphaned spools of dead processes (``adopt_orphans``, run by ``qsre run``).

Events of one job are folded into a full snapshot before the upsert; the spool
offset is saved only after the store committed, so a crash in between re-ships a
batch, which the store's idempotent upsert absorbs: exactly-once in effect.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from collector.circuit_info import circuit_info
from collector.clock import Clock, SystemClock
from collector.health import RecorderErrors, recorder_errors
from collector.ids import job_trace_id
from collector.records import merge_snapshots
from collector.schema import TERMINAL_STATUSES
from collector.spool import (
    SpoolReader,
    SpoolWriter,
    adoption_lock,
    orphaned_processes,
    seal_segments,
)
from collector.spool_format import DERIVE_TIMES, decode_line, derive_times
from collector.store import Store

log = logging.getLogger(__name__)

SpanSink = Callable[[dict[str, Any]], None]

# The shipper gives up the GIL every this many events it decodes. Otherwise a
# thread of the user's that wants it (a job's submission or completion) waits up
# to the interpreter's switch interval (5 ms, ten small simulator jobs) while a
# batch of thousands of events is decoded.
YIELD_EVERY = 32


class Shipper:
    """Ships one process's spool into the store. ``start()`` runs it on a thread."""

    def __init__(
        self,
        store: Store,
        reader: SpoolReader,
        *,
        writer: SpoolWriter | None = None,
        interval_s: float = 0.2,
        max_delay_s: float = 1.0,
        batch_bytes: int = 256 * 1024,
        span_sink: SpanSink | None = None,
        errors: RecorderErrors | None = None,
        keep_terminal: int = 20_000,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.reader = reader
        self.writer = writer
        self.interval_s = interval_s
        # A batch costs ~3 ms (SQLite) to ~7 ms (PostgreSQL) before its first row
        # (measured: ~400 us/job in batches of 10, ~100 us/job in batches of 250+), and
        # the shipper's CPU is taken from the user's jobs (a noisy simulator uses every
        # core). So it ships when a batch is worth it or the oldest event waited
        # max_delay_s, not on every tick.
        self.max_delay_s = max_delay_s
        self.batch_bytes = batch_bytes
        self._pending_since: float | None = None
        self._monotonic = monotonic
        self.span_sink = span_sink
        self.errors = errors or recorder_errors
        self._state: dict[str, dict[str, Any]] = {}
        # Recently finished jobs, kept so a late circuit-info update can still merge.
        self._finished: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._keep_terminal = keep_terminal
        self._inbox: queue.SimpleQueue[tuple[str, None]] = queue.SimpleQueue()
        self._pending_info: deque[tuple[str, Any]] = deque()
        # submit_circuit_info for callers that hold a (job_id, circuits) pair: a C
        # call, no Python frame (the proxy's tickets hand circuits over with it).
        self.circuit_sink: Callable[[tuple[str, Any]], None] = self._pending_info.append
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._flushed = threading.Condition()
        self._flush_generation = 0
        self._failures = 0
        self._next_try = 0.0
        self.shipped_events = 0
        self.last_error: str | None = None

    # ------------------------------------------------------------ thread API
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="qsre-shipper", daemon=True)
        self._thread.start()

    def submit_circuit_info(self, job_id: str, circuits: Any) -> None:
        """Queue circuits whose hash/width/depth to compute off the hot path.

        A deque append, not a queue put: waking the shipper per job would make it
        compete for the GIL with the simulator's worker thread exactly when the
        user's job finishes. The work is batched into the next tick instead.
        """
        self._pending_info.append((job_id, circuits))

    def flush(self, timeout_s: float = 30.0) -> bool:
        """Ship everything written so far. True if the spool is fully drained."""
        if self._thread is None or not self._thread.is_alive():
            return self.drain()
        with self._flushed:
            target = self._flush_generation + 1
            self._inbox.put(("flush", None))
            self._flushed.wait_for(lambda: self._flush_generation >= target, timeout=timeout_s)
        return self.pending_bytes() == 0

    def stop(self, timeout_s: float = 30.0) -> bool:
        drained = self.flush(timeout_s)
        self._stop.set()
        self._inbox.put(("stop", None))
        if self._thread is not None:
            self._thread.join(timeout=timeout_s)
        return drained

    def pending_bytes(self) -> int:
        return self.writer.pending_bytes if self.writer is not None else 0

    def _run(self) -> None:
        deadline = time.monotonic() + self.interval_s
        while not self._stop.is_set():
            try:
                kind, _ = self._inbox.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                kind = "tick"
            try:
                if kind == "stop":
                    break
                if kind == "flush":
                    self.drain(force=True)
                    with self._flushed:
                        self._flush_generation += 1
                        self._flushed.notify_all()
                    continue
                if self._batch_due():
                    self.drain()
            except Exception:  # noqa: BLE001 - the shipper thread must never die
                self.errors.inc("shipper")
                log.exception("qsre shipper loop error")
            deadline = time.monotonic() + self.interval_s

    def _batch_due(self) -> bool:
        if self.writer is None:
            return True
        if self.writer.pending_bytes <= 0:
            self._pending_since = None
            return bool(self._pending_info)
        now = self._monotonic()
        if self._pending_since is None:
            self._pending_since = now
        if (
            self.writer.pending_bytes >= self.batch_bytes
            or now - self._pending_since >= self.max_delay_s
        ):
            self._pending_since = None
            return True
        return False

    # ------------------------------------------------------------ shipping
    def _apply_info(self, job_id: str, circuits: Any) -> None:
        try:
            info = circuit_info(circuits)
        except Exception:  # noqa: BLE001 - metadata only; never worth failing for
            self.errors.inc("circuit_info")
            log.debug("circuit info failed for %s", job_id, exc_info=True)
            return
        target = self._state.get(job_id)
        if target is not None:
            target.update(info)
            return
        done = self._finished.get(job_id)
        if done is not None:
            merged = merge_snapshots(done, info)
            self._finished[job_id] = merged
            try:
                self.store.upsert_jobs([merged])
            except Exception:  # noqa: BLE001
                self.errors.inc("store")
        else:
            self._state[job_id] = {"id": job_id, **info, "_info_only": True}

    def drain(self, *, force: bool = False) -> bool:
        """Ship what was written before this call, or until the store refuses. True
        once that much is in the store.

        Events written meanwhile wait for the next batch: chasing a writer that
        appends one job at a time would ship one job at a time, each at a batch's
        fixed cost (measured: ~2.7 ms of shipper CPU per 40 ms noisy-simulator job,
        taken from the simulator's cores, against ~0.5 ms in batches of 200)."""
        target = self.writer.written_bytes if self.writer is not None else None
        while True:
            if not force and time.monotonic() < self._next_try:
                return False
            shipped = self.ship_once()
            if shipped is None:
                return False
            if shipped == 0 or (target is not None and self.writer.shipped_bytes >= target):
                return True

    def ship_once(self) -> int | None:
        """One batch. Returns events shipped, or None if the store failed."""
        visible = self.writer.visible() if self.writer is not None else None
        lines, new_offsets = self.reader.read_new(visible=visible)
        # Info for jobs whose submit event is in this batch or earlier ones; taken
        # after reading so every job it names is already known or being shipped.
        while self._pending_info:
            self._apply_info(*self._pending_info.popleft())
        if not lines:
            if self.writer is not None:
                self.reader.remove_shipped_segments(keep=self.writer.current_segment)
            return 0
        nbytes = sum(len(line) + 1 for line in lines)
        dirty: dict[str, None] = {}
        backends: list[dict[str, Any]] = []
        for n, line in enumerate(lines):
            if not n % YIELD_EVERY:
                time.sleep(0)  # let the user's threads take the GIL (see YIELD_EVERY)
            try:
                event = decode_line(line)
            except (ValueError, KeyError, TypeError):
                self.errors.inc("spool_decode")
                log.warning("skipping an undecodable spool line in %s", self.reader.proc_id)
                continue
            kind = event.pop("e", "j")
            if kind == "b":
                backends.append(event)
                continue
            job_id = event["id"]
            base = self._state.get(job_id)
            if base is not None and base.pop("_info_only", False):
                info = base
                base = None
                self._state[job_id] = merge_snapshots(merge_snapshots(None, event), info)
            else:
                self._state[job_id] = merge_snapshots(base, event)
            dirty[job_id] = None
        incomplete = [i for i in dirty if "submitted_at" not in self._state[i]]
        if incomplete:
            stored = self.store.job_snapshots(incomplete)
            for job_id in incomplete:
                if job_id in stored:
                    self._state[job_id] = merge_snapshots(stored[job_id], self._state[job_id])
        snapshots = [self._state[i] for i in dirty if "submitted_at" in self._state[i]]
        for snap in snapshots:
            if snap.pop(DERIVE_TIMES, False):
                derive_times(snap)
            if self.span_sink is not None and snap.get("status") in TERMINAL_STATUSES:
                # The span this shipper emits for the job carries this trace id: the
                # store links the job to its trace (dashboards, `qsre jobs show`).
                snap.setdefault("trace_id", job_trace_id(str(snap["id"])))
        try:
            self.store.upsert_jobs(snapshots)
            for b in backends:
                self.store.upsert_backend(
                    b["name"],
                    seen_at=datetime.fromisoformat(b["seen_at"]),
                    num_qubits=b.get("num_qubits"),
                    provider=b.get("provider"),
                    calibration_at=(
                        datetime.fromisoformat(b["calibration_at"])
                        if b.get("calibration_at")
                        else None
                    ),
                    calibration_summary=b.get("summary"),
                )
        except Exception as exc:  # noqa: BLE001 - store outage: keep spooling, retry later
            self._failures += 1
            self.errors.inc("store")
            self.last_error = f"{type(exc).__name__}: {exc}"
            delay = min(5.0, 0.1 * 2 ** min(self._failures, 6))
            self._next_try = time.monotonic() + delay
            if self._failures in (1, 10) or self._failures % 100 == 0:
                log.warning(
                    "qsre store unavailable (%s); %d bytes spooled, retrying in %.1fs",
                    self.last_error,
                    self.pending_bytes(),
                    delay,
                )
            return None
        if self._failures:
            log.info("qsre store is back; draining the spool")
        self._failures = 0
        self.last_error = None
        self.reader.commit(new_offsets)
        if self.writer is not None:
            self.writer.shipped_bytes += nbytes
        self.shipped_events += len(lines)
        for job_id in dirty:
            snap = self._state.get(job_id)
            if snap is not None and snap.get("status") in TERMINAL_STATUSES:
                del self._state[job_id]
                self._finished[job_id] = snap
                if len(self._finished) > self._keep_terminal:
                    self._finished.popitem(last=False)
                if self.span_sink is not None:
                    try:
                        self.span_sink(snap)
                    except Exception:  # noqa: BLE001 - telemetry never breaks shipping
                        self.errors.inc("spans")
        return len(lines)

    def in_flight_ids(self) -> list[str]:
        return [i for i, s in self._state.items() if not s.get("_info_only")]


def adopt_orphans(
    directory: Path,
    store: Store,
    *,
    clock: Clock | None = None,
    span_sink: SpanSink | None = None,
) -> dict[str, int]:
    """Ship the spools of dead processes and close their in-flight jobs as ``unknown``.

    Returns ``{proc_id: jobs_marked_unknown}`` for each adopted spool. Spools whose
    owner is alive, or that another daemon is adopting, are left alone.
    """
    clock = clock or SystemClock()
    adopted: dict[str, int] = {}
    for proc_id in orphaned_processes(directory):
        with adoption_lock(directory, proc_id) as got:
            if not got:
                continue
            seal_segments(directory, proc_id)
            reader = SpoolReader(directory, proc_id)
            shipper = Shipper(store, reader, span_sink=span_sink)
            if not shipper.drain(force=True):
                log.warning("could not adopt spool %s yet: %s", proc_id, shipper.last_error)
                continue
            torn = reader.trailing_garbage()
            if torn:
                log.warning("spool %s ends with a torn write of %d bytes; discarded", proc_id, torn)
            adopted[proc_id] = store.mark_unknown(
                recorder=proc_id,
                finished_at=clock.now(),
                message="the recording process died before the job finished",
            )
            for path in Path(directory).glob(f"{proc_id}.*"):
                if path.suffix in (".spool", ".offsets", ".tmp"):
                    path.unlink(missing_ok=True)
        (Path(directory) / f"{proc_id}.lock").unlink(missing_ok=True)
        log.info("adopted spool %s (%d in-flight jobs marked unknown)", proc_id, adopted[proc_id])
    return adopted
