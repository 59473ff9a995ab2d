"""Validation metrics for ``/metrics``: an exporter source over ``validation_runs``.

    exporter.add_source(ValidationMetrics(vstore))

Families (names and labels from ``collector.metrics``): ``qsre_validation_runs_total``
(counter by backend, circuit, worst verdict), and the last value per backend and
circuit of ``qsre_validation_fidelity``, ``qsre_validation_fidelity_mitigated``
(readout-mitigated; defined here, beside the source that fills it),
``qsre_validation_divergence_tvd`` and ``qsre_drift_statistic``, plus ``qsre_backend_verdict`` (1 for the verdict of the
backend's newest evaluated suite run, 0 for the other verdicts).

Rows whose verdict is ``error`` (the job failed) are not validation outcomes: they
are already counted by ``qsre_jobs_total`` and are left out here, so the verdict label
keeps the catalogue's values.

Incremental: each scrape reads rows with ``id`` above the cursor. On PostgreSQL ids
are handed out at insert time, not commit time, so a concurrent writer can commit a
lower id later; ids missing below the cursor are remembered and re-queried for
``gap_grace_s`` of clock time before being given up.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from sqlalchemy import select

from collector import metrics as m
from collector.clock import Clock, SystemClock, as_utc
from validators.store import ValidationStore, validation_runs
from validators.verdict import SEVERITY, Verdict

_COLUMNS = (
    "id",
    "run_id",
    "backend",
    "circuit",
    "ran_at",
    "verdict",
    "fidelity",
    "fidelity_mitigated",
    "divergence_tvd",
    "drift_statistic",
)
_IN_CHUNK = 500

VALIDATION_FIDELITY_MITIGATED = m.MetricSpec(
    "qsre_validation_fidelity_mitigated",
    "gauge",
    "Hellinger fidelity of the last validation run's readout-mitigated distribution "
    "against the ideal distribution (absent where the backend reports no readout calibration).",
    ("backend", "circuit"),
)


class ValidationMetrics:
    """A ``collector.exporter.MetricSource`` over the validation tables."""

    def __init__(
        self,
        vstore: ValidationStore,
        *,
        clock: Clock | None = None,
        gap_grace_s: float = 60.0,
        max_gaps: int = 10_000,
    ) -> None:
        self.vstore = vstore
        self.clock = clock or SystemClock()
        self.gap_grace_s = gap_grace_s
        self.max_gaps = max_gaps
        self._lock = threading.Lock()
        self._cursor = 0
        self._gaps: dict[int, datetime] = {}  # missing id -> first seen missing
        self._runs: dict[tuple[str, str, str], int] = defaultdict(int)
        # (backend, circuit) -> (ran_at, id, value) for the "last" gauges
        self._last: dict[str, dict[tuple[str, str], tuple[datetime, int, float]]] = {
            "fidelity": {},
            "fidelity_mitigated": {},
            "divergence_tvd": {},
            "drift_statistic": {},
        }
        # backend -> (ran_at, run_id, worst verdict so far in that run)
        self._backend: dict[str, tuple[datetime, str, Verdict]] = {}

    @property
    def cursor(self) -> int:
        return self._cursor

    def refresh(self) -> int:
        """Read rows added since the last call; returns how many were handled."""
        with self._lock:
            t = validation_runs
            cols = [t.c[c] for c in _COLUMNS]
            handled = 0
            with self.vstore.engine.connect() as conn:
                rows = conn.execute(
                    select(*cols).where(t.c.id > self._cursor).order_by(t.c.id)
                ).mappings()
                rows = list(rows)
                gap_ids = sorted(self._gaps)
                late: list[Any] = []
                for start in range(0, len(gap_ids), _IN_CHUNK):
                    chunk = gap_ids[start : start + _IN_CHUNK]
                    late += list(conn.execute(select(*cols).where(t.c.id.in_(chunk))).mappings())
            now = self.clock.now()
            for row in late:
                self._gaps.pop(int(row["id"]), None)
                self._handle(row)
                handled += 1
            for row in rows:
                row_id = int(row["id"])
                for missing in range(self._cursor + 1, row_id):
                    if len(self._gaps) < self.max_gaps:
                        self._gaps[missing] = now
                self._cursor = row_id
                self._handle(row)
                handled += 1
            expiry = now - timedelta(seconds=self.gap_grace_s)
            for gap_id, seen in list(self._gaps.items()):
                if seen < expiry:
                    del self._gaps[gap_id]
            return handled

    def _handle(self, row: Any) -> None:
        if row["verdict"] == "error":
            return
        backend, circuit = row["backend"], row["circuit"]
        ran_at = as_utc(row["ran_at"])
        assert ran_at is not None
        self._runs[(backend, circuit, row["verdict"])] += 1
        stamp = (ran_at, int(row["id"]))
        for name, store in self._last.items():
            value = row[name]
            if value is None:
                continue
            old = store.get((backend, circuit))
            if old is None or stamp >= old[:2]:
                store[(backend, circuit)] = (*stamp, float(value))
        verdict = Verdict(row["verdict"])
        current = self._backend.get(backend)
        if (
            current is None
            or ran_at > current[0]
            or current[1] == row["run_id"]
            and SEVERITY[verdict] > SEVERITY[current[2]]
        ):
            self._backend[backend] = (ran_at, row["run_id"], verdict)

    def describe(self) -> Iterator[Metric]:
        yield from self._families(with_samples=False)

    def collect(self) -> Iterator[Metric]:
        self.refresh()
        with self._lock:
            families = self._families(with_samples=True)
        yield from families

    def _families(self, *, with_samples: bool) -> list[Metric]:
        runs = CounterMetricFamily(
            m.VALIDATION_RUNS_TOTAL.name.removesuffix("_total"),
            m.VALIDATION_RUNS_TOTAL.help,
            labels=m.VALIDATION_RUNS_TOTAL.labels,
        )
        gauges = {
            "fidelity": _gauge(m.VALIDATION_FIDELITY),
            "fidelity_mitigated": _gauge(VALIDATION_FIDELITY_MITIGATED),
            "divergence_tvd": _gauge(m.VALIDATION_DIVERGENCE_TVD),
            "drift_statistic": _gauge(m.DRIFT_STATISTIC),
        }
        verdicts = _gauge(m.BACKEND_VERDICT)
        if with_samples:
            for (backend, circuit, verdict), n in sorted(self._runs.items()):
                runs.add_metric([backend, circuit, verdict], n)
            for name, family in gauges.items():
                for (backend, circuit), (_, _, value) in sorted(self._last[name].items()):
                    family.add_metric([backend, circuit], value)
            for backend, (_, _, current) in sorted(self._backend.items()):
                for verdict in m.VALIDATION_VERDICTS:
                    verdicts.add_metric([backend, verdict], 1.0 if verdict == current else 0.0)
        return [runs, *gauges.values(), verdicts]


def _gauge(spec: m.MetricSpec) -> GaugeMetricFamily:
    return GaugeMetricFamily(spec.name, spec.help, labels=spec.labels)
