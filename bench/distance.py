"""Hellinger fidelity: qsre's sparse implementation vs qiskit.quantum_info.

Prints ONE JSON object. For each outcome-space size (2^10, 2^16, 2^20) it draws two
independent count sets from a realistic noisy distribution (GHZ-like: most weight on
|0..0> and |1..1>, plus a tail spread over the whole space) and times:

- qiskit: ``qiskit.quantum_info.hellinger_fidelity(dict, dict)``
- qsre dict-in: both dicts converted to SparseDist inside the timed call
- qsre one-cached: the reference side pre-converted (how validation uses it: the
  predicted distribution is converted once per run, the measured counts each time)
- qsre sparse: both sides already SparseDist

Run: .venv/bin/python bench/distance.py
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qiskit.quantum_info import hellinger_fidelity as qiskit_hellinger_fidelity  # noqa: E402

from validators.distance import SparseDist, hellinger_fidelity  # noqa: E402

CASES = ((10, 4000), (16, 20000), (20, 100000))
TAIL_FRACTION = 0.2


def noisy_counts(num_bits: int, shots: int, rng: np.random.Generator) -> dict[str, int]:
    head = rng.multinomial(int(shots * (1 - TAIL_FRACTION)), [0.5, 0.5])
    tail = rng.integers(0, 2**num_bits, size=shots - int(head.sum()))
    keys, counts = np.unique(tail, return_counts=True)
    out: dict[int, int] = dict(zip(keys.tolist(), counts.tolist(), strict=True))
    for key, extra in ((0, head[0]), (2**num_bits - 1, head[1])):
        out[key] = out.get(key, 0) + int(extra)
    return {format(k, f"0{num_bits}b"): v for k, v in out.items()}


def median_us(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e6


def main() -> None:
    rng = np.random.default_rng(20240611)
    report: dict[str, dict[str, float]] = {}
    for num_bits, shots in CASES:
        p, q = noisy_counts(num_bits, shots, rng), noisy_counts(num_bits, shots, rng)
        sp, sq = SparseDist.from_counts(p), SparseDist.from_counts(q)
        repeats = 41 if num_bits < 20 else 15
        expected = qiskit_hellinger_fidelity(p, q)
        diffs = [
            abs(hellinger_fidelity(p, q) - expected),
            abs(hellinger_fidelity(sp, sq) - expected),
            abs(hellinger_fidelity(p, sq) - expected),
        ]
        qiskit_us = median_us(lambda p=p, q=q: qiskit_hellinger_fidelity(p, q), repeats)
        dict_us = median_us(lambda p=p, q=q: hellinger_fidelity(p, q), repeats)
        cached_us = median_us(lambda p=p, sq=sq: hellinger_fidelity(p, sq), repeats)
        sparse_us = median_us(lambda sp=sp, sq=sq: hellinger_fidelity(sp, sq), repeats)
        report[f"2^{num_bits}"] = {
            "shots": shots,
            "distinct_outcomes": len(p),
            "fidelity": expected,
            "qiskit_median_us": round(qiskit_us, 1),
            "qsre_median_us": round(dict_us, 1),
            "speedup": round(qiskit_us / dict_us, 2),
            "qsre_one_cached_median_us": round(cached_us, 1),
            "speedup_one_cached": round(qiskit_us / cached_us, 2),
            "qsre_sparse_median_us": round(sparse_us, 1),
            "speedup_sparse": round(qiskit_us / sparse_us, 2),
            "max_abs_diff": max(diffs),
        }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
