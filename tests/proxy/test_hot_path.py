"""The C hot path (collector/_fastspool.c) and the completion-callback protocol.

The C code writes byte for byte what the Python path writes, declines what it
does not know (the Python path then decides), and records a job's end exactly
once with the caller's ``result()``: before it returns, whoever records it.
"""

from __future__ import annotations

import gc
import os
import threading
import time
import weakref
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from qiskit import QuantumCircuit
from qiskit.result import Result
from qiskit_aer import AerSimulator

from collector import VirtualClock
from collector.errors import ResultCorrupt
from collector.proxy import ExecutionProxy
from collector.recorder import SpoolRecorder
from collector.spool import SpoolReader, SpoolWriter, _fastspool, native_available
from collector.spool_format import format_done, format_submit, hex_counts, run_seconds

from .backends import HeldBackend

pytestmark = pytest.mark.skipif(not native_available(), reason="collector._fastspool was not built")

STATIC = b'"backend":"aer_simulator","project":"chem","tags":{"x":"1"},"purpose":"workload"'


def measured(n: int = 2) -> QuantumCircuit:
    qc = QuantumCircuit(n, n)
    qc.x(0)
    qc.measure(range(n), range(n))
    return qc


def _written(writer: SpoolWriter) -> bytes:
    name, end = writer.visible()
    return (writer.directory / name).read_bytes()[:end]


@pytest.fixture
def writer(tmp_path):
    w = SpoolWriter(tmp_path / "spool", segment_bytes=1 << 20)
    yield w
    w.close(remove=False)


# ----------------------------------------------------------------- the same bytes
keys = st.one_of(
    st.none(),
    st.text(alphabet="abcdefABCDEF0123456789-", min_size=1, max_size=40),
    st.text(min_size=0, max_size=12),  # quotes, backslashes, non-ASCII: declined
)
seconds = st.one_of(
    st.floats(0, 4e9, allow_nan=False),
    st.floats(-1e3, 0),
    st.floats(9e9, 1e12),
    st.sampled_from([0.0, -0.0, 1795981305.7120209]),
)


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    now_s=seconds,
    shots=st.integers(1, 10**9),
    num_circuits=st.integers(1, 300),
    key=keys,
    calibration_s=st.one_of(st.none(), seconds),
)
def test_submitted_event_is_what_python_writes(
    writer, now_s, shots, num_circuits, key, calibration_s
):
    starter = _fastspool.JobStarter(writer.appender, STATIC, lambda: now_s, True, None)
    starter.set_calibration(calibration_s, float("-inf"), float("inf"))
    before = writer.appender.pos
    ticket = starter.begin(shots, num_circuits, key, None)
    needs_escaping = key is not None and not (key.isascii() and key.replace("-", "").isalnum())
    if ticket is None:
        # Only a key the C code does not quote by hand is declined (there is room).
        assert needs_escaping and writer.appender.pos == before
        return
    assert not needs_escaping
    line = _written(writer)[before:]
    assert line == format_submit(
        ticket.job_id,
        STATIC.decode(),
        now_s,
        shots,
        num_circuits,
        key or ticket.job_id,
        calibration_s,
    )
    assert ticket.submitted_s == now_s


def test_stale_calibration_is_left_to_python(writer):
    starter = _fastspool.JobStarter(writer.appender, STATIC, lambda: 100.0, True, None)
    assert starter.begin(1, 1, None, None) is None  # never looked up
    starter.set_calibration(None, 40.0, 100.0)  # looked up at 40, valid until 100
    assert starter.begin(1, 1, None, None) is None
    starter.set_calibration(None, 40.0, 100.5)
    assert starter.begin(1, 1, None, None) is not None


def _result(counts_list, widths, shots_list, *, time_taken=0.25, success=True, job_id="p-1"):
    return Result.from_dict(
        {
            "backend_name": "b",
            "backend_version": "1",
            "job_id": job_id,
            "success": success,
            "time_taken": time_taken,
            "results": [
                {
                    "shots": shots,
                    "success": True,
                    "data": {"counts": counts},
                    "header": {"memory_slots": width},
                }
                for counts, width, shots in zip(counts_list, widths, shots_list, strict=True)
            ],
        }
    )


hex_key = st.integers(0, 2**70).map(hex)
odd_key = st.sampled_from(["0xA", "0x", "00", "0x1 ", "0x_1", "1", "0xg"])
counts_dicts = st.dictionaries(
    st.one_of(hex_key, hex_key, hex_key, odd_key), st.integers(0, 10**6), min_size=0, max_size=6
)


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    circuits=st.lists(st.tuples(counts_dicts, st.integers(0, 72)), min_size=1, max_size=10),
    shots_delta=st.sampled_from([0, 0, 0, 1, -1]),
    time_taken=st.one_of(st.floats(0, 1e4), st.none(), st.just(3), st.just("x")),
    attempts=st.integers(1, 5),
    cost=st.one_of(st.just(0.0), st.floats(0, 1e6)),
    record_counts=st.booleans(),
    success=st.sampled_from([True, True, False]),
)
def test_done_event_is_what_python_writes(
    writer, circuits, shots_delta, time_taken, attempts, cost, record_counts, success
):
    counts_list = [c for c, _ in circuits]
    widths = [w for _, w in circuits]
    shots_list = [max(1, sum(c.values())) for c in counts_list]
    shots_list[0] += shots_delta  # sometimes the counts do not sum to the shots
    shots = shots_list[0]
    result = _result(counts_list, widths, shots_list, time_taken=time_taken, success=success)
    before = writer.appender.pos
    written = writer.appender.done(
        "job-1", 10**18, result, shots, attempts, cost, "p-1", record_counts
    )
    plain = hex_counts(result, shots) if success else None
    if written == 0:
        # Declined: Python may still accept it (uppercase hex, negative counts...).
        assert writer.appender.pos == before
        return
    assert written == 1 and plain is not None, "C accepted a result Python rejects"
    expected = format_done(
        "job-1",
        10**18,
        run_seconds(result),
        attempts,
        cost,
        "p-1",
        plain[0],
        plain[1] if record_counts else None,
    )
    assert _written(writer)[before:] == expected


@pytest.mark.parametrize("record_counts", [True, False])
def test_plain_results_are_written_by_c(writer, record_counts):
    counts_list = [{"0x0": 7, "0x5": 3}, {"0x1": 10}, {hex(2**69): 4}]
    widths, shots_list = [3, 1, 70], [10, 10, 4]
    result = _result(counts_list, widths, shots_list, time_taken=0.5)
    before = writer.appender.pos
    assert writer.appender.done("j-1", 7, result, 10, 2, 1.25, "p-1", record_counts) == 1
    assert _written(writer)[before:] == format_done(
        "j-1", 7, 0.5, 2, 1.25, "p-1", widths, counts_list if record_counts else None
    )


def test_run_seconds_matches_python():
    for value in (0.5, 3, None, "x", True):
        result = _result([{"0x0": 1}], [1], [1], time_taken=value)
        assert _fastspool.run_seconds(result) == run_seconds(result)


# ------------------------------------------------------- recorded once, on time
@pytest.fixture(params=["c", "python"])
def proxy_parts(request, store, tmp_path):
    clock = VirtualClock()
    rec = SpoolRecorder(store, tmp_path / "spool", native=request.param == "c")
    backend = HeldBackend()
    proxy = ExecutionProxy(backend, store=store, recorder=rec, clock=clock)
    warm_up = proxy.run(measured(), shots=16)  # shows the proxy its jobs' kind
    backend.jobs.pop().release()
    warm_up.result()
    yield SimpleNamespace(proxy=proxy, backend=backend, clock=clock, recorder=rec, store=store)
    rec.close()


def _rows(parts, job):
    assert parts.recorder.flush()
    return [j for j in parts.store.jobs() if j.id == job.qsre_job_id]


def test_recorded_when_it_completes_not_when_collected(proxy_parts):
    p = proxy_parts
    job = p.proxy.run(measured(), shots=16)
    assert job._future is not None
    p.clock.advance(3)
    p.backend.jobs[-1].release()
    assert job._ticket.recorded  # by the callback, before anyone asked
    p.clock.advance(60)
    assert job.result().get_counts() == {"01": 16}
    (row,) = _rows(p, job)
    assert row.status == "done" and row.e2e_seconds == pytest.approx(3.0)
    assert p.store.counts(row.id) == [{"01": 16}]
    assert row.provider_job_id == job.job_id() == p.backend.jobs[-1].job_id()


def test_a_corrupt_result_is_declined_and_recorded_once(proxy_parts):
    p = proxy_parts
    p.backend.edit = lambda result: setattr(result.results[0].data, "counts", {"0x7": 16})
    job = p.proxy.run(measured(), shots=16)
    p.backend.jobs[-1].release()
    assert not job._ticket.recorded
    with pytest.raises(ResultCorrupt, match="register width 2"):
        job.result()
    (row,) = _rows(p, job)
    assert (row.status, row.error_class) == ("error", "result_corrupt")


def test_a_failed_job_is_recorded_once_by_result(proxy_parts):
    p = proxy_parts
    job = p.proxy.run(measured(), shots=16)
    p.backend.jobs[-1].fail(ValueError("qubit 3 is not calibrated"))
    with pytest.raises(ValueError):
        job.result()
    (row,) = _rows(p, job)
    assert row.status == "error" and "qubit 3" in row.error_message


def test_a_cancelled_job_is_recorded_once(proxy_parts):
    p = proxy_parts
    job = p.proxy.run(measured(), shots=16)
    assert job.cancel()
    (row,) = _rows(p, job)
    assert row.status == "cancelled"


def test_a_callback_that_never_runs_is_covered_by_result(proxy_parts):
    """The ticket is appended to the future's callbacks without its lock: one that
    arrives after the future ran them is never called, and result() records."""
    p = proxy_parts
    p.backend.edit = None
    real_run = p.backend.run

    def run_and_finish(run_input, **options):
        job = real_run(run_input, **options)
        job.release()  # callbacks already ran when the proxy appends its ticket
        return job

    p.backend.run = run_and_finish
    job = p.proxy.run(measured(), shots=16)
    assert job._future is not None and not job._ticket.recorded
    job.result()
    (row,) = _rows(p, job)
    assert row.status == "done" and p.store.counts(row.id) == [{"01": 16}]


class _SlowSuccess:
    """A result whose ``success`` makes the callback wait (it gives up the GIL)."""

    def __init__(self, result, entered, go):
        self.__dict__.update(result.__dict__)
        self._entered, self._go = entered, go

    @property
    def success(self):
        self._entered.set()
        self._go.wait(10)
        return True

    def __getattr__(self, name):
        return self._metadata[name] if name in self._metadata else super().__getattribute__(name)


@pytest.mark.parametrize("native", [True, False])
def test_result_waits_for_a_callback_under_way(store, tmp_path, native):
    """A claim made while the callback records (it gave up the GIL mid-way) waits
    for it, and the end is recorded once."""
    rec = SpoolRecorder(store, tmp_path / "spool", native=native)
    entered, go = threading.Event(), threading.Event()
    result = _SlowSuccess(_result([{"0x1": 4}], [1], [4], job_id="p-9"), entered, go)
    ticket = rec.finisher("job-9", 1.0, 4, True, lambda: 2.0, measured(1))
    future = SimpleNamespace(_exception=None, _result=result)
    worker = threading.Thread(target=ticket, args=(future,))
    worker.start()
    assert entered.wait(10)
    assert ticket.claim() is None  # under way: ask again
    claims: list[bool] = []

    def claim_until_answered():
        while (answer := ticket.claim()) is None:
            time.sleep(0.001)
        claims.append(answer)

    claimer = threading.Thread(target=claim_until_answered)
    claimer.start()
    time.sleep(0.05)
    assert not claims  # still waiting for the callback
    go.set()
    worker.join(10), claimer.join(10)
    assert claims == [False] and ticket.recorded
    assert ticket.claim() is False
    assert _written(rec.writer).count(b"job-9") == 1
    rec.close()


def test_aer_jobs_are_recorded_by_the_callback(store, recorder):
    """Guards the assumptions about Aer's AerJob (its _future and what it holds):
    if an Aer release changes them, jobs fall back to result() and this fails."""
    proxy = ExecutionProxy(AerSimulator(), store=store, recorder=recorder)
    proxy.run(measured(), shots=8).result()
    job = proxy.run(measured(), shots=8)
    assert job._future is not None
    job.result()
    assert job._ticket.recorded
    assert recorder.flush()
    row = next(j for j in store.jobs() if j.id == job.qsre_job_id)
    assert row.status == "done" and store.counts(row.id) == [{"01": 8}]


def test_a_collected_job_is_freed_without_the_cycle_collector(store, recorder):
    """The ticket on the future's callback list holds nothing that leads back to
    the job: with gc off (as in the benchmark) finished jobs are still freed."""
    proxy = ExecutionProxy(AerSimulator(), store=store, recorder=recorder)
    proxy.run(measured(), shots=8).result()
    gc.disable()
    try:
        job = proxy.run(measured(), shots=8)
        job.result()
        assert job._future is not None
        ref = weakref.ref(job)
        del job
        assert ref() is None
    finally:
        gc.enable()


# ----------------------------------------------------------------- the spool
def test_direct_and_locked_appends_interleave_across_rotations(tmp_path):
    writer = SpoolWriter(tmp_path, segment_bytes=4096)
    reader = SpoolReader(tmp_path, writer.proc_id)
    starter = _fastspool.JobStarter(writer.appender, STATIC, time.time, True, None)
    starter.set_calibration(None, float("-inf"), float("inf"))
    ids: list[str] = []
    lock = threading.Lock()

    def direct():
        for _ in range(400):
            ticket = starter.begin(4, 1, None, None)
            if ticket is None:  # segment full: the Python path rotates it
                line = format_submit(
                    "py-" + os.urandom(6).hex(), STATIC.decode(), 1.0, 4, 1, "k", None
                )
                assert writer.append(line)
                job_id = line.split(b'"id":"')[1].split(b'"')[0].decode()
            else:
                job_id = ticket.job_id
            with lock:
                ids.append(job_id)

    threads = [threading.Thread(target=direct) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    got = []
    while True:
        lines, offsets = reader.read_new(visible=writer.visible())
        if not lines:
            break
        got += lines
        reader.commit(offsets)
    writer.close(remove=False)
    seen = [line.split(b'"id":"')[1].split(b'"')[0].decode() for line in got]
    assert sorted(seen) == sorted(ids) and len(ids) == 2400
    assert len(reader.segments()) > 10


def test_direct_appends_respect_the_pending_bound(tmp_path):
    writer = SpoolWriter(tmp_path, max_pending_bytes=2000)
    starter = _fastspool.JobStarter(writer.appender, STATIC, time.time, True, None)
    starter.set_calibration(None, float("-inf"), float("inf"))
    made = [starter.begin(1, 1, None, None) for _ in range(20)]
    assert None in made and writer.pending_bytes <= 2000
    writer.shipped_bytes = writer.written_bytes  # the shipper caught up: room again
    assert starter.begin(1, 1, None, None) is not None
    writer.close(remove=False)


def test_a_forked_child_never_writes_into_the_parents_segment(tmp_path):
    writer = SpoolWriter(Path(tmp_path))
    starter = _fastspool.JobStarter(writer.appender, STATIC, time.time, True, None)
    starter.set_calibration(None, float("-inf"), float("inf"))
    assert starter.begin(1, 1, None, None) is not None
    size = writer.appender.pos
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        writer.abandon_after_fork()
        os._exit(0 if starter.begin(1, 1, None, None) is None else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert writer.appender.pos == size and _written(writer).count(b"\n") == 1
    writer.close(remove=False)
