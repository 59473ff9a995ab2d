"""The memory-mapped spool: readers of a live spool stop at the published end,
closed segments are cut to their data, a dead owner's segments are sealed at the
first NUL before adoption, and a segment that cannot be reserved falls back to
write()."""

from __future__ import annotations

import errno
import json
import logging
import os
import signal

import pytest

from collector.shipper import adopt_orphans
from collector.spool import (
    SpoolBacklog,
    SpoolReader,
    SpoolWriter,
    orphaned_processes,
    seal_segments,
    spool_backlog,
)


def _line(i: int, pad: int = 0) -> bytes:
    return json.dumps({"id": f"job-{i}", "pad": "x" * pad}).encode() + b"\n"


def _read_all(reader: SpoolReader, writer: SpoolWriter | None = None) -> list[bytes]:
    got: list[bytes] = []
    while True:
        visible = writer.visible() if writer is not None else None
        lines, offsets = reader.read_new(max_bytes=1000, visible=visible)
        if not lines:
            return got
        got.extend(lines)
        reader.commit(offsets)


@pytest.mark.parametrize("mapped", [True, False])
def test_every_line_read_once_across_rotations(tmp_path, mapped):
    writer = SpoolWriter(tmp_path, segment_bytes=700, mapped=mapped)
    reader = SpoolReader(tmp_path, writer.proc_id)
    sent = [_line(i, pad=(i * 37) % 90) for i in range(60)]
    sent.append(_line(60, pad=2000))  # larger than a segment and the read budget
    got: list[bytes] = []
    for i, line in enumerate(sent):
        assert writer.append(line)
        if i % 7 == 0:
            got += _read_all(reader, writer)
    got += _read_all(reader, writer)
    assert got == [line.rstrip(b"\n") for line in sent]
    assert len(reader.segments()) > 3
    writer.close(remove=False)
    # Closed segments hold their data only: no zero tail.
    for seg in reader.segments():
        data = seg.read_bytes()
        assert b"\0" not in data and data.endswith(b"\n")
    assert sum(seg.stat().st_size for seg in reader.segments()) == sum(map(len, sent))


def test_live_reader_stops_at_the_published_end(tmp_path):
    writer = SpoolWriter(tmp_path, segment_bytes=4096)
    reader = SpoolReader(tmp_path, writer.proc_id)
    writer.append(_line(1))
    name, end = writer.visible()
    assert end == len(_line(1))
    # The mapping past the published end is zeros (or a copy under way): a reader
    # given the owner's visible end never looks there, even though the file is
    # already its full reserved size.
    assert (tmp_path / name).stat().st_size == 4096
    lines, _ = reader.read_new(visible=(name, end))
    assert lines == [_line(1).rstrip(b"\n")]
    writer.close(remove=False)


def test_snapshot_taken_before_a_rotation_skips_the_new_segment(tmp_path):
    writer = SpoolWriter(tmp_path, segment_bytes=200)
    reader = SpoolReader(tmp_path, writer.proc_id)
    writer.append(_line(1, pad=100))
    snapshot = writer.visible()
    writer.append(_line(2, pad=100))  # rotates: segment 0 is sealed, 1 opened
    assert writer.visible()[0] != snapshot[0]
    lines, offsets = reader.read_new(visible=snapshot)
    assert lines == [_line(1, pad=100).rstrip(b"\n")]
    reader.commit(offsets)
    assert _read_all(reader, writer) == [_line(2, pad=100).rstrip(b"\n")]
    writer.close(remove=False)


def test_dead_owner_is_sealed_and_adopted_once(store, tmp_path):
    spool = tmp_path / "spool"
    proc = "owner-that-dies"
    lines = [
        json.dumps(
            {
                "recorder": proc,
                "e": "s",
                "id": f"job-{i}",
                "status": "queued",
                "submitted_at": 1.8e9,
                "backend": "b",
                "project": "p",
                "tags": {},
                "shots": 1,
                "num_circuits": 1,
            }
        ).encode()
        + b"\n"
        for i in range(5)
    ]
    pid = os.fork()
    if pid == 0:  # the owner: appends, then dies without closing anything
        writer = SpoolWriter(spool, proc_id=proc)
        for line in lines:
            writer.append(line)
        os.kill(os.getpid(), signal.SIGKILL)
    os.waitpid(pid, 0)
    assert orphaned_processes(spool) == [proc]
    [segment] = SpoolReader(spool, proc).segments()
    assert segment.read_bytes().rstrip(b"\0") == b"".join(lines)
    adopted = adopt_orphans(spool, store)
    assert adopted == {proc: 5}  # submitted, never finished: unknown
    jobs = store.jobs()
    assert sorted(j.id for j in jobs) == [f"job-{i}" for i in range(5)]
    assert {j.status for j in jobs} == {"unknown"}
    assert list(spool.glob("*.spool")) == []


def test_a_copy_cut_by_the_kill_is_discarded_as_torn(tmp_path):
    writer = SpoolWriter(tmp_path, segment_bytes=4096)
    writer.append(_line(1))
    seg = tmp_path / writer.visible()[0]
    # An interrupted copy: the tail (with its newline) landed, the middle did not.
    torn = _line(2, pad=40)
    start = writer.visible()[1]
    with open(seg, "r+b") as fh:
        fh.seek(start)
        fh.write(torn[:10])
        fh.seek(start + len(torn) - 8)
        fh.write(torn[-8:])
    writer.abandon_after_fork()  # the owner is gone without sealing
    assert seal_segments(tmp_path, writer.proc_id) == 4096 - start - 10
    reader = SpoolReader(tmp_path, writer.proc_id)
    assert _read_all(reader) == [_line(1).rstrip(b"\n")]
    assert reader.trailing_garbage() == 10


def test_unreservable_segment_falls_back_to_write(tmp_path, monkeypatch, caplog):
    def full_disk(fd, offset, length):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "posix_fallocate", full_disk)
    with caplog.at_level(logging.WARNING, logger="collector.spool"):
        writer = SpoolWriter(tmp_path, segment_bytes=300)
    assert "cannot reserve" in caplog.text and "write() instead" in caplog.text
    sent = [_line(i, pad=50) for i in range(12)]
    for line in sent:
        assert writer.append(line)
    reader = SpoolReader(tmp_path, writer.proc_id)
    assert _read_all(reader, writer) == [line.rstrip(b"\n") for line in sent]
    writer.close(remove=False)
    assert all(b"\0" not in seg.read_bytes() for seg in reader.segments())


def test_backlog_counts_data_not_the_reservation(tmp_path):
    writer = SpoolWriter(tmp_path, segment_bytes=1 << 20)
    sent = [_line(i) for i in range(4)]
    for line in sent:
        writer.append(line)
    backlog = spool_backlog(tmp_path)
    assert backlog.events_by_state() == {"pending": 4, "orphaned": 0}
    assert backlog.unshipped_bytes == sum(map(len, sent))
    reader = SpoolReader(tmp_path, writer.proc_id)
    lines, offsets = reader.read_new(visible=writer.visible())
    reader.commit({name: offset - len(sent[-1]) for name, offset in offsets.items()})
    assert spool_backlog(tmp_path) == SpoolBacklog(1, 0, len(sent[-1]))
    writer.abandon_after_fork()  # the owner is gone: its lock is free
    assert spool_backlog(tmp_path) == SpoolBacklog(0, 1, len(sent[-1]))


def test_no_posix_fallocate_means_write(tmp_path, monkeypatch):
    monkeypatch.delattr(os, "posix_fallocate")
    writer = SpoolWriter(tmp_path, segment_bytes=4096)
    assert writer.append(_line(1))
    assert (tmp_path / writer.visible()[0]).read_bytes() == _line(1)
    writer.close(remove=False)
