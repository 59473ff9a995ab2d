"""Prometheus ``/metrics`` for the whole store, by tailing it.

Proxies run in many short-lived processes and all write one event store; the daemon
serves metrics by reading the store, so a job recorded by any process shows up.

How each job is counted exactly once when it becomes terminal:

* **Start-up.** In one snapshot transaction, terminal rows up to a base ``seq`` are
  aggregated with ``GROUP BY`` (counts, shots, cost, attempts and histogram buckets
  are computed in SQL, no per-row transfer), and non-terminal rows up to that base
  are remembered as *pending*. The newest ``startup_tail_rows`` rows are left to the
  tailing path so that gap tracking (below) covers them.
* **Tailing.** Each scrape reads only rows with ``seq`` above the cursor. A terminal
  row is counted; a non-terminal one becomes pending. Pending rows are rechecked
  (``seq IN (...) AND status terminal``) on every scrape and counted once when they
  turn terminal — a terminal row never changes again (the store refuses to
  overwrite it), so no later update can double it.
* **Gaps.** ``seq`` values are handed out at insert time, not at commit time: on
  PostgreSQL a concurrent transaction can commit seq 10 after seq 11 was already
  read, and every ``INSERT .. ON CONFLICT DO UPDATE`` burns a sequence value. Holes
  below the cursor are therefore remembered as ranges and re-queried until they
  have been checked ``gap_min_checks`` times over at least ``gap_grace_s`` seconds
  of clock time; a row that appears in a hole is handled like a new row. On SQLite
  writers are serialised and holes do not occur in practice.

``qsre_spool_events{state}`` comes from a callback the daemon supplies
(``spool_events=lambda: {"pending": n, ...}``); qsre's spool reports ``pending``
(events written but not yet shipped to the store) and may add other states, e.g.
``orphaned`` (spool files of dead processes not yet adopted). It is a gauge: the
spool shrinks when the shipper catches up.

``qsre_recorder_errors_total{recorder}`` exposes ``collector.health.recorder_errors``
(the process-wide ``RecorderErrors`` that the proxy, spool and shipper increment) unless
another ``RecorderErrors`` is passed in; the exporter adds ``exporter`` (store read
failed, last state served) and ``exporter_source`` (an added source raised).
"""

from __future__ import annotations

import bisect
import logging
import math
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, disable_created_metrics, start_http_server
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.utils import floatToGoString
from sqlalchemy import Connection, and_, case, func, inspect, or_, select

from collector import health
from collector import metrics as m
from collector.clock import Clock, as_utc
from collector.health import RecorderErrors
from collector.schema import TERMINAL_STATUSES, BackendRow, ExporterCheckpointRow, JobRow

log = logging.getLogger(__name__)

NON_TERMINAL_STATUSES = ("queued", "running")
HISTOGRAM_COLUMNS: tuple[tuple[m.MetricSpec, str], ...] = (
    (m.JOB_QUEUE_SECONDS, "queue_seconds"),
    (m.JOB_RUN_SECONDS, "run_seconds"),
    (m.JOB_E2E_SECONDS, "e2e_seconds"),
)
_ROW_COLUMNS = (
    "seq",
    "backend",
    "project",
    "status",
    "error_class",
    "shots",
    "cost_usd",
    "attempts",
    "queue_seconds",
    "run_seconds",
    "e2e_seconds",
)
__all__ = [
    "MetricSource",
    "RecorderErrors",
    "StoreExporter",
    "serve_metrics",
    "stop_metrics_server",
]
_IN_CHUNK = 500  # bound on bind parameters per query (SQLite's default limit is 999+)
# A checkpoint is only read back by the code that wrote its shape and buckets.
_CHECKPOINT_FORMAT = "1:" + ";".join(
    f"{spec.name}={','.join(map(str, spec.buckets or ()))}" for spec, _ in HISTOGRAM_COLUMNS
)


class MetricSource(Protocol):
    """Anything that yields Prometheus metric families (validators, the SLO engine)."""

    def collect(self) -> Iterable[Metric]: ...


class _Histogram:
    """Per-bucket (non-cumulative) counts plus sum; cumulated on export."""

    __slots__ = ("buckets", "count", "per_bucket", "sum")

    def __init__(self, buckets: tuple[float, ...]) -> None:
        self.buckets = buckets
        self.per_bucket = [0] * (len(buckets) + 1)  # last slot is (max bucket, +Inf)
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        # bisect_left: a value equal to a bound belongs to that bucket (le is inclusive).
        self.per_bucket[bisect.bisect_left(self.buckets, value)] += 1
        self.sum += value
        self.count += 1

    def add_cumulative(self, cumulative: list[int], count: int, total: float) -> None:
        prev = 0
        for i, c in enumerate(cumulative):
            self.per_bucket[i] += c - prev
            prev = c
        self.per_bucket[-1] += count - prev
        self.count += count
        self.sum += total

    def exposition(self) -> list[tuple[str, float]]:
        out: list[tuple[str, float]] = []
        running = 0
        for bound, n in zip(self.buckets, self.per_bucket, strict=False):
            running += n
            out.append((floatToGoString(bound), running))
        out.append(("+Inf", self.count))
        return out


@dataclass(slots=True)
class _Gap:
    lo: int
    hi: int
    first_seen: datetime
    checks: int = 0


class StoreExporter:
    """A prometheus_client custom collector over the event store (see module doc).

    ``registry``: the exporter registers itself there (a fresh registry if None,
    available as ``.registry``). ``spool_events``: callback returning
    ``{state: events}``. ``recorder_errors``: the shared ``RecorderErrors``.
    """

    def __init__(
        self,
        store: Any,
        clock: Clock,
        registry: CollectorRegistry | None = None,
        *,
        recorder_errors: RecorderErrors | None = None,
        spool_events: Callable[[], Mapping[str, float]] | None = None,
        batch_rows: int = 5000,
        startup_tail_rows: int = 1000,
        gap_grace_s: float = 30.0,
        gap_min_checks: int = 3,
        max_gaps: int = 20_000,
        checkpoint_interval_s: float | None = 300.0,
    ) -> None:
        # Counters made by prometheus_client itself (e.g. in a source) would otherwise
        # expose *_created series, which are noise for qsre and trip dashboards.
        disable_created_metrics()
        self.store = store
        self.clock = clock
        # Default: the process-wide counter the proxy and shipper increment.
        self.recorder_errors = (
            recorder_errors if recorder_errors is not None else health.recorder_errors
        )
        self.spool_events = spool_events
        self.batch_rows = batch_rows
        self.startup_tail_rows = startup_tail_rows
        self.gap_grace_s = gap_grace_s
        self.gap_min_checks = gap_min_checks
        self.max_gaps = max_gaps
        self.checkpoint_interval_s = checkpoint_interval_s
        self._checkpointed_at: datetime | None = None
        self.restored_from: int | None = None  # the checkpoint cursor started from, if any
        self._sources: list[MetricSource] = []
        self._lock = threading.RLock()
        self._started = False
        self._cursor = 0
        self._pending: dict[int, str] = {}  # seq -> backend of rows not yet terminal
        self._gaps: list[_Gap] = []
        self._handled_in_gaps: set[int] = set()
        self._jobs: dict[tuple[str, str, str, str], int] = defaultdict(int)
        self._attempts: dict[str, int] = defaultdict(int)
        self._shots: dict[tuple[str, str], int] = defaultdict(int)
        self._cost_usd: dict[tuple[str, str], float] = defaultdict(float)
        self._hists: dict[str, dict[str, _Histogram]] = {
            spec.name: {} for spec, _ in HISTOGRAM_COLUMNS
        }
        self.registry = registry if registry is not None else CollectorRegistry()
        self.registry.register(self)

    # ------------------------------------------------------------------ public API
    def add_source(self, source: MetricSource) -> None:
        """Add metric families produced elsewhere (validators, SLO engine) to /metrics."""
        if not callable(getattr(source, "collect", None)):
            raise TypeError(f"add_source: {source!r} has no collect() method")
        with self._lock:
            self._sources.append(source)

    def start(self) -> None:
        """Aggregate the existing store now (otherwise the first scrape does it)."""
        with self._lock:
            if not self._started:
                self._bootstrap()
                self._started = True
                # The first checkpoint one interval after start: the state just read
                # (or restored) is what the store already holds.
                self._checkpointed_at = self.clock.now()

    def refresh(self) -> int:
        """Read what changed in the store since the last call; returns rows examined."""
        with self._lock:
            self.start()
            with self.store.engine.connect() as conn:
                n = self._tail(conn)
                n += self._recheck_pending(conn)
                n += self._recheck_gaps(conn)
                conn.commit()
            interval = self.checkpoint_interval_s
            if interval is not None and (
                self._checkpointed_at is None
                or (self.clock.now() - self._checkpointed_at).total_seconds() >= interval
            ):
                self.checkpoint()
            return n

    def checkpoint(self) -> bool:
        """Persist the totals up to the cursor (see ``_restore``); True if written. A
        failure is logged and counted, never raised: telemetry never fails a scrape."""
        with self._lock:
            if not self._started:
                return False
            try:
                written = _save_checkpoint(self.store, self._cursor, self._state(), self.clock)
            except Exception:  # noqa: BLE001
                log.exception("exporter checkpoint not saved")
                self.recorder_errors.inc("exporter")
                return False
            self._checkpointed_at = self.clock.now()
            return written

    @property
    def cursor(self) -> int:
        """Highest ``jobs.seq`` read so far."""
        return self._cursor

    def describe(self) -> Iterator[Metric]:
        # Lets the registry check for name clashes without touching the store.
        return iter(self._families(with_samples=False))

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            calibration: list[tuple[str, datetime]] = []
            try:
                self.refresh()
                calibration = self._calibrations()
            except Exception:  # noqa: BLE001 - telemetry never fails the scrape
                log.exception("exporter could not read the store; serving the last state")
                self.recorder_errors.inc("exporter")
            families = self._families(with_samples=True, calibration=calibration)
            sources = list(self._sources)
        yield from families
        for source in sources:
            try:
                extra = list(source.collect())
            except Exception:  # noqa: BLE001
                log.exception("metric source %r failed; its families are omitted", source)
                self.recorder_errors.inc("exporter_source")
                continue
            yield from extra

    # ------------------------------------------------------------------ checkpoints
    def _state(self) -> dict[str, Any]:
        return {
            "format": _CHECKPOINT_FORMAT,
            "jobs": [[*key, n] for key, n in self._jobs.items()],
            "attempts": dict(self._attempts),
            "shots": [[b, p, n] for (b, p), n in self._shots.items()],
            "cost_usd": [[b, p, x] for (b, p), x in self._cost_usd.items()],
            "hists": {
                name: {b: [h.per_bucket, h.sum, h.count] for b, h in per_backend.items()}
                for name, per_backend in self._hists.items()
            },
            "pending": [[seq, b] for seq, b in self._pending.items()],
            "gaps": [[g.lo, g.hi, g.first_seen.isoformat(), g.checks] for g in self._gaps],
            "handled_in_gaps": sorted(self._handled_in_gaps),
        }

    def _restore(self, conn: Connection) -> bool:
        """Start from the newest checkpoint instead of aggregating the whole table:
        its totals cover every terminal row up to its cursor, its pending rows and
        gaps are rechecked as if this exporter had never stopped. Ignored when it was
        written in another format or is ahead of the store (a store restored from an
        older backup)."""
        t = ExporterCheckpointRow.__table__
        row = conn.execute(select(t.c.cursor, t.c.state).where(t.c.name == "jobs")).first()
        if row is None or (row.state or {}).get("format") != _CHECKPOINT_FORMAT:
            return False
        max_seq = conn.execute(select(func.max(JobRow.__table__.c.seq))).scalar() or 0
        if int(row.cursor) > int(max_seq):
            log.warning("exporter checkpoint at seq %d is ahead of the store; ignored", row.cursor)
            return False
        state = row.state
        for b, p, status, e, n in state["jobs"]:
            self._jobs[(b, p, status, e)] += int(n)
        for b, n in state["attempts"].items():
            self._attempts[b] += int(n)
        for b, p, n in state["shots"]:
            self._shots[(b, p)] += int(n)
        for b, p, x in state["cost_usd"]:
            self._cost_usd[(b, p)] += float(x)
        specs = {spec.name: spec for spec, _ in HISTOGRAM_COLUMNS}
        for name, per_backend in state["hists"].items():
            for b, (per_bucket, total, count) in per_backend.items():
                h = self._hist(specs[name], b)
                h.per_bucket = [int(v) for v in per_bucket]
                h.sum, h.count = float(total), int(count)
        self._pending = {int(seq): b for seq, b in state["pending"]}
        self._gaps = [
            _Gap(int(lo), int(hi), datetime.fromisoformat(at), int(checks))
            for lo, hi, at, checks in state["gaps"]
        ]
        self._handled_in_gaps = {int(s) for s in state["handled_in_gaps"]}
        self._cursor = int(row.cursor)
        self.restored_from = self._cursor
        return True

    # ------------------------------------------------------------------ reading
    def _bootstrap(self) -> None:
        with self.store.engine.connect() as conn:
            restored = self._has_checkpoints(conn) and self._restore(conn)
            conn.commit()
        if restored:
            log.info("exporter resumed from its checkpoint at seq %d", self._cursor)
            return
        self._aggregate()

    @staticmethod
    def _has_checkpoints(conn: Connection) -> bool:
        # A store not migrated to c0007 (an exporter on a bare engine) has none.
        return inspect(conn).has_table(ExporterCheckpointRow.__tablename__)

    def _aggregate(self) -> None:
        t = JobRow.__table__
        conn_opts: dict[str, Any] = {}
        if self.store.dialect == "postgresql":
            # One snapshot for the aggregate and the pending list: a row turning
            # terminal between the two queries would otherwise be lost or doubled.
            conn_opts["isolation_level"] = "REPEATABLE READ"
        with self.store.engine.connect().execution_options(**conn_opts) as conn:
            max_seq = conn.execute(select(func.max(t.c.seq))).scalar() or 0
            base = max(0, int(max_seq) - self.startup_tail_rows)
            terminal_upto = and_(t.c.status.in_(TERMINAL_STATUSES), t.c.seq <= base)
            q = (
                select(
                    t.c.backend,
                    t.c.project,
                    t.c.status,
                    t.c.error_class,
                    func.count(),
                    func.coalesce(func.sum(t.c.shots), 0),
                    func.coalesce(func.sum(t.c.cost_usd), 0.0),
                    func.coalesce(func.sum(t.c.attempts), 0),
                )
                .where(terminal_upto)
                .group_by(t.c.backend, t.c.project, t.c.status, t.c.error_class)
            )
            for backend, project, status, error_class, n, shots, cost, attempts in conn.execute(q):
                project = project or ""
                self._jobs[(backend, project, status, error_class or "")] += int(n)
                self._attempts[backend] += int(attempts)
                self._shots[(backend, project)] += int(shots)
                self._cost_usd[(backend, project)] += float(cost)
            hist_cols: list[Any] = []
            for spec, col_name in HISTOGRAM_COLUMNS:
                col = t.c[col_name]
                hist_cols.append(func.count(col))
                hist_cols.append(func.coalesce(func.sum(col), 0.0))
                assert spec.buckets is not None
                hist_cols.extend(func.sum(case((col <= b, 1), else_=0)) for b in spec.buckets)
            q = select(t.c.backend, *hist_cols).where(terminal_upto).group_by(t.c.backend)
            for row in conn.execute(q):
                backend, values = row[0], list(row[1:])
                pos = 0
                for spec, _ in HISTOGRAM_COLUMNS:
                    assert spec.buckets is not None
                    count, total = int(values[pos]), float(values[pos + 1])
                    cumulative = [
                        int(v or 0) for v in values[pos + 2 : pos + 2 + len(spec.buckets)]
                    ]
                    pos += 2 + len(spec.buckets)
                    if count:
                        self._hist(spec, backend).add_cumulative(cumulative, count, total)
            q = select(t.c.seq, t.c.backend).where(
                t.c.status.not_in(TERMINAL_STATUSES), t.c.seq <= base
            )
            for seq, backend in conn.execute(q):
                self._pending[int(seq)] = backend
            conn.commit()
        self._cursor = base

    def _select_rows(self) -> Any:
        t = JobRow.__table__
        return select(*(t.c[c] for c in _ROW_COLUMNS))

    def _tail(self, conn: Connection) -> int:
        t = JobRow.__table__
        examined = 0
        now = self.clock.now()
        while True:
            q = (
                self._select_rows()
                .where(t.c.seq > self._cursor)
                .order_by(t.c.seq)
                .limit(self.batch_rows)
            )
            rows = conn.execute(q).mappings().all()
            for row in rows:
                seq = int(row["seq"])
                if seq > self._cursor + 1:
                    self._gaps.append(_Gap(self._cursor + 1, seq - 1, now))
                self._handle(row)
                self._cursor = seq
            examined += len(rows)
            if len(rows) < self.batch_rows:
                return examined

    def _recheck_pending(self, conn: Connection) -> int:
        if not self._pending:
            return 0
        t = JobRow.__table__
        seqs = list(self._pending)
        examined = 0
        for i in range(0, len(seqs), _IN_CHUNK):
            chunk = seqs[i : i + _IN_CHUNK]
            # No status filter in SQL: with one, SQLite picks the (status, finished_at)
            # index and scans every terminal row (~100 ms at 1M jobs) instead of a few
            # primary-key lookups.
            q = self._select_rows().where(t.c.seq.in_(chunk))
            for row in conn.execute(q).mappings():
                if row["status"] in TERMINAL_STATUSES:
                    examined += 1
                    self._handle(row)
        return examined

    def _recheck_gaps(self, conn: Connection) -> int:
        if not self._gaps:
            return 0
        t = JobRow.__table__
        examined = 0
        for i in range(0, len(self._gaps), _IN_CHUNK):
            chunk = self._gaps[i : i + _IN_CHUNK]
            where = or_(*(t.c.seq.between(g.lo, g.hi) for g in chunk))
            for row in conn.execute(self._select_rows().where(where)).mappings():
                seq = int(row["seq"])
                if seq in self._handled_in_gaps:
                    continue
                examined += 1
                self._handled_in_gaps.add(seq)
                self._handle(row)
        now = self.clock.now()
        kept: list[_Gap] = []
        for gap in self._gaps:
            gap.checks += 1
            old_enough = (now - gap.first_seen).total_seconds() >= self.gap_grace_s
            if not (gap.checks >= self.gap_min_checks and old_enough):
                kept.append(gap)
        # A clock that does not move (a paused virtual clock) would keep every hole
        # forever; past max_gaps the oldest holes, long committed or burnt, are dropped.
        self._gaps = kept[-self.max_gaps :] if len(kept) > self.max_gaps else kept
        kept = self._gaps
        if kept:
            low = min(g.lo for g in kept)
            self._handled_in_gaps = {s for s in self._handled_in_gaps if s >= low}
        else:
            self._handled_in_gaps.clear()
        return examined

    def _handle(self, row: Mapping[str, Any]) -> None:
        seq = int(row["seq"])
        backend = row["backend"]
        if row["status"] not in TERMINAL_STATUSES:
            self._pending[seq] = backend
            return
        self._pending.pop(seq, None)
        project = row["project"] or ""
        self._jobs[(backend, project, row["status"], row["error_class"] or "")] += 1
        self._attempts[backend] += int(row["attempts"] or 0)
        self._shots[(backend, project)] += int(row["shots"] or 0)
        self._cost_usd[(backend, project)] += float(row["cost_usd"] or 0.0)
        for spec, col in HISTOGRAM_COLUMNS:
            value = row[col]
            if value is not None and not math.isnan(value):
                self._hist(spec, backend).observe(float(value))

    def _hist(self, spec: m.MetricSpec, backend: str) -> _Histogram:
        per_backend = self._hists[spec.name]
        h = per_backend.get(backend)
        if h is None:
            assert spec.buckets is not None
            h = per_backend[backend] = _Histogram(spec.buckets)
        return h

    def _calibrations(self) -> list[tuple[str, datetime]]:
        b = BackendRow.__table__
        q = select(b.c.name, b.c.last_calibration_at).where(b.c.last_calibration_at.is_not(None))
        with self.store.engine.connect() as conn:
            rows = conn.execute(q).all()
            conn.commit()
        return [(name, as_utc(at)) for name, at in rows]  # type: ignore[misc]

    # ------------------------------------------------------------------ exposition
    def _families(
        self, *, with_samples: bool, calibration: list[tuple[str, datetime]] | None = None
    ) -> list[Metric]:
        jobs = _counter(m.JOBS_TOTAL)
        attempts = _counter(m.JOB_ATTEMPTS_TOTAL)
        shots = _counter(m.SHOTS_TOTAL)
        cost = _counter(m.COST_USD_TOTAL)
        in_flight = _gauge(m.JOBS_IN_FLIGHT)
        calib_age = _gauge(m.BACKEND_CALIBRATION_AGE_SECONDS)
        spool = _gauge(m.SPOOL_EVENTS)
        errors = _counter(m.RECORDER_ERRORS_TOTAL)
        hists = {
            spec.name: HistogramMetricFamily(spec.name, spec.help, labels=spec.labels)
            for spec, _ in HISTOGRAM_COLUMNS
        }
        out: list[Metric] = [jobs, attempts, *hists.values(), in_flight, shots, cost]
        out += [calib_age, spool, errors]
        if not with_samples:
            return out
        for key, n in sorted(self._jobs.items()):
            jobs.add_metric(list(key), n)
        for backend, n in sorted(self._attempts.items()):
            attempts.add_metric([backend], n)
        for key, n in sorted(self._shots.items()):
            shots.add_metric(list(key), n)
        for key, usd in sorted(self._cost_usd.items()):
            cost.add_metric(list(key), usd)
        for name, per_backend in self._hists.items():
            for backend, h in sorted(per_backend.items()):
                hists[name].add_metric([backend], h.exposition(), h.sum)
        flying: dict[str, int] = defaultdict(int)
        for backend in self._pending.values():
            flying[backend] += 1
        # Every backend with finished jobs gets a sample (0 when idle), so the series
        # does not vanish (and alerts on it go stale) when the last job finishes.
        for backend in self._attempts:
            flying.setdefault(backend, 0)
        for backend, n in sorted(flying.items()):
            in_flight.add_metric([backend], n)
        now = self.clock.now()
        for backend, at in sorted(calibration or ()):
            calib_age.add_metric([backend], max(0.0, (now - at).total_seconds()))
        if self.spool_events is not None:
            try:
                for state, n in sorted(self.spool_events().items()):
                    spool.add_metric([state], float(n))
            except Exception:  # noqa: BLE001
                log.exception("spool_events callback failed")
                self.recorder_errors.inc("exporter")
        for recorder, n in sorted(self.recorder_errors.snapshot_with_known().items()):
            errors.add_metric([recorder], n)
        return out


def _counter(spec: m.MetricSpec) -> CounterMetricFamily:
    return CounterMetricFamily(spec.name, spec.help, labels=spec.labels)


def _gauge(spec: m.MetricSpec) -> GaugeMetricFamily:
    return GaugeMetricFamily(spec.name, spec.help, labels=spec.labels)


def serve_metrics(
    exporter: StoreExporter, host: str = "127.0.0.1", port: int = 0
) -> tuple[Any, threading.Thread, int]:
    """Serve ``exporter.registry`` on http://host:port/metrics in a daemon thread.

    Returns ``(server, thread, port)``; ``port=0`` picks a free port. Stop it with
    ``stop_metrics_server(server, thread)``.
    """
    server, thread = start_http_server(port, addr=host, registry=exporter.registry)
    return server, thread, int(server.server_port)


def stop_metrics_server(server: Any, thread: threading.Thread, timeout_s: float = 5.0) -> None:
    """Stop a server started by ``serve_metrics`` and release its socket."""
    server.shutdown()
    server.server_close()
    thread.join(timeout_s)


def _save_checkpoint(store: Any, cursor: int, state: dict[str, Any], clock: Clock) -> bool:
    """Write ``state`` unless a checkpoint further along is stored already (another
    replica's): every exporter's totals at a cursor are the same function of the
    store, so the furthest one is the one to keep."""
    t = ExporterCheckpointRow.__table__
    with store.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            stored = conn.execute(
                select(t.c.cursor).where(t.c.name == "jobs").with_for_update()
            ).scalar()
        else:
            stored = conn.execute(select(t.c.cursor).where(t.c.name == "jobs")).scalar()
        if stored is not None and int(stored) > cursor:
            return False
        values = {"cursor": cursor, "saved_at": clock.now(), "state": state}
        if stored is None:
            conn.execute(t.insert().values(name="jobs", **values))
        else:
            conn.execute(t.update().where(t.c.name == "jobs").values(**values))
    return True
