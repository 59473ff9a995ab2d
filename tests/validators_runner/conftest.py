"""Fixtures for validation runner/scheduler tests: small simulated worlds on virtual time."""

from __future__ import annotations

from datetime import timedelta

import pytest

from collector.clock import VirtualClock
from validators.drift import DriftConfig

# Short baseline so that faults can start after a few hours of virtual time.
BASELINE_RUNS = 6
FAULT_AT_H = 8


@pytest.fixture
def fault_at_h() -> int:
    """Faults of the ``world`` fixture start at this hour (plus 30 minutes)."""
    return FAULT_AT_H


@pytest.fixture
def clock(t0):
    return VirtualClock(t0)


@pytest.fixture
def drift_config() -> DriftConfig:
    return DriftConfig(baseline_runs=BASELINE_RUNS)


@pytest.fixture
def world(clock, t0):
    """Stable, reported-drift and unreported-firmware-bug backends (qsre.sim)."""
    from qsre.sim.config import build_sim_backend

    fault_at = t0 + timedelta(hours=FAULT_AT_H, minutes=30)
    configs = [
        {"name": "sim-stable", "seed": 11},
        {
            "name": "sim-drifting",
            "seed": 22,
            "drift": [
                {"kind": "step", "param": "cx_error", "at": fault_at, "to": 0.035},
                {"kind": "step", "param": "readout_error", "at": fault_at, "to": 0.06},
            ],
        },
        {
            "name": "sim-firmware",
            "seed": 33,
            "faults": [
                {"kind": "firmware_bug", "start": fault_at, "gate": "cx", "rotation_rad": 0.3}
            ],
        },
    ]
    return {c["name"]: build_sim_backend(c, clock, t0) for c in configs}
