"""The noise parameters of a simulated backend, as the config file states them.

Apart from ``qsre.sim.noise`` (the Aer noise model and calibration Target built from
them) so that reading and checking a config file needs no qiskit or Aer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Literal

from qsre.sim.errors import SimConfigError

NoiseParam = Literal["sq_error", "cx_error", "readout_error", "t1_us", "t2_us"]
NOISE_PARAMS: tuple[str, ...] = ("sq_error", "cx_error", "readout_error", "t1_us", "t2_us")


@dataclass(frozen=True)
class NoiseParams:
    """Uniform per-qubit noise of a simulated device.

    ``sq_error``/``cx_error`` are average gate infidelities (as a Target reports
    them), ``readout_error`` is the symmetric bit-flip probability at measurement,
    ``t1_us``/``t2_us`` are relaxation and dephasing times in microseconds.
    """

    sq_error: float = 5e-4
    cx_error: float = 1e-2
    readout_error: float = 2e-2
    t1_us: float = 120.0
    t2_us: float = 90.0

    def __post_init__(self) -> None:
        for name, hi in (("sq_error", 0.5), ("cx_error", 0.75), ("readout_error", 0.5)):
            value = getattr(self, name)
            if not (0.0 <= value <= hi) or math.isnan(value):
                raise SimConfigError(f"noise.{name}", value, f"a probability in [0, {hi}]")
        for name in ("t1_us", "t2_us"):
            value = getattr(self, name)
            if not value > 0:
                raise SimConfigError(f"noise.{name}", value, "a time in microseconds > 0")

    def with_value(self, param: str, value: float) -> NoiseParams:
        """A copy with one parameter changed, clamped into its physical range."""
        if param not in NOISE_PARAMS:
            raise SimConfigError("param", param, f"one of {list(NOISE_PARAMS)}")
        # Times stay positive, probabilities stay probabilities, whatever a drift says.
        upper = 0.75 if param == "cx_error" else 0.5
        value = max(value, 1e-3) if param.endswith("_us") else min(max(value, 0.0), upper)
        return replace(self, **{param: value})

    def key(self) -> tuple[float, ...]:
        """Hashable identity, rounded so float noise in drift maths does not split caches."""
        return tuple(round(getattr(self, f.name), 12) for f in fields(self))

    @property
    def effective_t2_us(self) -> float:
        # Physical bound T2 <= 2 T1; Aer truncates the same way in from_backend.
        return min(self.t2_us, 2.0 * self.t1_us)
