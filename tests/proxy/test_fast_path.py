"""The proxy's cheap path (compact finish record, times derived by the shipper,
counter-based ids) records exactly what the general path records."""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from qiskit import QuantumCircuit
from qiskit.providers import JobStatus

from collector import VirtualClock
from collector.ids import new_job_id
from collector.lifecycle import lifecycle_times
from collector.proxy import ExecutionProxy
from collector.recorder import SpoolRecorder
from collector.spool_format import (
    DERIVE_TIMES,
    decode_line,
    derive_times,
    format_done,
    hex_counts,
)

from .backends import HeldBackend

T0 = datetime(2026, 11, 16, 9, tzinfo=UTC)


def measured(n: int) -> QuantumCircuit:
    qc = QuantumCircuit(n, n)
    qc.x(0)
    qc.measure(range(n), range(n))
    return qc


class _Job:
    """A job without provider timestamps (like AerJob)."""


class _Result:
    def __init__(self, time_taken: float | None) -> None:
        if time_taken is not None:
            self.time_taken = time_taken


@settings(max_examples=300, deadline=None)
@given(
    submitted_s=st.floats(1.7e9, 1.8e9),
    wait_s=st.floats(0, 5e4),
    run_s=st.one_of(st.none(), st.floats(0, 6e4)),
)
def test_shipper_derives_the_times_the_general_path_computes(submitted_s, wait_s, run_s):
    finished_s = submitted_s + wait_s
    general = lifecycle_times(_Job(), _Result(run_s), submitted_s, None, finished_s)
    snap = {
        "submitted_at": datetime.fromtimestamp(submitted_s, UTC),
        "finished_at": datetime.fromtimestamp(finished_s, UTC),
        "run_seconds": run_s,
    }
    derive_times(snap)
    assert snap["e2e_seconds"] == pytest.approx(general["e2e_seconds"], abs=1e-5)
    assert snap.get("queue_seconds") == pytest.approx(general["queue_seconds"], abs=1e-5)
    assert snap.get("run_seconds") == pytest.approx(general["run_seconds"], abs=1e-5)
    started = snap.get("started_at")
    expected = general["started_at"]
    assert (started is None) == (expected is None)
    if started is not None:
        assert started.timestamp() == pytest.approx(expected, abs=1e-5)


def test_derive_times_keeps_what_is_known():
    snap = {
        "submitted_at": T0,
        "started_at": T0 + timedelta(seconds=3),
        "finished_at": T0 + timedelta(seconds=10),
        "run_seconds": 2.0,
        "e2e_seconds": 9.5,
    }
    derive_times(snap)
    assert snap["started_at"] == T0 + timedelta(seconds=3)
    assert (snap["queue_seconds"], snap["run_seconds"], snap["e2e_seconds"]) == (3.0, 2.0, 9.5)


@pytest.mark.parametrize(
    "provider_id", ["6f1c-aa", 'id with "quotes"\tand a tab', "ジョブ-7", "a\\b"]
)
@pytest.mark.parametrize("record_counts", [True, False])
def test_compact_finish_record_round_trip(provider_id, record_counts):
    counts = [{"0x0": 7, "0x5": 3}, {"0x1": 10}]
    line = format_done(
        "job-1",
        int(datetime(2026, 11, 16, 9, tzinfo=UTC).timestamp()) * 10**9 + 123_456_789,
        0.25,
        2,
        1.5,
        provider_id,
        [3, 1],
        counts if record_counts else None,
    )
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    event = decode_line(line.rstrip(b"\n"))
    assert event["id"] == "job-1" and event["status"] == "done"
    assert (event["attempts"], event["cost_usd"], event["run_seconds"]) == (2, 1.5, 0.25)
    assert event["provider_job_id"] == provider_id
    assert event["finished_at"] == datetime(2026, 11, 16, 9, 0, 0, 123457, tzinfo=UTC)
    assert event[DERIVE_TIMES] is True
    if record_counts:
        assert event["counts"] == [
            {"num_clbits": 3, "counts": {"000": 7, "101": 3}},
            {"num_clbits": 1, "counts": {"1": 10}},
        ]
    else:
        assert "counts" not in event


def test_compact_record_without_run_seconds():
    event = decode_line(format_done("j", 10**18, None, 1, 0.0, "p", [1], [{"0x1": 1}]).rstrip())
    assert event["run_seconds"] is None


class _Exp:
    def __init__(self, counts, width=2, shots=10):
        self.header = {"memory_slots": width}
        self.shots = shots

        class _Data:
            pass

        self.data = _Data()
        self.data.counts = counts


class _Res:
    def __init__(self, *exps):
        self.results = list(exps)


def test_hex_counts_accepts_the_common_shape():
    widths, counts = hex_counts(_Res(_Exp({"0x0": 4, "0x3": 6}), _Exp({"0x1": 10}, 1)), 10)
    assert widths == [2, 1] and counts == [{"0x0": 4, "0x3": 6}, {"0x1": 10}]


@pytest.mark.parametrize(
    "result",
    [
        _Res(_Exp({"00": 4, "11": 6})),  # binary keys
        _Res(_Exp({"0x0": 4, "0x4": 6})),  # wider than the register
        _Res(_Exp({"0x0": 4, "0x3": 5})),  # does not sum to the shots
        _Res(_Exp({"0x0": np.int64(4), "0x3": 6})),  # not a plain int
        _Res(_Exp({"0xzz": 10})),  # not a hex literal
        _Res(),  # nothing
        object(),  # not a Result
    ],
)
def test_hex_counts_leaves_anything_else_to_the_general_path(result):
    assert hex_counts(result, 10) is None


def test_fast_and_general_paths_record_the_same_job(store, recorder, tmp_path):
    """The same job recorded four ways: by the C shortcut and by its Python twin
    from the completion callback, and, for a job without a future, by result()'s
    compact record and by the general path (a status() poll that saw RUNNING forces
    it). Same fields, counts and derived times."""
    clock = VirtualClock(T0)
    python_recorder = SpoolRecorder(store, tmp_path / "python-spool", native=False)
    watched, unwatched = HeldBackend(), HeldBackend(hidden=True)
    proxies = [
        ExecutionProxy(backend, store=store, recorder=rec, clock=clock)
        for backend, rec in [
            (watched, recorder),
            (watched, python_recorder),
            (unwatched, recorder),
            (unwatched, recorder),
        ]
    ]
    for proxy in proxies:  # a first job shows each proxy how its backend's jobs behave
        warm_up = proxy.run(measured(3), shots=64)
        proxy.wrapped.jobs[-1].release()
        warm_up.result()
    watched.jobs.clear(), unwatched.jobs.clear()
    jobs = [proxy.run(measured(3), shots=64) for proxy in proxies]
    clock.advance(2)
    assert jobs[3].status() == JobStatus.RUNNING  # seen running 2 s after submission
    clock.advance(3)
    for held in watched.jobs + unwatched.jobs:
        held.release()  # finished 5 s after submission
    jobs[2].result(), jobs[3].result()  # collected as they finish: recorded now
    clock.advance(10)  # collected later: recorded when they finished, by the callback
    jobs[0].result(), jobs[1].result()
    assert [job._future is not None for job in jobs] == [True, True, False, False]
    assert recorder.flush() and python_recorder.flush()
    python_recorder.close()
    by_id = {j.id: j for j in store.jobs()}
    rows = [by_id[job.qsre_job_id] for job in jobs]
    for row in rows:
        assert row.status == "done" and row.attempts == 1 and row.e2e_seconds == pytest.approx(5.0)
        assert store.counts(row.id) == [{"001": 64}]
        assert row.idempotency_key == row.id
    # Aer's time_taken is real time: the compact records start the job run_seconds
    # before it finished; the general one at the observed RUNNING time.
    for row in rows[:3]:
        assert row.started_at == row.finished_at - timedelta(seconds=row.run_seconds)
        assert row.queue_seconds == pytest.approx(5.0 - row.run_seconds)
    assert rows[3].queue_seconds == pytest.approx(2.0)
    assert rows[3].started_at == T0 + timedelta(seconds=2)
    assert [row.provider_job_id for row in rows] == [job.job_id() for job in jobs]


def test_job_ids_unique_across_threads_and_forks():
    ids: list[str] = []
    lock = threading.Lock()

    def burst():
        mine = [new_job_id() for _ in range(5000)]
        with lock:
            ids.extend(mine)

    threads = [threading.Thread(target=burst) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(ids)) == len(ids) == 40_000
    assert all(len(i) == 36 and i[14] == "4" for i in ids)

    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: report its first id and leave at once
        os.write(write_fd, new_job_id().encode())
        os._exit(0)
    os.close(write_fd)
    child_id = os.read(read_fd, 64).decode()
    os.close(read_fd)
    os.waitpid(pid, 0)
    parent_id = new_job_id()
    assert child_id[:24] != parent_id[:24]
