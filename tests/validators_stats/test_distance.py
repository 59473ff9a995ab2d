"""Distances agree with Qiskit and reject malformed input with a clear message."""

from __future__ import annotations

import math

import numpy as np
import pytest
from qiskit.quantum_info import hellinger_fidelity as qiskit_hellinger_fidelity

from validators.distance import (
    SparseDist,
    heavy_output_probability,
    hellinger_distance,
    hellinger_fidelity,
    js_divergence,
    kl_divergence,
    normalized_fidelity,
    total_variation_distance,
)
from validators.errors import InvalidCounts, InvalidDistribution


def _random_counts(rng: np.random.Generator, num_bits: int, shots: int) -> dict[str, int]:
    keys = rng.integers(0, 2**num_bits, size=shots)
    keys[: shots // 2] = 0  # concentrate like a real circuit
    uniq, counts = np.unique(keys, return_counts=True)
    return {format(int(k), f"0{num_bits}b"): int(c) for k, c in zip(uniq, counts, strict=True)}


@pytest.mark.parametrize("num_bits", [1, 3, 10, 20])
def test_hellinger_fidelity_matches_qiskit(num_bits: int) -> None:
    rng = np.random.default_rng(num_bits)
    for _ in range(20):
        p = _random_counts(rng, num_bits, 3000)
        q = _random_counts(rng, num_bits, 5000)
        assert abs(hellinger_fidelity(p, q) - qiskit_hellinger_fidelity(p, q)) < 1e-12
        sparse = hellinger_fidelity(SparseDist.from_counts(p), SparseDist.from_counts(q))
        assert abs(sparse - qiskit_hellinger_fidelity(p, q)) < 1e-12


def test_distances_on_known_pair() -> None:
    p = {"00": 500, "11": 500}
    q = {"00": 0.5, "01": 0.5}
    assert total_variation_distance(p, q) == pytest.approx(0.5)
    assert hellinger_fidelity(p, q) == pytest.approx(0.25)
    assert hellinger_distance(p, q) == pytest.approx(math.sqrt(1 - 0.5))
    # JSD base 2: half the mass is shared, half disjoint -> 0.5 bit
    assert js_divergence(p, q) == pytest.approx(0.5)
    assert js_divergence(p, p) == pytest.approx(0.0, abs=1e-12)
    assert total_variation_distance(p, p) == 0.0
    # smoothing keeps KL finite when q misses an outcome p has
    assert math.isfinite(kl_divergence(p, q))
    assert kl_divergence(p, p, smoothing=0.0) == pytest.approx(0.0, abs=1e-12)
    assert 0 < kl_divergence(p, p) < 2e-3  # the pseudocount costs a little


def test_dense_and_dict_inputs_agree() -> None:
    dense = np.array([0.5, 0.0, 0.0, 0.5])
    counts = np.array([480, 10, 12, 498])
    assert hellinger_fidelity(counts, dense) == pytest.approx(
        hellinger_fidelity({"00": 480, "01": 10, "10": 12, "11": 498}, {"00": 0.5, "11": 0.5})
    )


def test_normalized_fidelity_is_one_for_ideal_and_zero_for_uniform() -> None:
    ideal = {"000": 0.5, "111": 0.5}
    assert normalized_fidelity({"000": 2000, "111": 2000}, ideal) == pytest.approx(1.0)
    uniform = {format(i, "03b"): 1.0 / 8 for i in range(8)}
    assert normalized_fidelity(uniform, ideal) == pytest.approx(0.0, abs=1e-12)


def test_heavy_output_probability_uses_median_over_full_space() -> None:
    ideal = {"00": 0.4, "01": 0.3, "10": 0.2, "11": 0.1}  # median 0.25 -> heavy {00, 01}
    measured = {"00": 30, "01": 20, "10": 40, "11": 10}
    assert heavy_output_probability(measured, ideal) == pytest.approx(0.5)
    # sparse ideal on a 2^20 space: median is 0, heavy = its support
    big_ideal = {"0" * 20: 0.5, "1" * 20: 0.5}
    assert heavy_output_probability({"0" * 20: 7, "01" * 10: 3}, big_ideal) == pytest.approx(0.7)


def test_key_formats() -> None:
    assert SparseDist.from_counts({"01 1": 3, "11 0": 4}).to_dict() == {"011": 3, "110": 4}
    assert SparseDist.from_counts({"0x3": 3, "0x1": 4}, num_bits=3).to_dict() == {
        "001": 4,
        "011": 3,
    }
    assert SparseDist.from_counts({"0b10": 1}).to_dict() == {"10": 1}


@pytest.mark.parametrize(
    ("counts", "message"),
    [
        ({"00": 1, "011": 2}, "counts key '011' has width 3, expected 2 like '00'"),
        ({"00": -1}, "counts['00'] = -1"),
        ({"00": 1.5}, "counts['00'] = 1.5 is not an integer"),
        ({}, "counts are empty"),
        ({"0a": 1}, "counts key '0a' is not a bitstring"),
        ({"00": 0}, "expected at least one shot"),
        ({"01": 1, "0 1": 2}, "name the same outcome"),
    ],
)
def test_bad_counts_say_what_and_where(counts: dict, message: str) -> None:
    with pytest.raises(InvalidCounts, match=message.replace("[", r"\[").replace("]", r"\]")):
        SparseDist.from_counts(counts)


@pytest.mark.parametrize(
    ("probs", "message"),
    [
        ({"0": 0.5, "1": float("nan")}, r"probabilities\['1'\] = nan"),
        ({"0": 0.5, "1": 0.4}, "sum to 0.9; expected 1"),
        (np.array([0.5, -0.1, 0.6, 0.0]), r"dense probabilities\[1\] = -0.1"),
        (np.array([0.5, 0.5, 0.0]), "length 2\\*\\*n"),
    ],
)
def test_bad_probabilities_say_what_and_where(probs: object, message: str) -> None:
    with pytest.raises(InvalidDistribution, match=message):
        SparseDist.from_probabilities(probs)  # type: ignore[arg-type]


def test_width_mismatch_between_distributions() -> None:
    with pytest.raises(InvalidCounts, match="2 bits vs 3 bits"):
        total_variation_distance({"00": 1}, {"000": 1})


@pytest.mark.parametrize("num_bits", [12, 16, 20, 24])
def test_common_support_paths_agree_with_qiskit(num_bits):
    """Both ways of finding the common support (direct-address table up to 16 bits,
    sorted merge above) give qiskit's Hellinger fidelity and the plain-dict TVD."""
    from qiskit.quantum_info import hellinger_fidelity as qiskit_hf

    from validators.distance import SparseDist, hellinger_fidelity, total_variation_distance

    rng = np.random.default_rng(num_bits)

    def counts() -> dict[str, int]:
        keys = rng.integers(0, 2**num_bits, size=400)
        keys = np.concatenate([keys, [0, 2**num_bits - 1]])
        return {format(int(k), f"0{num_bits}b"): int(rng.integers(1, 50)) for k in keys}

    p, q = counts(), counts()
    sp, sq = SparseDist.from_counts(p), SparseDist.from_counts(q)
    assert hellinger_fidelity(sp, sq) == pytest.approx(qiskit_hf(p, q), abs=1e-12)
    tp, tq = sum(p.values()), sum(q.values())
    plain_tvd = 0.5 * sum(abs(p.get(k, 0) / tp - q.get(k, 0) / tq) for k in set(p) | set(q))
    assert total_variation_distance(sp, sq) == pytest.approx(plain_tvd, abs=1e-12)
