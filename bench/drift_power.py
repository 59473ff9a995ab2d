"""Drift detector: false alarms and detection delay vs an oracle CUSUM.

Prints ONE JSON object. The suite is 5 circuits (bell, ghz3, ghz5, mirror5,
readout5) at 4000 shots with analytic noisy distributions (global depolarising per
two-qubit gate + independent readout flips; tests/validators_stats/models.py).

- false_alarms_per_1000: CUSUM alarms of qsre's DriftDetector (ARL0 = 500) on a
  stable backend, over 3 baselines x 1000 monitored runs, re-armed after each alarm.
- median_delay_runs: runs after a step change until a DRIFT verdict (1 = first run).
- optimal_cusum_delay_runs: an oracle CUSUM that knows the pre- and post-change
  distributions (per-run multinomial log-likelihood ratio summed over the suite),
  with its threshold tuned by simulation to the same in-control ARL.
- delay_ratio = median_delay_runs / optimal_cusum_delay_runs (target <= 1.5).

Scenarios: two-qubit depolarising 1% -> 2% (headline), readout 1% -> 2%, and a
subtle 1% -> 1.2% depolarising change where the detectors are not instant.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "validators_stats"))

from models import draw_run, suite_probabilities  # noqa: E402

from validators.drift import DriftConfig, DriftDetector  # noqa: E402
from validators.verdict import Verdict  # noqa: E402

SHOTS = 4000
ARL0 = 500.0
SEED = 20240611


def trained_state(rng: np.random.Generator, stable: dict) -> dict:
    det = DriftDetector(DriftConfig(arl0_runs=ARL0))
    for _ in range(det.config.baseline_runs):
        det.update(draw_run(stable, SHOTS, rng), calibration_id="cal")
    return det.to_dict()


# ARL0 is an expectation over baselines too: a detector's false-alarm rate depends on
# its baseline's sampling noise, so average over many baselines, not a few long runs.
FA_BASELINES, FA_RUNS_PER_BASELINE = 90, 200


def false_alarms_per_1000(rng: np.random.Generator, stable: dict) -> tuple[float, int]:
    alarms = runs = 0
    for _ in range(FA_BASELINES):
        det = DriftDetector.from_dict(trained_state(rng, stable))
        for _ in range(FA_RUNS_PER_BASELINE):
            runs += 1
            if det.update(draw_run(stable, SHOTS, rng), calibration_id="cal").alarm:
                alarms += 1
                det.clear_alarm()
    return 1000.0 * alarms / runs, runs


def qsre_delays(rng: np.random.Generator, state: dict, after: dict, trials: int) -> list[int]:
    delays = []
    for _ in range(trials):
        det = DriftDetector.from_dict(state)
        for run in range(1, 101):  # noqa: B007 (run is the delay, read after the loop)
            if det.update(draw_run(after, SHOTS, rng), calibration_id="cal").verdict == (
                Verdict.DRIFT
            ):
                break
        delays.append(run)
    return delays


def llr_samples(rng: np.random.Generator, truth: dict, pre: dict, post: dict, n: int) -> np.ndarray:
    total = np.zeros(n)
    for name, probs in truth.items():
        weights = np.log(post[name] / pre[name])
        total += rng.multinomial(SHOTS, probs, size=n) @ weights
    return total


def cusum_alarms(increments: np.ndarray, h: float) -> int:
    s, alarms = 0.0, 0
    for x in increments:
        s = max(0.0, s + x)
        if s > h:
            alarms, s = alarms + 1, 0.0
    return alarms


def oracle_threshold(rng: np.random.Generator, pre: dict, post: dict) -> float:
    in_control = llr_samples(rng, pre, pre, post, 150_000)
    lo, hi = 0.0, 50.0
    while cusum_alarms(in_control, hi) > in_control.size / ARL0:
        hi *= 2
    for _ in range(22):
        mid = 0.5 * (lo + hi)
        if cusum_alarms(in_control, mid) > in_control.size / ARL0:
            lo = mid
        else:
            hi = mid
    return hi


def oracle_delays(rng: np.random.Generator, pre: dict, post: dict, trials: int) -> list[int]:
    h = oracle_threshold(rng, pre, post)
    out_of_control = llr_samples(rng, post, pre, post, trials * 100).reshape(trials, 100)
    delays = []
    for row in out_of_control:
        s = 0.0
        for run, x in enumerate(row, start=1):  # noqa: B007 (read after the loop)
            s = max(0.0, s + x)
            if s > h:
                break
        delays.append(run)
    return delays


def main() -> None:
    rng = np.random.default_rng(SEED)
    stable = suite_probabilities(0.01, 0.01)
    fa, runs = false_alarms_per_1000(rng, stable)
    state = trained_state(rng, stable)
    scenarios = {
        "depolarizing_2q_1pct_to_2pct": suite_probabilities(0.02, 0.01),
        "readout_1pct_to_2pct": suite_probabilities(0.01, 0.02),
        "subtle_depolarizing_1pct_to_1.2pct": suite_probabilities(0.012, 0.01),
    }
    results = {}
    for name, after in scenarios.items():
        ours = qsre_delays(rng, state, after, trials=100)
        oracle = oracle_delays(rng, stable, after, trials=200)
        results[name] = {
            "median_delay_runs": float(np.median(ours)),
            "mean_delay_runs": float(np.mean(ours)),
            "optimal_cusum_delay_runs": float(np.median(oracle)),
            "optimal_cusum_mean_delay_runs": float(np.mean(oracle)),
            "delay_ratio": float(np.median(ours) / np.median(oracle)),
        }
    headline = results["depolarizing_2q_1pct_to_2pct"]
    print(
        json.dumps(
            {
                "false_alarms_per_1000": fa,
                "false_alarm_budget_per_1000": 1000.0 / ARL0,
                "in_control_runs": runs,
                "median_delay_runs": headline["median_delay_runs"],
                "optimal_cusum_delay_runs": headline["optimal_cusum_delay_runs"],
                "delay_ratio": headline["delay_ratio"],
                "shots": SHOTS,
                "circuits": sorted(stable),
                "scenarios": results,
            }
        )
    )


if __name__ == "__main__":
    main()
