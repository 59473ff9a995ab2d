"""StoreExporter against real SQLite and PostgreSQL stores, real promtool, real HTTP."""

from __future__ import annotations

import random
import shutil
import subprocess
from datetime import timedelta

import httpx
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, insert, select, text

from collector import metrics as m
from collector.clock import VirtualClock
from collector.exporter import RecorderErrors, StoreExporter, serve_metrics, stop_metrics_server
from collector.schema import TERMINAL_STATUSES, JobRow
from collector.store import Store

from .conftest import job, put

BACKEND_LABELS = {"backend": "aer"}


def value(exporter: StoreExporter, name: str, **labels: str) -> float | None:
    return exporter.registry.get_sample_value(name, labels)


def jobs_total(exporter: StoreExporter, **labels: str) -> float:
    """Sum of qsre_jobs_total samples matching the given labels."""
    total = 0.0
    for family in exporter.registry.collect():
        if family.name != "qsre_jobs":
            continue
        for s in family.samples:
            if all(s.labels.get(k) == v for k, v in labels.items()):
                total += s.value
    return total


@pytest.mark.parametrize("startup_tail_rows", [0, 1000])
def test_each_terminal_job_counted_once_across_scrapes(store, t0, startup_tail_rows):
    put(
        store,
        [
            job("d1", t0, cost_usd=0.5),
            job("d2", t0, cost_usd=0.25, shots=200),
            job("e1", t0, backend="ibm", project="beta", status="error", error_class="auth"),
            job("r1", t0, status="running"),
            job("q1", t0, status="queued"),
            job("q2", t0, backend="ibm", status="queued"),
        ],
    )
    clock = VirtualClock(t0)
    exp = StoreExporter(store, clock, startup_tail_rows=startup_tail_rows)
    for _ in range(2):  # a second scrape with nothing new changes nothing
        assert (
            value(
                exp,
                "qsre_jobs_total",
                backend="aer",
                project="alpha",
                status="done",
                error_class="",
            )
            == 2
        )
        assert (
            value(
                exp,
                "qsre_jobs_total",
                backend="ibm",
                project="beta",
                status="error",
                error_class="auth",
            )
            == 1
        )
        assert value(exp, "qsre_jobs_in_flight", backend="aer") == 2
        assert value(exp, "qsre_jobs_in_flight", backend="ibm") == 1
        assert value(exp, "qsre_shots_total", backend="aer", project="alpha") == 1200
        assert value(exp, "qsre_cost_usd_total", backend="aer", project="alpha") == 0.75

    # r1 and q1 finish, q2 fails, a new job arrives; repeated deliveries of the same
    # terminal snapshot (a shipper retry) must not double anything.
    put(
        store,
        [
            job("r1", t0, status="done", cost_usd=1.0),
            job("q1", t0, status="error", error_class="transient", attempts=3),
            job("q2", t0, backend="ibm", status="cancelled"),
            job("q3", t0, status="queued"),
        ],
    )
    for _ in range(3):
        put(store, [job("r1", t0, status="done", cost_usd=1.0)])
        assert jobs_total(exp) == 6
        assert (
            value(
                exp,
                "qsre_jobs_total",
                backend="aer",
                project="alpha",
                status="done",
                error_class="",
            )
            == 3
        )
        assert (
            value(
                exp,
                "qsre_jobs_total",
                backend="aer",
                project="alpha",
                status="error",
                error_class="transient",
            )
            == 1
        )
        assert (
            value(
                exp,
                "qsre_jobs_total",
                backend="ibm",
                project="alpha",
                status="cancelled",
                error_class="",
            )
            == 1
        )
        assert value(exp, "qsre_jobs_in_flight", backend="aer") == 1
        assert value(exp, "qsre_jobs_in_flight", backend="ibm") == 0
        assert value(exp, "qsre_job_attempts_total", backend="aer") == 1 + 1 + 1 + 3
        assert value(exp, "qsre_cost_usd_total", backend="aer", project="alpha") == 1.75
        # Queue-time histogram: q1 finished without ever starting (no queue_seconds).
        assert value(exp, "qsre_job_queue_seconds_count", backend="aer") == 4
        assert value(exp, "qsre_job_run_seconds_bucket", backend="aer", le="1.0") == 0
        assert value(exp, "qsre_job_run_seconds_bucket", backend="aer", le="5.0") == 4


def _random_jobs(t0, n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    boundaries = list(m.LATENCY_BUCKETS_SECONDS)
    out = []
    for i in range(n):
        status = rng.choice(["done", "done", "done", "error", "cancelled", "running", "queued"])
        # Half the latencies sit exactly on a bucket bound: le is inclusive in both the
        # SQL aggregate and the per-row path.
        q = rng.choice(boundaries) if rng.random() < 0.5 else rng.expovariate(1 / 30)
        r = rng.choice(boundaries) if rng.random() < 0.5 else rng.expovariate(1 / 5)
        out.append(
            job(
                f"j{i}",
                t0 + timedelta(seconds=i),
                backend=rng.choice(["aer", "ibm", "ionq"]),
                project=rng.choice(["alpha", "beta", ""]),
                status=status,
                shots=rng.choice([None, 100, 1000, 4000]),
                queue_seconds=q,
                run_seconds=r,
                cost_usd=round(rng.random(), 3),
                attempts=rng.randint(1, 3),
                error_class=rng.choice(["auth", "transient", None]) if status == "error" else None,
            )
        )
    return out


def _samples(exporter: StoreExporter) -> dict[tuple, float]:
    out = {}
    for family in exporter.registry.collect():
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_sql_bootstrap_equals_row_by_row_tailing_and_store_sums(store, t0):
    put(store, _random_jobs(t0, 120, seed=7))
    clock = VirtualClock(t0)
    aggregated = _samples(StoreExporter(store, clock, startup_tail_rows=0))
    tailed = _samples(StoreExporter(store, clock, startup_tail_rows=10**9))
    assert aggregated.keys() == tailed.keys()
    for key, v in aggregated.items():
        assert tailed[key] == pytest.approx(v, rel=1e-9), key

    t = JobRow.__table__
    with store.engine.connect() as conn:
        shots, cost, n = conn.execute(
            select(func.sum(t.c.shots), func.sum(t.c.cost_usd), func.count()).where(
                t.c.status.in_(TERMINAL_STATUSES)
            )
        ).one()
        flying = conn.execute(
            select(func.count()).where(t.c.status.in_(["queued", "running"]))
        ).scalar_one()
    exported = lambda name: sum(v for (n_, _), v in aggregated.items() if n_ == name)  # noqa: E731
    assert exported("qsre_jobs_total") == n
    assert exported("qsre_shots_total") == shots
    assert exported("qsre_cost_usd_total") == pytest.approx(cost)
    assert exported("qsre_jobs_in_flight") == flying
    assert exported("qsre_job_e2e_seconds_count") == n


def test_jobs_written_by_another_store_handle_are_picked_up(store, store_url, t0):
    exp = StoreExporter(store, VirtualClock(t0))
    assert jobs_total(exp) == 0
    other = Store(store_url)  # stands in for a user process writing the same store
    try:
        put(other, [job("x1", t0, status="running"), job("x2", t0)])
        assert jobs_total(exp) == 1
        assert value(exp, "qsre_jobs_in_flight", backend="aer") == 1
        put(other, [job("x1", t0, status="done")])
        assert jobs_total(exp) == 2
        assert value(exp, "qsre_jobs_in_flight", backend="aer") == 0
    finally:
        other.close()


def test_scrape_reads_only_new_rows(store, t0):
    put(store, _random_jobs(t0, 50, seed=3))
    exp = StoreExporter(store, VirtualClock(t0), startup_tail_rows=0)
    exp.start()
    pending = len(exp._pending)
    assert exp.refresh() == 0  # nothing new: no row transferred (pending ones stay non-terminal)
    put(store, [job(f"n{i}", t0) for i in range(5)])
    assert exp.refresh() == 5
    assert exp.refresh() == 0
    assert len(exp._pending) == pending


def test_row_appearing_below_the_cursor_is_counted_once(store, t0):
    """A seq hole (an insert that commits after a later seq was read) is re-checked."""
    t = JobRow.__table__
    base = {c: None for c in ("provider_job_id", "idempotency_key", "circuit_hash")}

    def raw(seq: int, job_id: str) -> dict:
        return {
            **base,
            "seq": seq,
            "id": job_id,
            "backend": "aer",
            "project": "p",
            "tags": {},
            "purpose": "workload",
            "num_circuits": 1,
            "shots": 10,
            "submitted_at": t0,
            "status": "done",
            "attempts": 1,
            "cost_usd": 0.0,
            "e2e_seconds": 0.1,
        }

    with store.engine.begin() as conn:
        conn.execute(insert(t), [raw(1, "a"), raw(3, "c")])
    clock = VirtualClock(t0)
    exp = StoreExporter(store, clock, startup_tail_rows=100, gap_grace_s=10, gap_min_checks=2)
    assert jobs_total(exp) == 2
    with store.engine.begin() as conn:
        conn.execute(insert(t), [raw(2, "b")])
    assert jobs_total(exp) == 3
    assert jobs_total(exp) == 3
    clock.advance(11)
    assert jobs_total(exp) == 3
    assert exp._gaps == []  # checked often and long enough: forgotten

    # Under a clock that never moves, holes are still bounded by max_gaps.
    frozen = StoreExporter(store, VirtualClock(t0), startup_tail_rows=100, max_gaps=2)
    with store.engine.begin() as conn:
        conn.execute(insert(t), [raw(seq, f"x{seq}") for seq in (10, 12, 14, 16, 18)])
    assert jobs_total(frozen) == 8
    assert len(frozen._gaps) == 2
    assert [g.lo for g in frozen._gaps] == [15, 17]  # the newest holes are kept


def test_postgres_transaction_committing_out_of_seq_order(pg_url, t0):
    """Real concurrency: seq 1 commits after seq 2 has been scraped."""
    store = Store(pg_url)
    try:
        exp = StoreExporter(store, VirtualClock(t0))
        slow = store.engine.connect()
        slow.begin()
        slow.execute(
            insert(JobRow.__table__).values(
                id="slow",
                backend="aer",
                project="p",
                tags={},
                purpose="workload",
                submitted_at=t0,
                status="done",
            )
        )
        put(store, [job("fast", t0)])
        assert jobs_total(exp) == 1
        slow.commit()
        slow.close()
        assert jobs_total(exp) == 2
        assert jobs_total(exp) == 2
    finally:
        store.close()


def test_calibration_age_spool_errors_and_sources(store, t0):
    store.upsert_backend("ibm", seen_at=t0, calibration_at=t0 - timedelta(hours=1))
    store.upsert_backend("aer", seen_at=t0)
    clock = VirtualClock(t0)
    errors = RecorderErrors()
    exp = StoreExporter(store, clock, recorder_errors=errors, spool_events=lambda: {"pending": 7})

    class Verdicts:
        def collect(self):
            g = GaugeMetricFamily(
                m.BACKEND_VERDICT.name, m.BACKEND_VERDICT.help, labels=m.BACKEND_VERDICT.labels
            )
            g.add_metric(["ibm", "ok"], 1)
            yield g

    class Broken:
        def collect(self):
            raise RuntimeError("boom")

    exp.add_source(Verdicts())
    exp.add_source(Broken())
    errors.inc("store")
    errors.inc("store")
    clock.advance(60)
    assert value(exp, "qsre_backend_calibration_age_seconds", backend="ibm") == 3660
    assert value(exp, "qsre_backend_calibration_age_seconds", backend="aer") is None
    assert value(exp, "qsre_spool_events", state="pending") == 7
    assert value(exp, "qsre_recorder_errors_total", recorder="store") == 2
    assert value(exp, "qsre_backend_verdict", backend="ibm", verdict="ok") == 1
    assert (
        errors.snapshot().get("exporter_source", 0) >= 1
    )  # the broken source is counted, not raised
    with pytest.raises(TypeError):
        exp.add_source(object())  # type: ignore[arg-type]


def test_store_failure_serves_last_state_and_counts_it(sqlite_url, t0):
    store = Store(sqlite_url)
    put(store, [job("a", t0)])
    errors = RecorderErrors()
    exp = StoreExporter(store, VirtualClock(t0), recorder_errors=errors)
    assert jobs_total(exp) == 1
    assert "exporter" not in errors.snapshot()
    with store.engine.begin() as conn:
        conn.execute(text("DROP TABLE jobs"))
    assert jobs_total(exp) == 1
    assert errors.snapshot()["exporter"] >= 1
    store.close()


def _exposition(store, t0) -> str:
    put(store, _random_jobs(t0, 40, seed=11))
    put(
        store,
        [
            job(
                "tagged-job",
                t0,
                circuit_hash="c0ffee" * 10,
                provider_job_id="provider-xyz",
                idempotency_key="idem-123",
                tags={"team": "zeta-team", "purpose": "workload"},
            )
        ],
    )
    store.upsert_backend("ibm", seen_at=t0, calibration_at=t0 - timedelta(minutes=5))
    registry = CollectorRegistry()
    exp = StoreExporter(
        store,
        VirtualClock(t0),
        registry,
        recorder_errors=RecorderErrors(),
        spool_events=lambda: {"pending": 0},
    )
    exp.recorder_errors.inc("shipper")
    return generate_latest(registry).decode()


def test_exposition_passes_promtool_and_has_bounded_labels(store, t0, tmp_path):
    body = _exposition(store, t0)
    assert "_created" not in body
    for unbounded in ("tagged-job", "c0ffee", "provider-xyz", "idem-123", "zeta-team"):
        assert unbounded not in body
    families = list(text_string_to_metric_families(body))
    assert {f.name for f in families} >= {
        s.name.removesuffix("_total") for s in m.COLLECTOR_METRICS
    }
    by_name = {
        s.name.removesuffix("_total") if s.type == "counter" else s.name: s for s in m.CATALOGUE
    }
    job_ids = {f"j{i}" for i in range(40)}
    for family in families:
        spec = by_name[family.name]
        assert family.type == spec.type
        for s in family.samples:
            assert set(s.labels) - {"le"} == set(spec.labels), s
            assert not job_ids & set(s.labels.values()), s
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("SKIPPED LOUDLY: promtool not installed (apt-get install prometheus)")
    proc = subprocess.run(
        [promtool, "check", "metrics"], input=body, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip() == "" and proc.stderr.strip() == "", proc.stdout + proc.stderr


def test_serve_metrics_over_http(sqlite_url, t0):
    store = Store(sqlite_url)
    put(store, [job("a", t0, backend="served")])
    exp = StoreExporter(store, VirtualClock(t0))
    server, thread, port = serve_metrics(exp, "127.0.0.1", 0)
    try:
        resp = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/plain")
        assert (
            'qsre_jobs_total{backend="served",error_class="",project="alpha",status="done"} 1.0'
            in resp.text
        )
        put(store, [job("b", t0, backend="served")])
        resp = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
        assert 'status="done"} 2.0' in resp.text
    finally:
        stop_metrics_server(server, thread)
        store.close()
    assert not thread.is_alive()
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2)
