"""The demo world: three simulated backends and the faults injected into them.

Day N of the demo starts at ``start + (N - 1) days``. The list of
:class:`InjectedFault` is the answer key the demo scorecard checks detection
against; ``fault`` values are qsre alert kinds, one per failure mode F1..F8
(``runbooks.FAILURE_MODES``). Faults that end never overlap on one backend
(account-wide faults count on every backend); the two that last to the end of the
week (drift, firmware bug) overlap only faults of other alert kinds. So each alert
has one explanation.
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
    ``project``/``shots_multiplier`` describe workload faults the demo driver enacts;
    ``workload_every_minutes`` makes every project submit to ``backend`` that often
    while the fault lasts (busier traffic than the usual job every 15 minutes)."""

    fault: str
    backend: str | None
    injected_at: datetime
    description: str
    ended_at: datetime | None = None
    project: str | None = None
    shots_multiplier: float | None = None
    workload_every_minutes: int | None = None


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
# network_blips needs >= 5 jobs hitting transient errors in 15 min on one backend
# (alerting.signals defaults): the usual 3 jobs per 15 min cannot show that, so during
# the blips the projects are busier, as the batch hours when blips hurt most are.
BLIP_PROBABILITY = 0.6
BLIP_WORKLOAD_EVERY_MINUTES = 5
CORRUPT_PROBABILITY = 0.5


def _day(start: datetime, day: int, hour: float = 0.0) -> datetime:
    return start + timedelta(days=day - 1, hours=hour)


def demo_world(clock: Clock, start: datetime) -> DemoWorld:
    """Every failure mode F1..F8, in the week's order: network blips (day 2 morning),
    a queue spike (day 2 afternoon), reported calibration drift from day 3, a backend
    out of memory (day 3), an auth outage and corrupt results (day 4), an unreported
    firmware bug from day 5 and a billing spike (day 6). Day 1 and day 7 are quiet."""
    blips_at, blips_end = _day(start, 2, 9), _day(start, 2, 11)
    queue_at, queue_end = _day(start, 2, 14), _day(start, 2, 17)
    drift_at = _day(start, 3, 6)
    oom_at, oom_end = _day(start, 3, 14), _day(start, 3, 16)
    auth_at, auth_end = _day(start, 4, 9), _day(start, 4, 11)
    corrupt_at, corrupt_end = _day(start, 4, 15), _day(start, 4, 17)
    bug_at = _day(start, 5, 4)
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
                {
                    "kind": "corrupt_result",
                    "start": corrupt_at,
                    "end": corrupt_end,
                    "probability": CORRUPT_PROBABILITY,
                    "mode": "drop_shots",
                },
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
                    "kind": "transient",
                    "start": blips_at,
                    "end": blips_end,
                    "probability": BLIP_PROBABILITY,
                    "when": "submit",
                },
                {"kind": "out_of_memory", "start": oom_at, "end": oom_end},
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
            "network_blips",
            FIRMWARE,
            blips_at,
            f"{BLIP_PROBABILITY:.0%} of submissions fail with 503 for 2 h, while every "
            f"project submits every {BLIP_WORKLOAD_EVERY_MINUTES} min",
            blips_end,
            workload_every_minutes=BLIP_WORKLOAD_EVERY_MINUTES,
        ),
        InjectedFault(
            "queue_overload", STABLE, queue_at, "30 min extra queue time for 3 h", queue_end
        ),
        InjectedFault(
            "resource_exhaustion",
            FIRMWARE,
            oom_at,
            "every job fails with Aer's 'Insufficient memory' for 2 h",
            oom_end,
        ),
        InjectedFault(
            "calibration_drift",
            DRIFTING,
            drift_at,
            "reported recalibration: cx_error 0.01 -> 0.035, readout_error 0.02 -> 0.06",
        ),
        InjectedFault("auth_failure", None, auth_at, "401 on every submission for 2 h", auth_end),
        InjectedFault(
            "result_corruption",
            STABLE,
            corrupt_at,
            f"{CORRUPT_PROBABILITY:.0%} of results lose a tenth of their top outcome's shots "
            "for 2 h",
            corrupt_end,
        ),
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
