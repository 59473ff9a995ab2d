"""Simulated quantum backends with drifting noise and injectable faults."""

from __future__ import annotations

from qsre.sim.backend import SimBackend, SimJob
from qsre.sim.config import SimBackendConfig, build_sim_backend
from qsre.sim.errors import (
    InjectedAuthError,
    InjectedBackendOutage,
    InjectedResourceExhausted,
    InjectedTransientError,
    SimConfigError,
    SimError,
)
from qsre.sim.noise import NoiseParams
from qsre.sim.world import DemoWorld, InjectedFault, demo_world

__all__ = [
    "DemoWorld",
    "InjectedAuthError",
    "InjectedBackendOutage",
    "InjectedFault",
    "InjectedResourceExhausted",
    "InjectedTransientError",
    "NoiseParams",
    "SimBackend",
    "SimBackendConfig",
    "SimConfigError",
    "SimError",
    "SimJob",
    "build_sim_backend",
    "demo_world",
]
