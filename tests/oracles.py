"""Independent statistical oracles for tests of the simulated world and the references:
deliberately not validators.stats, so those are not checked against themselves."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from scipy.stats import power_divergence


def g_test_pvalue(counts: Mapping[str, int], probabilities: Mapping[str, float]) -> float:
    """G-test of observed counts against exact probabilities; outcomes the model says
    are impossible make the fit fail outright (p = 0)."""
    shots = sum(counts.values())
    if any(probabilities.get(k, 0.0) <= 0 and v > 0 for k, v in counts.items()):
        return 0.0
    keys = [k for k, p in probabilities.items() if p > 0]
    if len(keys) == 1:
        return 1.0
    observed = np.array([counts.get(k, 0) for k in keys], dtype=float)
    expected = np.array([probabilities[k] for k in keys]) * shots
    return float(power_divergence(observed, expected, lambda_="log-likelihood").pvalue)


def tvd(counts: Mapping[str, int], probabilities: Mapping[str, float]) -> float:
    shots = sum(counts.values())
    keys = set(counts) | set(probabilities)
    return 0.5 * sum(abs(counts.get(k, 0) / shots - probabilities.get(k, 0.0)) for k in keys)
