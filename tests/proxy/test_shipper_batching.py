"""The shipper waits for a batch worth its fixed cost, but never longer than
max_delay_s; flush() ships at once."""

from __future__ import annotations

import pytest

from collector.shipper import Shipper
from collector.spool import SpoolReader, SpoolWriter


class _Monotonic:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def parts(store, tmp_path):
    clock = _Monotonic()
    writer = SpoolWriter(tmp_path / "spool")
    shipper = Shipper(
        store,
        SpoolReader(tmp_path / "spool", writer.proc_id),
        writer=writer,
        max_delay_s=1.0,
        batch_bytes=4096,
        monotonic=clock,
    )
    yield shipper, writer, clock
    writer.close(remove=False)


def _job_line(i: int) -> bytes:
    return (
        f'{{"id":"job-{i}","status":"queued","submitted_at":1.8e9,"backend":"b",'
        f'"project":"p","tags":{{}},"shots":1,"num_circuits":1}}\n'
    ).encode()


def test_small_backlog_waits_until_max_delay(parts, store):
    shipper, writer, clock = parts
    assert not shipper._batch_due()  # nothing pending
    writer.append(_job_line(1))
    assert not shipper._batch_due()  # first sight of the backlog starts its clock
    clock.t += 0.9
    assert not shipper._batch_due()
    clock.t += 0.2
    assert shipper._batch_due()
    assert shipper.drain()
    assert [j.id for j in store.jobs()] == ["job-1"]
    assert not shipper._batch_due()


def test_full_batch_ships_at_once(parts):
    shipper, writer, _ = parts
    while writer.pending_bytes < 4096:
        writer.append(_job_line(writer.pending_bytes))
    assert shipper._batch_due()


def test_flush_does_not_wait(parts, store):
    shipper, writer, _ = parts
    writer.append(_job_line(7))
    assert shipper.flush()
    assert [j.id for j in store.jobs()] == ["job-7"]
