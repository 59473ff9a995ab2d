"""Helpers for the signal tests: job streams written through the real Store, and the
validation_runs table with the exact columns of the validators' contract."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pytest
from sqlalchemy import Table, insert

from collector.store import Store
from slo.alerts import Alert
from slo.signal_config import SignalConfig
from slo.signals import HealthSnapshot, evaluate_signals

RUNBOOKS = "https://runbooks.example.org/qsre/runbooks/"
GRAFANA = "https://grafana.example.org"
BACKENDS = ("sim-a", "sim-b", "sim-c")


def job(
    backend: str,
    finished_at: datetime,
    *,
    status: str = "done",
    error_class: str | None = None,
    queue_seconds: float | None = 2.0,
    attempts: int = 1,
    cost_usd: float = 0.0,
    project: str = "team",
    message: str | None = None,
    purpose: str = "workload",
) -> dict[str, Any]:
    """A terminal job snapshot that finished at ``finished_at``."""
    run_s = 1.0
    submitted = finished_at - timedelta(seconds=(queue_seconds or 0.0) + run_s)
    return {
        "id": str(uuid.uuid4()),
        "backend": backend,
        "project": project,
        "status": status,
        "error_class": error_class,
        "error_message": message,
        "submitted_at": submitted,
        "started_at": submitted + timedelta(seconds=queue_seconds or 0.0),
        "finished_at": finished_at,
        "queue_seconds": queue_seconds if status == "done" else None,
        "run_seconds": run_s,
        "e2e_seconds": (finished_at - submitted).total_seconds(),
        "attempts": attempts,
        "cost_usd": cost_usd,
        "shots": 1000,
        "tags": {"purpose": purpose},
        "purpose": purpose,
    }


def healthy_stream(
    start: datetime,
    end: datetime,
    *,
    seed: int,
    backends: Iterable[str] = BACKENDS,
    jobs_per_hour: float = 30.0,
    projects: tuple[str, ...] = ("team",),
    usd_per_job: float = 0.5,
) -> list[dict[str, Any]]:
    """Normal traffic: Poisson arrivals with a quiet night (a tenth of the day rate),
    log-normal queue times of seconds to a few minutes, a rare retried job, noisy cost."""
    rng = np.random.default_rng(seed)
    out: list[dict[str, Any]] = []
    for backend in backends:
        t = start
        while True:
            hour = t.hour
            rate = jobs_per_hour * (0.1 if hour < 6 else 1.0)
            t = t + timedelta(seconds=float(rng.exponential(3600.0 / rate)))
            if t >= end:
                break
            queue = float(min(rng.lognormal(np.log(20.0), 1.0), 400.0))
            attempts = 2 if rng.random() < 0.01 else 1
            cost = float(usd_per_job * rng.uniform(0.5, 1.5))
            out.append(
                job(
                    backend,
                    t,
                    queue_seconds=queue,
                    attempts=attempts,
                    cost_usd=cost,
                    project=str(rng.choice(projects)),
                )
            )
    return out


def kinds(alerts: Iterable[Alert]) -> list[tuple[str, str]]:
    """(kind, backend or project) of each alert, sorted."""
    return sorted(
        (a.labels["kind"], a.labels.get("backend", a.labels.get("project", ""))) for a in alerts
    )


def evaluate(
    store: Store,
    now: datetime,
    config: SignalConfig | None = None,
    *,
    health: HealthSnapshot | None = None,
    previous: tuple[Alert, ...] = (),
) -> list[Alert]:
    return evaluate_signals(
        store,
        now,
        config or SignalConfig(),
        runbook_base_url=RUNBOOKS,
        dashboard_base_url=GRAFANA,
        health=health,
        previous=previous,
    )


def minutes(start: datetime, count: int, step_min: float = 1.0) -> Iterator[datetime]:
    for i in range(count):
        yield start + timedelta(minutes=i * step_min)


def validation_table(store: Store) -> Table:
    """validation_runs exactly as the validators' migration (v0001) creates it."""
    from validators.store import ValidationStore, validation_runs

    ValidationStore(store)
    return validation_runs


def write_runs(store: Store, rows: Iterable[dict[str, Any]]) -> None:
    """Insert validation rows after checking them against the validators' record type."""
    from validators.store import ValidationRunRecord, validation_runs

    records = [ValidationRunRecord(**row) for row in rows]
    values = [{k: v for k, v in asdict(r).items() if k != "id"} for r in records]
    with store.engine.begin() as conn:
        conn.execute(insert(validation_runs), values)


CIRCUITS = ("bell", "ghz3", "ghz5", "qft3", "mirror4")


def suite_run(
    backend: str,
    ran_at: datetime,
    *,
    drift: Iterable[str] = (),
    diverged: Iterable[str] = (),
    failed: bool = False,
) -> list[dict[str, Any]]:
    """Rows of one suite run of one backend (every circuit), flagged as asked."""
    drift, diverged = set(drift), set(diverged)
    run_id = str(uuid.uuid4())
    rows = []
    for circuit in CIRCUITS:
        if failed:
            verdict = "error"
        elif circuit in diverged:
            verdict = "diverged"
        elif circuit in drift:
            verdict = "drift"
        else:
            verdict = "ok"
        rows.append(
            {
                "run_id": run_id,
                "backend": backend,
                "circuit": circuit,
                "family": circuit.rstrip("0123456789"),
                "ran_at": ran_at,
                "job_id": None if failed else str(uuid.uuid4()),
                "shots": 4000,
                "calibration_at": None,
                "fidelity": None if failed else (0.90 if circuit in drift else 0.98),
                "tvd_ideal": None if failed else 0.03,
                "divergence_tvd": None if failed else (0.12 if circuit in diverged else 0.01),
                "divergence_p": None if failed else (1e-9 if circuit in diverged else 0.6),
                "drift_statistic": None if failed else (9.5 if circuit in drift else 0.4),
                "drift_threshold": None if failed else 6.0,
                "drift": circuit in drift,
                "diverged": None if failed else circuit in diverged,
                "verdict": verdict,
                "evidence": {},
                "versions": {"qiskit": "2.6"},
            }
        )
    return rows


@pytest.fixture
def vtable(store: Store) -> Table:
    return validation_table(store)
