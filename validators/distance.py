"""Distances between measured counts and reference distributions.

Everything here is a pure function over sparse arrays: a distribution is a sorted
``int64`` array of outcome indices plus a ``float64`` array of weights
(:class:`SparseDist`). Two distributions are compared by looking up one key array in
the other (``np.searchsorted``), so a 20-qubit (2^20 outcome) space costs what its
*observed* outcomes cost; no dense 2^n vector is ever built from sparse counts.

Bitstring keys follow Qiskit's ``get_counts()`` convention: the leftmost character
is the highest classical bit, so ``'01'`` is the integer 1. Spaces between
registers (``'01 1'``) are removed; ``'0b..'`` keys are accepted; ``'0x..'`` keys
(the raw ``result.data()`` form) are accepted when ``num_bits`` is given or can be
inferred from the largest key.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from validators.errors import InvalidCounts, InvalidDistribution

MAX_BITS = 62  # outcome indices are int64; one bit of headroom keeps 2**n exact
PROBABILITY_SUM_ATOL = 1e-6


@dataclass(frozen=True, eq=False)
class SparseDist:
    """A distribution over ``2**num_bits`` outcomes, stored sparsely.

    ``keys`` are sorted unique outcome indices, ``values`` non-negative weights
    (counts when ``shots`` is set, probabilities otherwise).
    """

    keys: np.ndarray
    values: np.ndarray
    num_bits: int
    shots: int | None = None

    # ------------------------------------------------------------------ builders
    @classmethod
    def from_counts(
        cls, counts: Mapping[str, int] | SparseDist | np.ndarray, num_bits: int | None = None
    ) -> SparseDist:
        """Counts (Qiskit dict, dense count vector or SparseDist) -> validated SparseDist.

        Raises InvalidCounts for empty counts, negative/non-integer/NaN values, mixed
        bitstring widths and keys that are not bitstrings.
        """
        if isinstance(counts, SparseDist):
            if counts.shots is None:
                raise InvalidCounts("expected counts, got a probability distribution")
            return counts
        if isinstance(counts, np.ndarray):
            return _from_dense(counts, kind="counts", error=InvalidCounts)
        if not isinstance(counts, Mapping):
            raise InvalidCounts(
                f"counts must be a mapping of bitstring -> int, got {type(counts).__name__}"
            )
        keys, num_bits = _parse_keys(list(counts), num_bits, InvalidCounts, "counts")
        values = _values_array(counts, InvalidCounts, "counts")
        bad = np.flatnonzero(values != np.floor(values))
        if bad.size:
            key = list(counts)[int(bad[0])]
            raise InvalidCounts(
                f"counts[{key!r}] = {counts[key]!r} is not an integer; counts must be whole shots"
            )
        return _finish(keys, values, num_bits, InvalidCounts, "counts", counts, is_counts=True)

    @classmethod
    def from_probabilities(
        cls,
        probabilities: Mapping[str, float] | SparseDist | np.ndarray,
        num_bits: int | None = None,
        *,
        atol: float = PROBABILITY_SUM_ATOL,
    ) -> SparseDist:
        """Probabilities (dict, dense vector, SparseDist) -> validated SparseDist.

        Raises InvalidDistribution for NaN/negative entries or a sum not within
        ``atol`` of 1. The stored values are renormalised to sum to exactly 1.
        """
        if isinstance(probabilities, SparseDist):
            dist = probabilities
            if dist.shots is not None:
                return SparseDist(dist.keys, dist.values / dist.shots, dist.num_bits, None)
            return dist
        if isinstance(probabilities, np.ndarray):
            return _from_dense(
                probabilities, kind="probabilities", error=InvalidDistribution, atol=atol
            )
        if not isinstance(probabilities, Mapping):
            raise InvalidDistribution(
                "probabilities must be a mapping of bitstring -> float, "
                f"got {type(probabilities).__name__}"
            )
        keys, num_bits = _parse_keys(
            list(probabilities), num_bits, InvalidDistribution, "probabilities"
        )
        values = _values_array(probabilities, InvalidDistribution, "probabilities")
        return _finish(
            keys,
            values,
            num_bits,
            InvalidDistribution,
            "probabilities",
            probabilities,
            is_counts=False,
            atol=atol,
        )

    # ---------------------------------------------------------------- accessors
    @cached_property
    def probabilities(self) -> np.ndarray:
        """Values normalised to sum to 1 (computed once; do not mutate)."""
        return self.values / self.values.sum()

    @property
    def support_size(self) -> int:
        return int(self.keys.size)

    def lookup(self, keys: np.ndarray) -> np.ndarray:
        """Probabilities of the given outcome indices (0 where not in the support)."""
        return _lookup(self.keys, self.probabilities, keys)

    def bitstrings(self) -> list[str]:
        """Keys as Qiskit-style bitstrings (leftmost = highest bit)."""
        return [format(int(k), f"0{self.num_bits}b") for k in self.keys]

    def to_dict(self) -> dict[str, float]:
        """Bitstring -> value (int counts when this holds counts)."""
        if self.shots is not None:
            return dict(zip(self.bitstrings(), (int(v) for v in self.values), strict=True))
        return dict(zip(self.bitstrings(), (float(v) for v in self.values), strict=True))


DistLike = SparseDist | Mapping[str, float] | np.ndarray


def as_dist(dist: DistLike, num_bits: int | None = None) -> SparseDist:
    """Coerce counts or probabilities to a SparseDist.

    A mapping/array whose values are all whole numbers is read as counts, anything
    else as probabilities (which must then sum to 1).
    """
    if isinstance(dist, SparseDist):
        return dist
    if isinstance(dist, np.ndarray):
        arr = np.asarray(dist, dtype=np.float64)
        if np.all(np.isfinite(arr)) and np.all(arr == np.floor(arr)) and arr.sum() > 1.0:
            return _from_dense(arr, kind="counts", error=InvalidCounts)
        return _from_dense(arr, kind="probabilities", error=InvalidDistribution)
    if isinstance(dist, Mapping):
        keys, width = _parse_keys(list(dist), num_bits, InvalidCounts, "counts")
        values = _values_array(dist, InvalidCounts, "counts")
        if np.all(values == np.floor(values)) and values.sum() > 1.0:
            return _finish(keys, values, width, InvalidCounts, "counts", dist, is_counts=True)
        return _finish(
            keys, values, width, InvalidDistribution, "probabilities", dist, is_counts=False
        )
    raise InvalidCounts(f"expected counts or probabilities, got {type(dist).__name__}")


# --------------------------------------------------------------------- distances
def _aligned(p: DistLike, q: DistLike) -> tuple[SparseDist, SparseDist, np.ndarray, np.ndarray]:
    """Both distributions plus the probabilities of p and q on p's keys."""
    dp, dq = as_dist(p), as_dist(q)
    if dp.num_bits != dq.num_bits:
        raise InvalidCounts(
            f"distributions have different widths: {dp.num_bits} bits vs {dq.num_bits} bits"
        )
    pp = dp.probabilities
    qq = _lookup(dq.keys, dq.probabilities, dp.keys)
    return dp, dq, pp, qq


# Up to 2**16 outcomes (256 KiB of int32) a direct-address
# table finds the common support in O(n); wider spaces merge the sorted keys (at
# 2**20 the random lookups into a 4 MiB table were slower than the merge: measured).
DIRECT_ADDRESS_MAX_BITS = 16


def _common(p: DistLike, q: DistLike) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities of p and q on their common support only (any order, paired).

    Distances whose terms vanish off the common support (Bhattacharyya, TVD) need
    nothing else. For widths up to DIRECT_ADDRESS_MAX_BITS, p's keys are written into
    a zeroed table and q's keys looked up; otherwise, both key arrays being sorted and
    unique, a stable argsort of their concatenation is a linear merge of two runs
    whose equal neighbours are the common outcomes.
    """
    dp, dq = as_dist(p), as_dist(q)
    if dp.num_bits != dq.num_bits:
        raise InvalidCounts(
            f"distributions have different widths: {dp.num_bits} bits vs {dq.num_bits} bits"
        )
    if dp.num_bits <= DIRECT_ADDRESS_MAX_BITS:
        table = np.zeros(1 << dp.num_bits, dtype=np.int32)
        table[dp.keys] = np.arange(1, dp.keys.size + 1, dtype=np.int32)
        hit = table[dq.keys]
        found = hit > 0
        return dp.probabilities[hit[found] - 1], dq.probabilities[found]
    keys = np.concatenate((dp.keys, dq.keys))
    order = np.argsort(keys, kind="stable")
    merged = keys[order]
    dup = np.flatnonzero(merged[1:] == merged[:-1])
    return dp.probabilities[order[dup]], dq.probabilities[order[dup + 1] - dp.keys.size]


def bhattacharyya_coefficient(p: DistLike, q: DistLike) -> float:
    """sum_i sqrt(p_i q_i); only the common support contributes."""
    pp, qq = _common(p, q)
    return float(np.sqrt(pp * qq).sum())


def hellinger_fidelity(p: DistLike, q: DistLike) -> float:
    """Classical fidelity (sum sqrt(p q))^2, equal to qiskit's ``hellinger_fidelity``."""
    bc = min(bhattacharyya_coefficient(p, q), 1.0)
    return bc * bc


def hellinger_distance(p: DistLike, q: DistLike) -> float:
    """sqrt(1 - BC), the Hellinger distance in [0, 1] (qiskit's definition)."""
    bc = min(bhattacharyya_coefficient(p, q), 1.0)
    return math.sqrt(max(0.0, 1.0 - bc))


def total_variation_distance(p: DistLike, q: DistLike) -> float:
    """1/2 sum |p - q| = 1 - sum min(p, q); only the common support is visited."""
    pp, qq = _common(p, q)
    return float(max(0.0, 1.0 - np.minimum(pp, qq).sum()))


def js_divergence(p: DistLike, q: DistLike, *, base: float = 2.0) -> float:
    """Jensen-Shannon divergence (base 2: in [0, 1]).

    Outcomes seen by only one side contribute mass * log(2), so only the common
    support needs element-wise work.
    """
    _, dq, pp, qq = _aligned(p, q)
    both = qq > 0
    pb, qb = pp[both], qq[both]
    m = 0.5 * (pb + qb)
    common = 0.5 * float((pb * np.log(pb / m)).sum() + (qb * np.log(qb / m)).sum())
    only_mass = (1.0 - pb.sum()) + (1.0 - qb.sum())
    value = common + 0.5 * only_mass * math.log(2.0)
    return max(0.0, value / math.log(base))


def kl_divergence(p: DistLike, q: DistLike, *, smoothing: float | None = None) -> float:
    """KL(p || q) in nats with additive smoothing of q.

    ``smoothing`` is the probability mass added to *every* one of the 2^n outcomes
    of q before renormalising, so outcomes q never saw do not give infinity. The
    default is half a shot (Jeffreys pseudocount) when q holds counts, else 1e-9.
    """
    dp, dq, pp, qq = _aligned(p, q)
    if smoothing is None:
        smoothing = 0.5 / dq.shots if dq.shots else 1e-9
    if not (smoothing >= 0.0 and math.isfinite(smoothing)):
        raise InvalidDistribution(f"smoothing must be a finite number >= 0, got {smoothing!r}")
    norm = 1.0 + smoothing * float(2**dp.num_bits)
    qs = (qq + smoothing) / norm
    nz = pp > 0
    with np.errstate(divide="ignore"):
        value = float((pp[nz] * np.log(pp[nz] / qs[nz])).sum())
    return value


def uniform_fidelity(ideal: DistLike) -> float:
    """Hellinger fidelity of ``ideal`` with the uniform distribution over 2^n outcomes."""
    d = as_dist(ideal)
    bc = float(np.sqrt(d.probabilities).sum()) * 2.0 ** (-d.num_bits / 2)
    return min(bc, 1.0) ** 2


def normalized_fidelity(measured: DistLike, ideal: DistLike) -> float:
    """QED-C polarization ("noise-normalised") fidelity.

    (F_raw - F_uniform) / (1 - F_uniform), where F_raw is the Hellinger fidelity of
    the measured counts with the ideal distribution and F_uniform that of the
    uniform distribution with the ideal one: 1 for a perfect device, ~0 for a
    fully depolarised one (can be slightly negative through shot noise; not
    clipped, so averages stay unbiased).
    """
    raw = hellinger_fidelity(measured, ideal)
    floor = uniform_fidelity(ideal)
    if floor >= 1.0 - 1e-15:
        raise InvalidDistribution(
            "normalized_fidelity is undefined when the ideal distribution is uniform"
        )
    return (raw - floor) / (1.0 - floor)


def heavy_output_probability(measured: DistLike, ideal: DistLike) -> float:
    """Fraction of measured weight on the ideal distribution's heavy outputs.

    Heavy outputs are those whose ideal probability exceeds the median ideal
    probability over all 2^n outcomes (zeros included, without a dense array).
    """
    dm, di = as_dist(measured), as_dist(ideal)
    if dm.num_bits != di.num_bits:
        raise InvalidCounts(f"widths differ: measured {dm.num_bits} bits, ideal {di.num_bits} bits")
    median = _median_with_zeros(di.probabilities, 2**di.num_bits)
    heavy_keys = di.keys[di.probabilities > median]
    return float(_lookup(dm.keys, dm.probabilities, heavy_keys).sum())


# ---------------------------------------------------------------------- helpers
def _lookup(keys: np.ndarray, values: np.ndarray, query: np.ndarray) -> np.ndarray:
    """values[keys == q] for each q in query, 0.0 where q is absent (keys sorted)."""
    if keys.size == 0:
        return np.zeros(query.shape, dtype=np.float64)
    idx = np.searchsorted(keys, query)
    idx[idx >= keys.size] = keys.size - 1
    return np.where(keys[idx] == query, values[idx], 0.0)


def _median_with_zeros(values: np.ndarray, total_outcomes: int) -> float:
    zeros = total_outcomes - values.size
    ordered = np.sort(values)

    def at(i: int) -> float:
        return 0.0 if i < zeros else float(ordered[i - zeros])

    half = total_outcomes // 2
    if total_outcomes % 2:
        return at(half)
    return 0.5 * (at(half - 1) + at(half))


def _values_array(mapping: Mapping, error: type[Exception], what: str) -> np.ndarray:
    try:
        values = np.fromiter(mapping.values(), dtype=np.float64, count=len(mapping))
    except (TypeError, ValueError) as exc:
        bad = next(
            (k for k, v in mapping.items() if not isinstance(v, (int, float, np.number))), None
        )
        raise error(f"{what}[{bad!r}] = {mapping.get(bad)!r} is not a number") from exc
    bad_idx = np.flatnonzero(~np.isfinite(values) | (values < 0))
    if bad_idx.size:
        key = list(mapping)[int(bad_idx[0])]
        raise error(f"{what}[{key!r}] = {mapping[key]!r}; expected a finite number >= 0")
    return values


def _parse_keys(
    keys: list, num_bits: int | None, error: type[Exception], what: str
) -> tuple[np.ndarray, int]:
    """Bitstring keys -> int64 outcome indices plus the register width."""
    if not keys:
        raise error(f"{what} are empty; expected at least one outcome")
    first = keys[0]
    if not isinstance(first, str):
        raise error(f"{what} key {first!r} is a {type(first).__name__}; expected a bitstring")
    if first.startswith(("0x", "0X")):
        return _parse_prefixed(keys, 16, num_bits, error, what)
    if first.startswith(("0b", "0B")):
        return _parse_prefixed(keys, 2, num_bits, error, what)
    try:
        joined = "".join(keys)
    except TypeError:
        bad = next(k for k in keys if not isinstance(k, str))
        raise error(f"{what} key {bad!r} is a {type(bad).__name__}; expected a bitstring") from None
    if " " in joined:
        keys = [k.replace(" ", "") for k in keys]
        joined = "".join(keys)
    widths = set(map(len, keys))
    width = len(keys[0])
    if len(widths) > 1:
        bad = next(k for k in keys if len(k) != width)
        raise error(f"{what} key {bad!r} has width {len(bad)}, expected {width} like {keys[0]!r}")
    if num_bits is not None and width != num_bits:
        raise error(f"{what} key {keys[0]!r} has width {width}, expected {num_bits} bits")
    if width == 0:
        raise error(f"{what} key '' is empty; expected a bitstring like '01'")
    if width > MAX_BITS:
        raise error(f"{what} keys have {width} bits; at most {MAX_BITS} are supported")
    try:
        raw = joined.encode("ascii")
    except UnicodeEncodeError:
        raw = b"?" * len(joined)
    chars = np.frombuffer(raw, dtype=np.uint8).reshape(len(keys), width)
    bits = chars - np.uint8(48)
    if bits.max() > 1:
        bad = keys[int(np.flatnonzero((bits > 1).any(axis=1))[0])]
        raise error(f"{what} key {bad!r} is not a bitstring of '0'/'1' characters")
    if width <= 52:
        # float64 matmul is BLAS-fast and exact below 2**53
        weights = np.exp2(np.arange(width - 1, -1, -1, dtype=np.float64))
        return (bits.astype(np.float64) @ weights).astype(np.int64), width
    weights_int = np.left_shift(np.int64(1), np.arange(width - 1, -1, -1, dtype=np.int64))
    return bits.astype(np.int64) @ weights_int, width


def _parse_prefixed(
    keys: list, base: int, num_bits: int | None, error: type[Exception], what: str
) -> tuple[np.ndarray, int]:
    prefix = "0x" if base == 16 else "0b"
    out = np.empty(len(keys), dtype=np.int64)
    widest = 1
    for i, key in enumerate(keys):
        if not isinstance(key, str) or not key.lower().startswith(prefix):
            raise error(f"{what} key {key!r} does not start with {prefix!r} like {keys[0]!r}")
        try:
            value = int(key.replace(" ", ""), base)
        except ValueError:
            raise error(f"{what} key {key!r} is not a valid {prefix} number") from None
        if value >= 2**MAX_BITS:
            raise error(f"{what} key {key!r} needs more than {MAX_BITS} bits")
        out[i] = value
        widest = max(widest, value.bit_length())
    if base == 2:
        widths = {len(k.replace(" ", "")) - 2 for k in keys}
        if len(widths) == 1:
            widest = max(widest, widths.pop())
    if num_bits is None:
        num_bits = widest
    elif widest > num_bits:
        bad = keys[int(np.argmax(out))]
        raise error(f"{what} key {bad!r} needs {widest} bits, expected at most {num_bits}")
    return out, num_bits


def _finish(
    keys: np.ndarray,
    values: np.ndarray,
    num_bits: int,
    error: type[Exception],
    what: str,
    source: Mapping,
    *,
    is_counts: bool,
    atol: float = PROBABILITY_SUM_ATOL,
) -> SparseDist:
    order = np.argsort(keys, kind="stable")
    keys, values = keys[order], values[order]
    dup = np.flatnonzero(keys[1:] == keys[:-1])
    if dup.size:
        names = [k for k in source if _same_outcome(k, int(keys[dup[0]]), num_bits)]
        raise error(f"{what} keys {names!r} name the same outcome; expected each outcome once")
    total = float(values.sum())
    if is_counts:
        if total <= 0:
            raise error(f"{what} total {total:g} shots; expected at least one shot")
        return SparseDist(keys, values, num_bits, int(round(total)))
    if abs(total - 1.0) > atol:
        raise error(f"{what} sum to {total!r}; expected 1 within {atol:g}")
    return SparseDist(keys, values / total, num_bits, None)


def _same_outcome(key: str, value: int, num_bits: int) -> bool:
    text = key.replace(" ", "")
    base = 16 if text.lower().startswith("0x") else 2
    try:
        return int(text, base) == value
    except ValueError:
        return False


def _from_dense(
    arr: np.ndarray, *, kind: str, error: type[Exception], atol: float = PROBABILITY_SUM_ATOL
) -> SparseDist:
    arr = np.asarray(arr, dtype=np.float64)
    if arr.ndim != 1 or arr.size < 2 or (arr.size & (arr.size - 1)):
        raise error(f"dense {kind} must be a 1-D array of length 2**n, got shape {arr.shape}")
    bad = np.flatnonzero(~np.isfinite(arr) | (arr < 0))
    if bad.size:
        raise error(
            f"dense {kind}[{int(bad[0])}] = {float(arr[bad[0]])!r}; expected a finite number >= 0"
        )
    num_bits = int(arr.size).bit_length() - 1
    keys = np.flatnonzero(arr).astype(np.int64)
    values = arr[keys]
    if kind == "counts":
        bad = np.flatnonzero(values != np.floor(values))
        if bad.size:
            raise error(
                f"dense counts[{int(keys[bad[0]])}] = {float(values[bad[0]])!r} is not an integer"
            )
        total = float(values.sum())
        if total <= 0:
            raise error("dense counts are all zero; expected at least one shot")
        return SparseDist(keys, values, num_bits, int(round(total)))
    total = float(values.sum())
    if abs(total - 1.0) > atol:
        raise error(f"dense probabilities sum to {total!r}; expected 1 within {atol:g}")
    return SparseDist(keys, values / total, num_bits, None)
