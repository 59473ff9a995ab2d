"""The demo world: three simulated backends and the faults injected into them.

Day N of the demo starts at ``start + (N - 1) days``. The list of
:class:`InjectedFault` is the answer key the demo scorecard checks detection
against; ``fault`` values are qsre alert kinds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from collector.clock import Clock
from qsre.sim.backend import SimBackend
from qsre.sim.config import SimBackendConfig, build_sim_backend


@dataclass(frozen=True)
class InjectedFault:
    """One fault in the demo world. ``backend`` None means account-wide (every backend);
    ``project``/``shots_multiplier`` describe workload faults the demo driver enacts."""

    fault: str
    backend: str | None
    injected_at: datetime
    description: str
    ended_at: datetime | None = None
    project: str | None = None
    shots_multiplier: float | None = None


@dataclass(frozen=True)
class DemoWorld:
    backends: tuple[SimBackend, ...]
    faults: tuple[InjectedFault, ...]

    def backend(self, name: str) -> SimBackend:
        for b in self.backends:
            if b.name == name:
                return b
        raise KeyError(
            f"no demo backend {name!r}; expected one of {[b.name for b in self.backends]}"
        )


STABLE, DRIFTING, FIRMWARE = "sim-stable", "sim-drifting", "sim-firmware"


def _day(start: datetime, day: int, hour: float = 0.0) -> datetime:
    return start + timedelta(days=day - 1, hours=hour)


def demo_world(clock: Clock, start: datetime) -> DemoWorld:
    """Stable backend; reported calibration drift from day 3; unreported firmware bug
    from day 5; plus a queue spike, an auth outage and a billing spike."""
    drift_at = _day(start, 3, 6)
    bug_at = _day(start, 5, 4)
    queue_at, queue_end = _day(start, 2, 14), _day(start, 2, 17)
    auth_at, auth_end = _day(start, 4, 9), _day(start, 4, 11)
    billing_at, billing_end = _day(start, 6, 13), _day(start, 6, 17)
    auth = {"kind": "auth", "start": auth_at, "end": auth_end}
    configs = [
        {
            "name": STABLE,
            "seed": 11,
            "noise": {"sq_error": 4e-4, "cx_error": 8e-3, "readout_error": 1.5e-2},
            "faults": [
                {
                    "kind": "queue_delay",
                    "start": queue_at,
                    "end": queue_end,
                    "extra_queue_seconds": 1800.0,
                },
                auth,
            ],
        },
        {
            "name": DRIFTING,
            "seed": 22,
            "drift": [
                {"kind": "step", "param": "cx_error", "at": drift_at, "to": 0.035},
                {"kind": "step", "param": "readout_error", "at": drift_at, "to": 0.06},
            ],
            "faults": [auth],
        },
        {
            "name": FIRMWARE,
            "seed": 33,
            "faults": [
                {
                    "kind": "firmware_bug",
                    "start": bug_at,
                    "gate": "cx",
                    "min_gate_count": 4,
                    "rotation_rad": 0.3,
                },
                auth,
            ],
        },
    ]
    backends = tuple(
        build_sim_backend(SimBackendConfig.model_validate(c), clock, start) for c in configs
    )
    faults = (
        InjectedFault(
            "queue_overload", STABLE, queue_at, "30 min extra queue time for 3 h", queue_end
        ),
        InjectedFault(
            "calibration_drift",
            DRIFTING,
            drift_at,
            "reported recalibration: cx_error 0.01 -> 0.035, readout_error 0.02 -> 0.06",
        ),
        InjectedFault("auth_failure", None, auth_at, "401 on every submission for 2 h", auth_end),
        InjectedFault(
            "simulator_divergence",
            FIRMWARE,
            bug_at,
            "unreported firmware bug: extra RX(0.3) after each CX in circuits with >= 4 CX",
        ),
        InjectedFault(
            "billing_spike",
            None,
            billing_at,
            "project 'chem-team' submits 10x its usual shots for 4 h",
            billing_end,
            project="chem-team",
            shots_multiplier=10.0,
        ),
    )
    return DemoWorld(backends=backends, faults=faults)
