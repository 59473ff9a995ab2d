"""Exact noisy output distributions of small reference circuits, built analytically.

Each circuit's ideal distribution is mixed with the uniform one by the global
depolarising fidelity (1 - p2q)^(number of two-qubit gates), then every bit is
flipped independently with readout error e. Counts are drawn with a seeded
multinomial, so thousands of validation runs take seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CircuitModel:
    name: str
    num_bits: int
    two_qubit_gates: int
    ideal: dict[int, float]


SUITE: tuple[CircuitModel, ...] = (
    CircuitModel("bell", 2, 1, {0b00: 0.5, 0b11: 0.5}),
    CircuitModel("ghz3", 3, 2, {0: 0.5, 0b111: 0.5}),
    CircuitModel("ghz5", 5, 4, {0: 0.5, 0b11111: 0.5}),
    CircuitModel("mirror5", 5, 12, {0b10110: 1.0}),
    CircuitModel("readout5", 5, 0, {0b11111: 1.0}),
)


def noisy_probabilities(model: CircuitModel, p2q: float, readout: float) -> np.ndarray:
    dim = 2**model.num_bits
    ideal = np.zeros(dim)
    for key, prob in model.ideal.items():
        ideal[key] = prob
    fidelity = (1.0 - p2q) ** model.two_qubit_gates
    probs = fidelity * ideal + (1.0 - fidelity) / dim
    flip = np.array([[1 - readout, readout], [readout, 1 - readout]])
    tensor = probs.reshape((2,) * model.num_bits)
    for axis in range(model.num_bits):
        tensor = np.moveaxis(np.tensordot(flip, tensor, axes=([1], [axis])), 0, axis)
    out = tensor.reshape(dim)
    return out / out.sum()


def suite_probabilities(p2q: float, readout: float) -> dict[str, np.ndarray]:
    return {m.name: noisy_probabilities(m, p2q, readout) for m in SUITE}


def as_dict(probs: np.ndarray, num_bits: int) -> dict[str, float]:
    return {format(i, f"0{num_bits}b"): float(v) for i, v in enumerate(probs)}


def draw_run(
    probs_by_circuit: dict[str, np.ndarray], shots: int, rng: np.random.Generator
) -> dict[str, dict[str, int]]:
    """One validation run: circuit -> Qiskit-style counts dict."""
    run = {}
    for name, probs in probs_by_circuit.items():
        width = int(probs.size).bit_length() - 1
        counts = rng.multinomial(shots, probs)
        run[name] = {format(i, f"0{width}b"): int(c) for i, c in enumerate(counts) if c}
    return run
