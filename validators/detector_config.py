"""Settings of the drift and divergence detectors, as plain checked dataclasses.

They live apart from ``validators.drift`` so that reading and checking a config file
(every CLI command does) needs no scipy; the detectors import them from here.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass
from typing import Literal

from validators.errors import InvalidConfig

# Multiple-testing corrections across a suite (``validators.stats.reject``).
Correction = Literal["hochberg", "bh", "bonferroni", "none"]


@dataclass(frozen=True)
class DriftConfig:
    """Drift detector settings (all JSON-safe)."""

    arl0_runs: float = 500.0  # in-control average run length of the whole suite
    # Runs pooled into the baseline after a calibration. Every later run is tested
    # against the same baseline, so its sampling noise is an offset shared by all of
    # them: the false-alarm rate of one detector depends on how lucky its baseline
    # was. Averaged over 30 baselines (ARL0 500, 18,000 in-control runs) both 20 and
    # 60 runs stay within 1/ARL0 (1.5 and 2.0 per 1000), but six 20-run baselines
    # gave 2.8 per 1000 and six 60-run ones 2.0: more runs narrow the spread, fewer
    # learn faster.
    baseline_runs: int = 60
    reference_k: float = 1.0  # CUSUM reference: optimal for a 2-sigma shift in z
    min_effect_tvd: float = 0.01  # material change: excess TVD vs baseline
    min_expected: float = 10.0  # pool outcomes with fewer expected counts per run
    warn_fraction: float = 0.5  # WARN when a CUSUM exceeds this fraction of h
    backend_budget_fraction: float = 0.5  # share of 1/ARL0 given to the suite CUSUM
    recent_window_runs: int = 20  # runs kept for effect sizes since the change

    def __post_init__(self) -> None:
        checks = {
            "arl0_runs": self.arl0_runs > 1,
            "baseline_runs": isinstance(self.baseline_runs, int) and self.baseline_runs >= 1,
            "reference_k": self.reference_k > 0,
            "min_effect_tvd": 0 <= self.min_effect_tvd <= 1,
            "min_expected": self.min_expected >= 0,
            "warn_fraction": 0 < self.warn_fraction <= 1,
            "backend_budget_fraction": 0 < self.backend_budget_fraction < 1,
            "recent_window_runs": self.recent_window_runs >= 1,
        }
        for name, ok in checks.items():
            if not ok:
                raise InvalidConfig(f"DriftConfig.{name} = {getattr(self, name)!r} is out of range")


@dataclass(frozen=True)
class DivergenceConfig:
    alpha: float = 0.002  # per validation run, across the suite (~1/ARL0)
    min_effect_tvd: float = 0.03  # excess TVD vs prediction that counts as material
    correction: Correction = "bh"
    min_expected: float = 10.0  # Pearson's size holds better with fuller bins

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 1:
            raise InvalidConfig(f"DivergenceConfig.alpha must be in (0, 1), got {self.alpha!r}")
        if not 0 <= self.min_effect_tvd <= 1:
            raise InvalidConfig(
                f"DivergenceConfig.min_effect_tvd must be in [0, 1], got {self.min_effect_tvd!r}"
            )
        corrections = typing.get_args(Correction)
        if self.correction not in corrections:
            raise InvalidConfig(
                f"DivergenceConfig.correction must be one of {', '.join(corrections)}, "
                f"got {self.correction!r}"
            )
