"""The local append-only spool: the durable half of the recording path.

Each process appends lifecycle events (one line each, no fsync) to its own segment
files. An appended event is in the kernel's page cache and survives ``kill -9`` of
the process (not a power cut, like SQLite WAL with synchronous=NORMAL). The owner
holds an exclusive ``flock`` on ``<proc>.lock`` for its whole life; the kernel drops
it when the process dies, which is how ``qsre run`` recognises an orphaned spool it
must adopt.

Segments are memory-mapped: an event is a copy into the shared mapping, not a
``write()`` call (made by ``collector._fastspool.Appender``, the C hot path, or by
``PyAppender`` where it was not built). Both land in the same page cache, but next
to a simulator job the system call costs ~15 us and the copy ~3 us (measured in the
proxy's call path).
A mapped segment is reserved with ``posix_fallocate`` before it is mapped, so a full
disk fails there (and the segment falls back to ``write()``), never as a SIGBUS on a
later copy. The mapping is zero-filled past the data:

- the owner publishes how far the current segment holds whole events (``visible``)
  and its shipper reads no further;
- a segment the owner closes (rotation, shutdown) is truncated to its data;
- a dead owner's segments are truncated at their first NUL byte by ``seal_segments``
  before adoption (events never contain NUL: JSON escapes it), so a copy the kill
  interrupted ends as a torn last line, discarded like a torn ``write()``.

Layout in the spool directory::

    <proc>.lock              held (flock) while the owner lives
    <proc>.<n:06d>.spool     segments, append-only lines
    <proc>.offsets           {"segment": shipped_offset}, replaced atomically
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import mmap
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

try:
    from collector import _fastspool
except ImportError:  # built without a C compiler: Python writes the same bytes
    _fastspool = None

log = logging.getLogger(__name__)

SEGMENT_BYTES = 8 * 1024 * 1024
_SCAN_BYTES = 1024 * 1024
DEFAULT_MAX_PENDING_BYTES = 1024 * 1024 * 1024


def default_spool_dir(store_url: str) -> Path:
    """Where proxies for ``store_url`` spool, and where ``qsre run`` looks for orphans.

    A SQLite store spools next to its file (``qsre.db.spool/``) so the two travel
    together; other stores spool under ``$QSRE_SPOOL_DIR`` (default
    ``~/.cache/qsre/spool``) in a folder named by a hash of the URL.
    """
    url = make_url(store_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database + ".spool")
    root = Path(os.environ.get("QSRE_SPOOL_DIR", Path.home() / ".cache" / "qsre" / "spool"))
    key = hashlib.sha256(url.render_as_string(hide_password=True).encode()).hexdigest()[:16]
    return root / key


def new_process_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def native_available() -> bool:
    """Whether the C hot path (``collector._fastspool``) was built."""
    return _fastspool is not None


class PyAppender:
    """``_fastspool.Appender`` in Python, for installs without the C extension: it
    copies a whole line into the attached mapping or refuses it (no room, or past
    the pending-bytes ``limit``). It has no ``done`` shortcut (its Python twin is
    ``SpoolRecorder.done_plain``), so every event takes the recorder's Python
    formatting, under the writer's lock."""

    def __init__(self) -> None:
        self._buffer: mmap.mmap | None = None
        self.pos = 0
        self.limit = 0

    @property
    def attached(self) -> bool:
        return self._buffer is not None

    def attach(self, buffer: mmap.mmap, pos: int = 0) -> None:
        self._buffer, self.pos, self.limit = buffer, pos, len(buffer)

    def detach(self) -> int:
        self._buffer = None
        return self.pos

    def append(self, line: bytes) -> bool:
        buffer = self._buffer
        end = self.pos + len(line)
        if buffer is None or end > min(self.limit, len(buffer)):
            return False
        buffer[self.pos : end] = line
        self.pos = end
        return True


class SpoolWriter:
    """Appends events for one process. Thread-safe; one per process and directory.

    ``appender`` may also be called directly, without the writer's lock, by code
    that holds the GIL and makes no Python call between choosing its position and
    publishing it (the C hot path): it refuses what does not fit, and the caller
    then goes through ``append``, which rotates the segment.
    """

    def __init__(
        self,
        directory: Path,
        *,
        proc_id: str | None = None,
        segment_bytes: int = SEGMENT_BYTES,
        max_pending_bytes: int = DEFAULT_MAX_PENDING_BYTES,
        mapped: bool = True,
        native: bool = True,
    ) -> None:
        """``mapped=False`` appends with ``write()`` instead of copying into a mapping
        (the fallback a segment takes by itself when it cannot be reserved).
        ``native=False`` uses ``PyAppender`` even where the C extension exists."""
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.proc_id = proc_id or new_process_id()
        self.segment_bytes = segment_bytes
        self.max_pending_bytes = max_pending_bytes
        self.mapped = mapped
        self._lock = threading.Lock()
        self._lock_fd = os.open(
            self.directory / f"{self.proc_id}.lock", os.O_RDWR | os.O_CREAT, 0o600
        )
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self.appender = _fastspool.Appender() if native and _fastspool is not None else PyAppender()
        self._segment_no = 0
        self._fd = -1
        self._map: mmap.mmap | None = None
        self._plain_size = 0  # the current segment's size in write() mode
        self._sealed_bytes = 0  # bytes in the segments closed so far
        self._shipped_bytes = 0
        self.dropped_events = 0
        self._last_full_warning = 0.0
        self._closed = False
        self._open_segment(segment_bytes)

    def segment_path(self, n: int) -> Path:
        return self.directory / f"{self.proc_id}.{n:06d}.spool"

    @property
    def current_segment(self) -> Path:
        return self.segment_path(self._segment_no)

    @property
    def _segment_size(self) -> int:
        return self.appender.pos if self._map is not None else self._plain_size

    @property
    def written_bytes(self) -> int:
        return self._sealed_bytes + self._segment_size

    @property
    def shipped_bytes(self) -> int:
        return self._shipped_bytes

    @shipped_bytes.setter
    def shipped_bytes(self, value: int) -> None:
        """Advanced by the shipper; frees room under ``max_pending_bytes``."""
        with self._lock:
            self._shipped_bytes = value
            self._update_limit()

    def _update_limit(self) -> None:
        # Direct appends may end where the pending bytes reach max_pending_bytes.
        if self._map is not None:
            self.appender.limit = self._shipped_bytes + self.max_pending_bytes - self._sealed_bytes

    def visible(self) -> tuple[str, int]:
        """The current segment's name and how many of its bytes are whole events:
        a reader of a live spool reads no further (past it, a copy may be under way)."""
        with self._lock:
            return self.current_segment.name, self._segment_size

    def _open_segment(self, capacity: int) -> None:
        # A segment is only ever appended to by the process that created it.
        while self.segment_path(self._segment_no).exists():
            self._segment_no += 1
        path = self.segment_path(self._segment_no)
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        self._plain_size = 0
        self._map = None
        if not self.mapped:
            return
        try:
            # Without a reservation a full disk would surface as SIGBUS on a copy,
            # so a platform without posix_fallocate (macOS) appends with write().
            reserve = getattr(os, "posix_fallocate", None)
            if reserve is None:
                raise OSError("posix_fallocate is not available on this platform")
            reserve(self._fd, 0, capacity)
            self._map = mmap.mmap(self._fd, capacity)
            self.appender.attach(self._map, 0)
            self._update_limit()
        except (OSError, ValueError) as exc:
            # Full disk, or a file system without fallocate/mmap: plain writes.
            os.ftruncate(self._fd, 0)
            log.warning(
                "qsre spool %s: cannot reserve a %d-byte mapped segment (%s); "
                "appending with write() instead",
                path,
                capacity,
                exc,
            )

    def _seal_segment(self) -> None:
        """Close the current segment at its data (dropping the mapping's zero tail)."""
        if self._map is not None:
            # Detached first: from here direct appends are refused and come through
            # append(), which waits for the lock this runs under.
            size = self.appender.detach()
            self._map.close()
            self._map = None
            os.ftruncate(self._fd, size)
        else:
            size = self._plain_size
        os.close(self._fd)
        self._sealed_bytes += size
        self._plain_size = 0

    @property
    def pending_bytes(self) -> int:
        return self.written_bytes - self._shipped_bytes

    def append(self, line: bytes) -> bool:
        """Append one newline-terminated event. False if dropped (spool full/closed)."""
        size = len(line)
        with self._lock:
            if self._closed:
                return False
            if self.written_bytes - self._shipped_bytes + size > self.max_pending_bytes:
                self._dropped()
                return False
            # Under the pending bound, a mapped segment refuses only for want of room.
            if self._map is not None and self.appender.append(line):
                return True
            if self._map is not None or self._plain_size >= self.segment_bytes:
                self._seal_segment()
                self._segment_no += 1
                self._open_segment(max(self.segment_bytes, size))
                if self._map is not None:
                    return self.appender.append(line)
            os.write(self._fd, line)
            self._plain_size += size
            return True

    def _dropped(self) -> None:
        self.dropped_events += 1
        now = time.monotonic()
        if now - self._last_full_warning > 60:
            self._last_full_warning = now
            log.warning(
                "qsre spool %s is full (%d bytes pending, limit %d): the store has not "
                "accepted events for a while; dropping events (%d so far). Check the store.",
                self.directory,
                self.pending_bytes,
                self.max_pending_bytes,
                self.dropped_events,
            )

    def close(self, *, remove: bool) -> None:
        """Stop writing. ``remove`` deletes the files (only once all is shipped)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._seal_segment()
        if remove:
            for path in self.directory.glob(f"{self.proc_id}.*"):
                if path.suffix in (".spool", ".offsets"):
                    path.unlink(missing_ok=True)
            (self.directory / f"{self.proc_id}.lock").unlink(missing_ok=True)
        fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
        os.close(self._lock_fd)

    def abandon_after_fork(self) -> None:
        """In a forked child: stop using the parent's spool without touching it (its
        mapping and lock stay the parent's)."""
        self._closed = True
        self.appender.detach()
        for fd in (self._fd, self._lock_fd):
            with contextlib.suppress(OSError):
                os.close(fd)


def seal_segments(directory: Path, proc_id: str) -> int:
    """Truncate a dead process's mapped segments at their first NUL byte: past it is
    the mapping's zero tail (or a copy the kill interrupted). Returns bytes dropped.
    Only for spools whose owner is gone (call under ``adoption_lock``)."""
    dropped = 0
    for seg in sorted(Path(directory).glob(f"{proc_id}.*.spool")):
        _, end = _scan_data(seg, 0)
        size = seg.stat().st_size
        if end < size:
            dropped += size - end
            os.truncate(seg, end)
    return dropped


@dataclass
class SegmentCursor:
    path: Path
    offset: int
    partial: bytes = b""


class SpoolReader:
    """Reads unshipped events of one process's spool, from its saved offsets."""

    def __init__(self, directory: Path, proc_id: str) -> None:
        self.directory = Path(directory)
        self.proc_id = proc_id
        self.offsets_path = self.directory / f"{proc_id}.offsets"
        self.offsets: dict[str, int] = {}
        if self.offsets_path.exists():
            with contextlib.suppress(ValueError, OSError):
                self.offsets = {
                    k: int(v) for k, v in json.loads(self.offsets_path.read_text()).items()
                }

    def segments(self) -> list[Path]:
        return sorted(self.directory.glob(f"{self.proc_id}.*.spool"))

    def read_new(
        self,
        *,
        max_bytes: int = 4 * 1024 * 1024,
        visible: tuple[str, int] | None = None,
    ) -> tuple[list[bytes], dict[str, int]]:
        """Complete lines not yet shipped, and the offsets to save once they are.

        ``visible``: the live owner's ``SpoolWriter.visible()``, taken before the
        segments are listed. That segment is read up to its published end and newer
        ones (opened since) are left for the next read. A trailing line without its
        newline is left for the next read too.
        """
        lines: list[bytes] = []
        new_offsets = dict(self.offsets)
        budget = max_bytes
        for seg in self.segments():
            if visible is not None and seg.name > visible[0]:
                break
            start = self.offsets.get(seg.name, 0)
            try:
                size = seg.stat().st_size
            except FileNotFoundError:
                continue
            if visible is not None and seg.name == visible[0]:
                size = min(size, visible[1])
            if size <= start:
                continue
            with open(seg, "rb") as fh:
                fh.seek(start)
                data = fh.read(min(size - start, budget))
                end = data.rfind(b"\n")
                if end < 0 and size - start > len(data):
                    # One event larger than the budget (a job with huge counts):
                    # read on to its end rather than never shipping it.
                    rest = fh.read(size - start - len(data))
                    newline = rest.find(b"\n")
                    if newline >= 0:
                        data += rest[: newline + 1]
                        end = len(data) - 1
            if end < 0:
                continue
            chunk = data[: end + 1]
            lines.extend(chunk.splitlines())
            new_offsets[seg.name] = start + len(chunk)
            budget -= len(chunk)
            if budget <= 0:
                break
        return lines, new_offsets

    def commit(self, new_offsets: dict[str, int]) -> None:
        """Persist offsets after the store accepted the lines (atomic replace)."""
        self.offsets = new_offsets
        tmp = self.offsets_path.with_suffix(".offsets.tmp")
        tmp.write_text(json.dumps(new_offsets))
        os.replace(tmp, self.offsets_path)

    def trailing_garbage(self) -> int:
        """Bytes after the last newline across segments (a torn final write)."""
        total = 0
        for seg in self.segments():
            start = self.offsets.get(seg.name, 0)
            size = seg.stat().st_size
            if size > start:
                with open(seg, "rb") as fh:
                    fh.seek(start)
                    data = fh.read()
                total += len(data) - (data.rfind(b"\n") + 1)
        return total

    def remove_shipped_segments(self, keep: Path | None = None) -> None:
        """Delete segments fully shipped (except ``keep``, the one still being written)."""
        changed = False
        for seg in self.segments():
            if keep is not None and seg == keep:
                continue
            if self.offsets.get(seg.name, -1) >= seg.stat().st_size:
                seg.unlink(missing_ok=True)
                self.offsets.pop(seg.name, None)
                changed = True
        if changed:
            self.commit(self.offsets)


def orphaned_processes(directory: Path) -> list[str]:
    """Process ids whose spool lock is free: their owner died (or exited uncleanly)."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    procs: set[str] = set()
    for path in directory.iterdir():
        if path.suffix == ".lock":
            procs.add(path.stem)
        elif path.suffix == ".spool":
            procs.add(path.name.rsplit(".", 2)[0])
    orphans = []
    for proc in sorted(procs):
        lock = directory / f"{proc}.lock"
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
        orphans.append(proc)
    return orphans


@contextlib.contextmanager
def adoption_lock(directory: Path, proc_id: str):
    """Held while adopting ``proc_id`` so two daemons never adopt the same spool."""
    fd = os.open(Path(directory) / f"{proc_id}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        yield False
        return
    try:
        yield True
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


@dataclass(frozen=True)
class SpoolBacklog:
    """Unshipped events in a spool directory: ``pending`` (owner alive, its shipper
    will move them) and ``orphaned`` (owner dead, waiting for adoption), and the
    bytes they hold."""

    pending: int = 0
    orphaned: int = 0
    unshipped_bytes: int = 0

    def events_by_state(self) -> dict[str, int]:
        return {"pending": self.pending, "orphaned": self.orphaned}


def spool_backlog(directory: Path) -> SpoolBacklog:
    """What a spool directory holds that the store has not got yet. A live owner's
    mapped segment is read only up to its data (the first NUL), not its reservation."""
    directory = Path(directory)
    if not directory.is_dir():
        return SpoolBacklog()
    orphans = set(orphaned_processes(directory))
    procs = {p.name.rsplit(".", 2)[0] for p in directory.glob("*.spool")}
    counts = {"pending": 0, "orphaned": 0}
    unshipped = 0
    for proc in procs:
        reader = SpoolReader(directory, proc)
        for seg in reader.segments():
            try:
                events, nbytes = _scan_data(seg, reader.offsets.get(seg.name, 0))
            except FileNotFoundError:
                continue
            counts["orphaned" if proc in orphans else "pending"] += events
            unshipped += nbytes
    return SpoolBacklog(counts["pending"], counts["orphaned"], unshipped)


def _scan_data(segment: Path, start: int) -> tuple[int, int]:
    """Newlines and bytes from ``start`` to the segment's data end."""
    events = nbytes = 0
    with open(segment, "rb") as fh:
        fh.seek(start)
        while chunk := fh.read(_SCAN_BYTES):
            nul = chunk.find(b"\0")
            if nul >= 0:
                chunk = chunk[:nul]
            events += chunk.count(b"\n")
            nbytes += len(chunk)
            if nul >= 0:
                break
    return events, nbytes
