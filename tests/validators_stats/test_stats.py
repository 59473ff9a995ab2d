"""Tests have their nominal size under H0, power under H1, and match pyGSTi."""

from __future__ import annotations

import numpy as np
import pytest

from validators.distance import total_variation_distance
from validators.stats import (
    benjamini_hochberg,
    bootstrap_ci,
    compare_suites,
    decide,
    gof_test,
    hochberg,
    two_sample_test,
)
from validators_stats.models import SUITE, as_dict, draw_run, noisy_probabilities

GHZ5 = next(m for m in SUITE if m.name == "ghz5")


# The G-test needs fuller bins than Pearson to hold its size (at min_expected=5 it
# rejected 7.3 % at alpha=5 % here), hence the larger pooling for it.
@pytest.mark.parametrize(("method", "min_expected"), [("pearson", 5.0), ("g", 20.0)])
def test_gof_rejects_about_alpha_under_h0(method: str, min_expected: float) -> None:
    rng = np.random.default_rng(11)
    probs = noisy_probabilities(GHZ5, 0.01, 0.01)
    prediction = as_dict(probs, 5)
    trials, alpha = 2000, 0.05
    rejections = sum(
        gof_test(
            draw_run({"c": probs}, 4000, rng)["c"],
            prediction,
            method=method,
            min_expected=min_expected,
        ).p_value
        < alpha
        for _ in range(trials)
    )
    # binomial(2000, 0.05): sd ~ 9.7; allow ~3 sd
    assert abs(rejections - alpha * trials) < 30


def test_gof_detects_wrong_prediction_and_small_exact_cases() -> None:
    rng = np.random.default_rng(3)
    truth = noisy_probabilities(GHZ5, 0.03, 0.02)
    wrong = as_dict(noisy_probabilities(GHZ5, 0.01, 0.01), 5)
    assert gof_test(draw_run({"c": truth}, 4000, rng)["c"], wrong).p_value < 1e-6
    exact = gof_test({"0": 3, "1": 7}, {"0": 0.5, "1": 0.5})
    assert exact.method == "exact"
    assert exact.p_value == pytest.approx(0.34375)  # two-sided binomial, 10 shots
    mc = gof_test({"0": 3, "1": 7}, {"0": 0.5, "1": 0.5}, method="monte_carlo", rng=rng)
    assert mc.p_value == pytest.approx(0.34375, abs=0.03)
    impossible = gof_test({"00": 5, "01": 1}, {"00": 1.0})
    assert impossible.p_value == 0.0


def test_two_sample_size_with_pooling() -> None:
    rng = np.random.default_rng(5)
    probs = noisy_probabilities(GHZ5, 0.01, 0.01)
    trials = 2000
    rejections = 0
    for _ in range(trials):
        a, b = draw_run({"c": probs}, 4000, rng)["c"], draw_run({"c": probs}, 4000, rng)["c"]
        rejections += two_sample_test(a, b, min_expected=5, statistic="pearson").p_value < 0.05
    assert abs(rejections - 100) < 30


def test_multiple_testing_corrections() -> None:
    p = [0.01, 0.02, 0.03, 0.04, 0.5]
    # Hochberg at 0.05: only p_(1)=0.01 <= 0.05/5
    assert hochberg(p, 0.05).tolist() == [True, False, False, False, False]
    # BH at 0.05: p_(4)=0.04 <= 0.04 -> first four rejected
    assert benjamini_hochberg(p, 0.05).tolist() == [True, True, True, True, False]
    assert hochberg([0.001, 0.04, 0.045], 0.05).tolist() == [True, True, True]


def test_bootstrap_interval_covers_truth() -> None:
    rng = np.random.default_rng(8)
    probs = noisy_probabilities(GHZ5, 0.02, 0.02)
    ideal = as_dict(noisy_probabilities(GHZ5, 0.0, 0.0), 5)
    true_tvd = total_variation_distance(as_dict(probs, 5), ideal)
    covered = 0
    for _ in range(40):
        counts = draw_run({"c": probs}, 4000, rng)["c"]
        ci = bootstrap_ci(total_variation_distance, counts, ideal, rng=rng, n_resamples=200)
        covered += ci.low <= true_tvd <= ci.high
        assert ci.low <= ci.estimate <= ci.high
    assert covered >= 34  # nominal 95 %


def test_decision_needs_significance_and_effect() -> None:
    assert decide(1e-9, 0.002, alpha=0.01, min_effect=0.01).level == "warn"
    assert decide(1e-9, 0.05, alpha=0.01, min_effect=0.01).level == "alarm"
    assert decide(0.2, 0.05, alpha=0.01, min_effect=0.01).level == "ok"


def _bell_shifted(shift: float) -> dict[str, float]:
    return {"00": 0.5 - shift, "01": shift / 2, "10": shift / 2, "11": 0.5}


def _five_circuit_data(rng: np.random.Generator, shifted: bool) -> tuple[dict, dict]:
    base = {f"c{i}": np.array(list(_bell_shifted(0.02).values())) for i in range(5)}
    now = dict(base)
    if shifted:
        # TVD 0.036 on circuit c2 only
        now["c2"] = np.array(list(_bell_shifted(0.02 + 0.036).values()))
    a = draw_run(base, 4000, rng)
    b = draw_run(now, 4000, rng)
    return a, b


@pytest.mark.parametrize("shifted", [False, True])
def test_agrees_with_pygsti_datacomparator(shifted: bool) -> None:
    pygsti = pytest.importorskip("pygsti")
    from pygsti.circuits import Circuit
    from pygsti.data import DataComparator, DataSet

    labels = ["00", "01", "10", "11"]
    agreements = 0
    for seed in range(10):
        rng = np.random.default_rng(100 + seed)
        a, b = _five_circuit_data(rng, shifted)
        ours = compare_suites(a, b, significance=0.05)
        circuit_of = {name: Circuit([(f"G{name}", 0)]) for name in sorted(a)}
        datasets = []
        for data in (a, b):
            ds = DataSet(outcome_labels=labels)
            for name in sorted(data):
                counts = {k: data[name].get(k, 0) for k in labels}
                ds.add_count_dict(circuit_of[name], counts)
            ds.done_adding_data()
            datasets.append(ds)
        dc = DataComparator(datasets)
        dc.run(significance=0.05, verbosity=0)
        theirs = sorted(name for name, c in circuit_of.items() if c in dc.sstvds)
        assert ours.aggregate_p_value == pytest.approx(dc.aggregate_pvalue, rel=1e-6, abs=1e-12)
        agreements += list(ours.changed) == theirs
        if shifted:
            assert ours.changed == ("c2",)
            assert ours.maximum_sstvd[1] == pytest.approx(dc.maximum_sstvd[1])
    assert agreements == 10
    assert pygsti is not None
