"""A synthetic week in a real store: jobs over several backends/projects/tags (and four
earlier weeks for the baseline), validation runs, calibrations and alerts that went
through the real alert router."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from sqlalchemy import insert

from collector.clock import VirtualClock
from collector.schema import CalibrationSnapshotRow, JobRow
from validators.store import ValidationStore, validation_runs

EVIL = "<script>alert(1)</script>"
BACKENDS = ("sim_alpha", "sim_beta", EVIL)
PROJECTS = ("chem", "finance", EVIL)
TEAMS = ("red", "blue")
WEEK = "2026-W47"
WEEK_START = datetime(2026, 11, 16, tzinfo=UTC)
WEEK_END = WEEK_START + timedelta(days=7)
SPIKE_PROJECT, SPIKE_DAY = "finance", 2  # Wednesday


def make_jobs(
    rng: np.random.Generator, start: datetime, n: int, *, spike: bool = False
) -> list[dict[str, Any]]:
    rows = []
    for _ in range(n):
        submitted = start + timedelta(seconds=float(rng.uniform(0, 7 * 86400)))
        backend = BACKENDS[int(rng.integers(len(BACKENDS)))]
        project = PROJECTS[int(rng.integers(len(PROJECTS)))]
        r = rng.random()
        status, error_class = "done", None
        if r < 0.06:
            status, error_class = (
                "error",
                ("transient", "backend", "quota", "invalid_input")[int(rng.integers(4))],
            )
        elif r < 0.08:
            status = "cancelled"
        elif r < 0.09:
            status = "unknown"
        elif r < 0.10:
            status = "running"
        queue = float(rng.lognormal(1.0, 1.2))
        run = float(rng.lognormal(0.0, 0.5))
        measured = status in ("done", "error") and error_class not in ("quota", "invalid_input")
        shots = int(rng.choice([100, 1000, 4000]))
        cost = round(shots * 0.0004 * (1 + backend.count("beta")), 6)
        local_day = int((submitted - start).total_seconds() // 86400)
        if spike and project == SPIKE_PROJECT and local_day == SPIKE_DAY:
            cost *= 25
        tags: dict[str, Any] = {"team": TEAMS[int(rng.integers(2))]}
        if rng.random() < 0.3:
            tags["experiment"] = EVIL if rng.random() < 0.5 else "vqe"
        rows.append(
            {
                "id": str(uuid.UUID(int=int(rng.integers(2**63)) << 64 | int(rng.integers(2**63)))),
                "backend": backend,
                "project": project,
                "tags": tags,
                "purpose": "workload",
                "num_circuits": 1,
                "shots": shots,
                "submitted_at": submitted,
                "started_at": submitted + timedelta(seconds=queue) if measured else None,
                "finished_at": submitted + timedelta(seconds=queue + run) if measured else None,
                "queue_seconds": queue if measured else None,
                "run_seconds": run if measured else None,
                "e2e_seconds": queue + run if measured else None,
                "status": status,
                "error_class": error_class,
                "attempts": 1,
                "cost_usd": cost if status != "running" else 0.0,
            }
        )
    return rows


def insert_jobs(store, rows: list[dict[str, Any]]) -> None:
    """Core bulk insert (the store's upsert path is tested by the collector's own tests)."""
    with store.engine.begin() as conn:
        for i in range(0, len(rows), 5000):
            conn.execute(insert(JobRow.__table__), rows[i : i + 5000])


@dataclass
class World:
    store: Any
    clock: VirtualClock
    resolved_alert_seconds: float


def seed_validation(store, rng: np.random.Generator) -> None:
    # The real table, created by the validators' own migration (slo reads it by name).
    ValidationStore(store)
    rows = []
    for day in range(7):
        for backend in BACKENDS[:2] + (EVIL,):
            for circuit in ("ghz3", EVIL):
                ran_at = WEEK_START + timedelta(days=day, hours=6)
                drifted = backend == "sim_beta" and day >= 4
                verdict = "drift" if drifted else "ok"
                if backend == EVIL and day == 5 and circuit == "ghz3":
                    verdict = "diverged"
                rows.append(
                    {
                        "run_id": str(uuid.uuid4()),
                        "backend": backend,
                        "circuit": circuit,
                        "family": "ghz",
                        "ran_at": ran_at,
                        "job_id": None,
                        "shots": 4000,
                        "calibration_at": None,
                        "fidelity": float(0.97 - (0.1 if drifted else 0.0) - 0.01 * rng.random()),
                        "tvd_ideal": 0.05,
                        "divergence_tvd": 0.02,
                        "divergence_p": 0.5,
                        "drift_statistic": 9.0 if drifted else 0.5,
                        "drift_threshold": 5.0,
                        "drift": drifted,
                        "diverged": verdict == "diverged",
                        "verdict": verdict,
                        "evidence": {},
                        "versions": {},
                    }
                )
    with store.engine.begin() as conn:
        conn.execute(insert(validation_runs), rows)


def seed_calibrations(store) -> None:
    for backend in BACKENDS:
        store.upsert_backend(name=backend, seen_at=WEEK_START, num_qubits=5, provider="sim")
    rows = [
        {
            "backend": "sim_alpha",
            "calibrated_at": WEEK_START + timedelta(days=d, hours=1),
            "captured_at": WEEK_START + timedelta(days=d, hours=1),
            "summary": {},
        }
        for d in range(7)
    ] + [
        {
            "backend": "sim_beta",
            "calibrated_at": WEEK_START - timedelta(days=3),
            "captured_at": WEEK_START - timedelta(days=3),
            "summary": {},
        }
    ]
    with store.engine.begin() as conn:
        conn.execute(insert(CalibrationSnapshotRow.__table__), rows)


def seed_alerts(store) -> float:
    """One backend_down page that resolves after 2 h, one SLO ticket still open."""
    from slo.alert_state import AlertStateStore
    from slo.alerts import make_alert
    from slo.notify.console import ConsoleNotifier
    from slo.routing import Router, RoutingConfig

    state = AlertStateStore(store)
    config = RoutingConfig(group_wait_s=0, group_interval_s=60)
    router = Router(config, [ConsoleNotifier()], state=state)
    down = make_alert("backend_down", labels={"backend": EVIL}, summary="down")
    t = WEEK_START + timedelta(days=1, hours=10)
    router.process([down], t, source="signals")
    router.flush(t)
    for minutes in range(10, 120, 10):
        router.process([down], t + timedelta(minutes=minutes), source="signals")
        router.flush(t + timedelta(minutes=minutes))
    t_resolved = t + timedelta(hours=2)
    router.process([], t_resolved, source="signals")
    router.flush(t_resolved)
    ticket = make_alert("slo_burn_ticket", labels={"slo": "job-success"}, summary="slow burn")
    t2 = WEEK_START + timedelta(days=3)
    router.process([ticket], t2, source="slo")
    router.flush(t2)
    return (t_resolved - t).total_seconds()


@pytest.fixture
def world(store) -> World:
    rng = np.random.default_rng(47)
    rows = make_jobs(rng, WEEK_START, 1500, spike=True)
    for k in range(1, 5):
        rows += make_jobs(rng, WEEK_START - timedelta(weeks=k), 600)
    insert_jobs(store, rows)
    seed_validation(store, rng)
    seed_calibrations(store)
    seconds = seed_alerts(store)
    return World(store, VirtualClock(WEEK_END + timedelta(hours=3)), seconds)
