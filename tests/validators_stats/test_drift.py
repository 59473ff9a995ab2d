"""Drift detector: known false-alarm rate, fast detection, persistence; divergence."""

from __future__ import annotations

import json

import numpy as np
import pytest

from validators.drift import (
    DivergenceConfig,
    DriftConfig,
    DriftDetector,
    check_divergence,
    cusum_threshold,
    markov_arl,
    siegmund_arl,
)
from validators.errors import DetectorStateError, InvalidConfig
from validators.verdict import Verdict, combine, version_change
from validators_stats.models import as_dict, draw_run, suite_probabilities

SHOTS = 4000
STABLE = suite_probabilities(0.01, 0.01)


def _trained(rng: np.random.Generator, config: DriftConfig | None = None) -> DriftDetector:
    det = DriftDetector(config)
    for _ in range(det.config.baseline_runs):
        res = det.update(draw_run(STABLE, SHOTS, rng), calibration_id="cal-1")
        assert res.status == "learning" and res.verdict == Verdict.NOT_EVALUATED
    return det


def test_threshold_gives_the_configured_arl_by_simulation() -> None:
    rng = np.random.default_rng(0)
    k, arl0 = 1.0, 200.0
    h = cusum_threshold(arl0, k)
    assert markov_arl(h, k) == pytest.approx(arl0, rel=1e-6)
    assert siegmund_arl(h, k) == pytest.approx(arl0, rel=0.2)  # the textbook formula
    z = rng.standard_normal(400_000)
    s, alarms = 0.0, 0
    for x in z:
        s = max(0.0, s + x - k)
        if s > h:
            alarms, s = alarms + 1, 0.0
    # ~2000 alarms expected; 5 % tolerance is ~2.2 sd
    assert z.size / alarms == pytest.approx(arl0, rel=0.05)


@pytest.mark.slow
def test_false_alarms_within_budget_on_stable_backend() -> None:
    rng = np.random.default_rng(2024)
    alarms = drifts = runs = 0
    for _ in range(3):  # three calibrations (baselines), 700 monitored runs each
        det = _trained(rng)
        for _ in range(700):
            res = det.update(draw_run(STABLE, SHOTS, rng), calibration_id="cal-1")
            runs += 1
            if res.alarm:
                alarms += 1
                drifts += res.verdict == Verdict.DRIFT
                det.clear_alarm()
    # budget 1/500 per run -> 4.2 expected in 2100 runs; P(Poisson(4.2) > 10) < 0.4 %
    assert alarms <= 10, f"{alarms} CUSUM alarms in {runs} runs"
    assert drifts <= alarms


@pytest.mark.slow
@pytest.mark.parametrize(
    ("after", "label"),
    [
        (suite_probabilities(0.02, 0.01), "2q depolarizing 1%->2%"),
        (suite_probabilities(0.01, 0.02), "readout 1%->2%"),
    ],
)
def test_step_change_is_detected_within_three_runs(after: dict, label: str) -> None:
    rng = np.random.default_rng(7)
    trained = _trained(rng).to_dict()
    delays = []
    for _ in range(30):
        det = DriftDetector.from_dict(trained)
        for run in range(1, 21):
            res = det.update(draw_run(after, SHOTS, rng), calibration_id="cal-1")
            if res.verdict == Verdict.DRIFT:
                delays.append(run)
                assert res.drift_since_run is not None
                assert res.effect_tvd is not None and res.effect_tvd >= 0.01
                break
        else:
            delays.append(99)
    assert float(np.median(delays)) <= 3, f"{label}: delays {delays}"


def test_state_round_trips_through_json_and_recalibration_restarts() -> None:
    rng = np.random.default_rng(3)
    det = _trained(rng)
    runs = [draw_run(STABLE, SHOTS, rng) for _ in range(5)]
    restored = DriftDetector.from_dict(json.loads(json.dumps(det.to_dict())))
    for run in runs:
        a = det.update(run, calibration_id="cal-1")
        b = restored.update(run, calibration_id="cal-1")
        assert a.to_dict() == b.to_dict()
    res = det.update(draw_run(STABLE, SHOTS, rng), calibration_id="cal-2")
    assert res.status == "learning" and res.verdict == Verdict.NOT_EVALUATED
    with pytest.raises(DetectorStateError, match="version"):
        DriftDetector.from_dict({"version": 99})
    with pytest.raises(InvalidConfig, match="arl0_runs"):
        DriftConfig(arl0_runs=0.5)


def test_drift_is_latched_until_cleared() -> None:
    rng = np.random.default_rng(4)
    det = _trained(rng)
    worse = suite_probabilities(0.05, 0.03)
    res = det.update(draw_run(worse, SHOTS, rng), calibration_id="cal-1")
    assert res.verdict == Verdict.DRIFT
    drifted = {c.circuit for c in res.circuits if c.verdict == Verdict.DRIFT}
    assert "mirror5" in drifted
    res = det.update(draw_run(STABLE, SHOTS, rng), calibration_id="cal-1")
    assert res.verdict == Verdict.DRIFT  # latched
    det.clear_alarm()
    res = det.update(draw_run(STABLE, SHOTS, rng), calibration_id="cal-1")
    assert res.verdict in (Verdict.OK, Verdict.WARN)


def test_tiny_real_shift_at_huge_shots_warns_but_does_not_drift() -> None:
    rng = np.random.default_rng(5)
    config = DriftConfig(baseline_runs=5, min_effect_tvd=0.01)
    det = DriftDetector(config)
    big = 400_000
    for _ in range(5):
        det.update(draw_run(STABLE, big, rng), calibration_id="c")
    tiny = suite_probabilities(0.0103, 0.0103)  # real but immaterial (TVD < 0.005)
    verdicts = [det.update(draw_run(tiny, big, rng), calibration_id="c") for _ in range(10)]
    assert any(r.alarm for r in verdicts)
    assert all(r.verdict != Verdict.DRIFT for r in verdicts)
    assert verdicts[-1].verdict == Verdict.WARN


# -------------------------------------------------------------- divergence
def _predictions(probs: dict[str, np.ndarray]) -> dict[str, dict[str, float]]:
    return {n: as_dict(p, int(p.size).bit_length() - 1) for n, p in probs.items()}


def test_divergence_size_under_h0() -> None:
    rng = np.random.default_rng(9)
    config = DivergenceConfig(alpha=0.05, min_effect_tvd=0.0)
    preds = _predictions(STABLE)
    flagged = sum(
        check_divergence(draw_run(STABLE, SHOTS, rng), preds, config).verdict != Verdict.OK
        for _ in range(1000)
    )
    # BH keeps the family-wise rate near alpha under the global null (50 of 1000);
    # measured 6.7 %: Pearson's chi-square tail is slightly liberal at ~1 % levels
    assert 25 <= flagged <= 80


def test_divergence_detects_corrupted_family_and_not_matching_prediction() -> None:
    rng = np.random.default_rng(10)
    preds = _predictions(STABLE)
    corrupted = dict(STABLE)
    corrupted["ghz5"] = suite_probabilities(0.04, 0.01)["ghz5"]
    res = check_divergence(draw_run(corrupted, SHOTS, rng), preds)
    assert res.verdict == Verdict.DIVERGED
    assert [c.circuit for c in res.circuits if c.verdict == Verdict.DIVERGED] == ["ghz5"]
    ok = check_divergence(draw_run(STABLE, SHOTS, rng), preds)
    assert ok.verdict == Verdict.OK
    none = check_divergence(draw_run(STABLE, SHOTS, rng), None)
    assert none.verdict == Verdict.NOT_EVALUATED


def test_drift_followed_by_prediction_is_drift_not_divergence() -> None:
    rng = np.random.default_rng(11)
    det = _trained(rng)
    after = suite_probabilities(0.03, 0.02)
    preds = _predictions(after)  # the backend's new calibration predicts the change
    drift = det.update(draw_run(after, SHOTS, rng), calibration_id="cal-1")
    run = draw_run(after, SHOTS, rng)
    drift = det.update(run, calibration_id="cal-1")
    divergence = check_divergence(run, preds)
    verdict = combine("fake_5q", [*drift.evidence(), *divergence.evidence()])
    assert verdict.drift == Verdict.DRIFT
    assert verdict.divergence == Verdict.OK
    assert verdict.verdict == Verdict.DRIFT
    assert verdict.likely_cause == "calibration drift"
    as_json = json.dumps(verdict.to_dict())
    assert '"verdict": "drift"' in as_json


def test_version_change_marks_compiler_or_firmware_regression() -> None:
    prev = {"qiskit": "2.5.0", "qiskit-aer": "0.18.0", "transpiler": {"optimization_level": 1}}
    cur = {"qiskit": "2.6.0", "qiskit-aer": "0.18.0", "transpiler": {"optimization_level": 1}}
    change = version_change(prev, cur)
    assert change.changed and change.changes == (("qiskit", "2.5.0", "2.6.0"),)
    assert not version_change(prev, prev).changed
    rng = np.random.default_rng(12)
    corrupted = dict(STABLE)
    corrupted["mirror5"] = suite_probabilities(0.05, 0.01)["mirror5"]
    div = check_divergence(draw_run(corrupted, SHOTS, rng), _predictions(STABLE))
    verdict = combine("fake_5q", list(div.evidence()), change)
    assert verdict.divergence == Verdict.DIVERGED
    assert verdict.likely_cause.startswith("compiler/firmware regression")
    assert "qiskit 2.5.0 -> 2.6.0" in verdict.likely_cause
