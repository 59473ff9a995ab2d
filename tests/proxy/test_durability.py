"""Nothing lost, nothing doubled: kill -9, store outages, concurrent writers."""

from __future__ import annotations

import logging
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from qiskit import QuantumCircuit
from qiskit_aer import AerSimulator
from sqlalchemy.engine import make_url

from collector import Store
from collector.health import recorder_errors
from collector.proxy import ExecutionProxy
from collector.recorder import SpoolRecorder
from collector.shipper import adopt_orphans
from collector.spool import orphaned_processes

from .tcp_forwarder import TcpForwarder

CHILD = Path(__file__).with_name("child_jobs.py")
REPO = Path(__file__).resolve().parents[2]


def ghz(n: int) -> QuantumCircuit:
    qc = QuantumCircuit(n)
    qc.h(0)
    for q in range(1, n):
        qc.cx(0, q)
    qc.measure_all()
    return qc


def spawn_child(url: str, spool: Path, n_jobs: int, qubits: int, shots: int) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, str(CHILD), url, str(spool), str(n_jobs), str(qubits), str(shots)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


@pytest.mark.slow
def test_sigkill_loses_no_returned_job(store_url, tmp_path):
    """20 children SIGKILLed at random points: every job whose result() returned is
    in the store exactly once; jobs in flight at the kill are 'unknown'."""
    store = Store(store_url)
    spool = tmp_path / "spool"
    rng = random.Random(20261125)
    returned: set[str] = set()
    for _ in range(20):
        child = spawn_child(store_url, spool, 100_000, 12, 20000)
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "READY", child.stderr.read()
        deadline = time.monotonic() + rng.uniform(0.05, 0.6)
        lines: list[str] = []

        def read_all(c: subprocess.Popen = child, sink: list[str] = lines) -> None:
            sink.extend(iter(c.stdout.readline, ""))

        reader = threading.Thread(target=read_all)
        reader.start()
        time.sleep(max(0.0, deadline - time.monotonic()))
        child.send_signal(signal.SIGKILL)
        child.wait()
        reader.join()
        returned |= {ln.split()[1] for ln in lines if ln.startswith("DONE ")}
    assert len(orphaned_processes(spool)) == 20
    adopted = adopt_orphans(spool, store)
    assert len(adopted) == 20
    jobs = store.jobs()
    ids = [j.id for j in jobs]
    assert len(ids) == len(set(ids))
    by_id = {j.id: j for j in jobs}
    assert returned and returned <= set(by_id), "a job whose result() returned is missing"
    assert all(by_id[i].status == "done" for i in returned)
    statuses = {j.status for j in jobs}
    assert statuses <= {"done", "unknown"}, statuses
    unknown = [j for j in jobs if j.status == "unknown"]
    assert sum(adopted.values()) == len(unknown)
    assert all(j.id not in returned for j in unknown)
    assert list(spool.glob("*.spool")) == []
    assert orphaned_processes(spool) == []


def test_store_outage_postgres(pg_url, tmp_path):
    """PostgreSQL unreachable for a while: jobs succeed, then every event arrives once."""
    url = make_url(pg_url)
    fwd = TcpForwarder(url.host or "127.0.0.1", url.port or 5432)
    port = fwd.start()
    via = url.set(host="127.0.0.1", port=port).render_as_string(hide_password=False)
    store = Store(via)
    rec = SpoolRecorder(store, tmp_path / "spool", interval_s=0.05, max_delay_s=0.05)
    proxy = ExecutionProxy(AerSimulator(), store=store, recorder=rec)
    for _ in range(20):
        proxy.run(ghz(2), shots=10).result()
    assert rec.flush()
    fwd.cut()
    for _ in range(100):
        assert sum(proxy.run(ghz(2), shots=10).result().get_counts().values()) == 10
    time.sleep(0.3)
    assert rec.writer.pending_bytes > 0
    assert rec.shipper.last_error is not None
    fwd.restore()
    deadline = time.monotonic() + 30
    while rec.writer.pending_bytes and time.monotonic() < deadline:
        rec.flush(timeout_s=5)
    assert rec.writer.pending_bytes == 0
    direct = Store(pg_url)
    jobs = direct.jobs()
    assert len(jobs) == 120 == len({j.id for j in jobs})
    assert all(j.status == "done" for j in jobs)
    rec.close()
    fwd.cut()


def test_store_outage_sqlite(tmp_path):
    """SQLite locked by another writer for a while: same guarantees."""
    db = tmp_path / "q.db"
    store = Store(f"sqlite:///{db}", sqlite_busy_timeout_s=0.05)
    rec = SpoolRecorder(store, tmp_path / "spool", interval_s=0.05, max_delay_s=0.05)
    proxy = ExecutionProxy(AerSimulator(), store=store, recorder=rec)
    blocker = sqlite3.connect(db, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    for _ in range(50):
        proxy.run(ghz(2), shots=10).result()
    time.sleep(0.5)
    assert rec.writer.pending_bytes > 0 and rec.shipper.last_error is not None
    blocker.execute("COMMIT")
    blocker.close()
    deadline = time.monotonic() + 30
    while rec.writer.pending_bytes and time.monotonic() < deadline:
        rec.flush(timeout_s=5)
    jobs = store.jobs()
    assert len(jobs) == 50 == len({j.id for j in jobs})
    rec.close()


def test_spool_is_bounded_with_a_warning(store, tmp_path, caplog):
    rec = SpoolRecorder(store, tmp_path / "spool", max_pending_bytes=2000)
    rec.shipper.stop()  # nothing drains: the spool can only grow
    proxy = ExecutionProxy(AerSimulator(), store=store, recorder=rec)
    before = recorder_errors.snapshot().get("spool_full", 0)
    with caplog.at_level(logging.WARNING):
        for _ in range(30):
            assert proxy.run(ghz(2), shots=10).result()
    assert rec.writer.pending_bytes <= 2000
    assert recorder_errors.snapshot().get("spool_full", 0) > before
    assert any("spool" in r.message and "full" in r.message for r in caplog.records)


def test_eight_threads_one_proxy(store_url, tmp_path, caplog):
    store = Store(store_url)
    rec = SpoolRecorder(store, tmp_path / "spool", interval_s=0.05, max_delay_s=0.05)
    proxy = ExecutionProxy(AerSimulator(), store=store, recorder=rec)
    qc = ghz(1)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for _ in range(200):
                proxy.run(qc, shots=1).result()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    with caplog.at_level(logging.WARNING):
        threads = [threading.Thread(target=worker) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert rec.flush(timeout_s=60)
    assert errors == []
    assert store.count_jobs(status="done") == 1600
    assert len({j.id for j in store.jobs()}) == 1600
    assert not [r for r in caplog.records if "locked" in r.getMessage()]
    rec.close()


@pytest.mark.slow
def test_four_processes_one_store(store_url, tmp_path):
    Store(store_url)  # migrate once up front, like a deployed store
    spool = tmp_path / "spool"
    children = [spawn_child(store_url, spool, 200, 1, 1) for _ in range(4)]
    outputs = [c.communicate(timeout=300) for c in children]
    for child, (out, err) in zip(children, outputs, strict=True):
        assert child.returncode == 0, err
        assert out.count("DONE ") == 200
        assert "locked" not in err
    store = Store(store_url)
    assert store.count_jobs(status="done") == 800
    assert len({j.id for j in store.jobs()}) == 800
    assert list(spool.glob("*.spool")) == []
