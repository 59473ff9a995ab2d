"""Shot-noise-aware statistical tests over counts.

- :func:`gof_test`: do counts fit a known (ideal or noisy-predicted) distribution?
  Pearson chi-square or G-test after pooling low-expected bins; exact multinomial
  or Monte-Carlo p-values when the asymptotics are not trustworthy.
- :func:`two_sample_test` / :func:`compare_suites`: did a circuit's distribution
  change between two data sets? The likelihood-ratio test of Rudinger et al.,
  PRX 2019 ("Probing context-dependent errors in quantum processors"), with the
  aggregate test across the suite, Hochberg or Benjamini-Hochberg correction and
  the "statistically significant TVD" (SSTVD) as effect size — the procedure of
  pyGSTi's ``DataComparator``.
- :func:`bootstrap_ci`: parametric-bootstrap confidence interval of any distance.
- :func:`decide`: significance AND a minimum effect size, so that tiny but real
  shifts measured with huge shot counts do not page.

All functions are pure; randomness comes only from an explicit ``rng``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
from scipy import special, stats

from validators.detector_config import Correction
from validators.distance import DistLike, SparseDist, _lookup, as_dist
from validators.errors import InvalidConfig, InvalidCounts, InvalidDistribution

GofMethod = Literal["auto", "pearson", "g", "exact", "monte_carlo"]
EXACT_MAX_OUTCOMES = 200_000  # multinomial outcomes we are willing to enumerate


@dataclass(frozen=True)
class GofResult:
    """Goodness of fit of one count set to a fixed distribution."""

    statistic: float
    dof: int
    p_value: float
    method: str
    n_bins: int
    shots: int
    tvd: float
    excess_tvd: float  # tvd minus its expected shot-noise value, floored at 0

    def to_dict(self) -> dict[str, float | int | str]:
        return asdict(self)


@dataclass(frozen=True)
class TwoSampleResult:
    """Likelihood-ratio test that two count sets share one distribution."""

    statistic: float
    dof: int
    p_value: float
    tvd: float
    shots_a: int
    shots_b: int
    n_bins: int

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


@dataclass(frozen=True)
class CircuitComparison:
    circuit: str
    statistic: float
    dof: int
    p_value: float
    tvd: float
    significant: bool
    sstvd: float  # tvd if significant, else 0.0 (Rudinger et al.)

    def to_dict(self) -> dict[str, float | int | str | bool]:
        return asdict(self)


@dataclass(frozen=True)
class SuiteComparison:
    """Suite-level two-sample comparison (Rudinger et al. / pyGSTi DataComparator)."""

    aggregate_statistic: float
    aggregate_dof: int
    aggregate_p_value: float
    aggregate_significant: bool
    significance: float
    correction: str
    circuits: tuple[CircuitComparison, ...]

    @property
    def changed(self) -> tuple[str, ...]:
        return tuple(c.circuit for c in self.circuits if c.significant)

    @property
    def maximum_sstvd(self) -> tuple[str | None, float]:
        best = max(self.circuits, key=lambda c: c.sstvd, default=None)
        if best is None or best.sstvd <= 0.0:
            return None, 0.0
        return best.circuit, best.sstvd

    def to_dict(self) -> dict[str, object]:
        out = asdict(self)
        out["circuits"] = [c.to_dict() for c in self.circuits]
        return out


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float
    confidence: float

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass(frozen=True)
class Decision:
    """significant: p below alpha; material: effect at least min_effect."""

    significant: bool
    material: bool
    p_value: float
    effect: float
    alpha: float
    min_effect: float

    @property
    def level(self) -> Literal["ok", "warn", "alarm"]:
        """alarm = significant and material; warn = significant but immaterial."""
        if self.significant and self.material:
            return "alarm"
        return "warn" if self.significant else "ok"


# ---------------------------------------------------------------------- GOF
def gof_test(
    counts: Mapping[str, int] | SparseDist | np.ndarray,
    expected: DistLike,
    *,
    method: GofMethod = "auto",
    min_expected: float = 5.0,
    rng: np.random.Generator | None = None,
    n_resamples: int = 10_000,
) -> GofResult:
    """Test whether ``counts`` were drawn from the distribution ``expected``.

    Bins whose expected count is below ``min_expected`` are pooled into one bin
    (merged with the next-smallest bins until it reaches ``min_expected``), so the
    chi-square approximation holds. Outcomes observed but absent from ``expected``
    go to that pooled bin with expected mass ``1 - sum(expected)``; if that mass is
    0 the counts are impossible under the model and the p-value is 0.

    ``method``: ``pearson`` or ``g`` (asymptotic chi-square), ``exact`` (full
    multinomial enumeration, small shot counts only), ``monte_carlo`` (needs
    ``rng``), ``auto`` (exact when enumerable, else Pearson).
    """
    observed = SparseDist.from_counts(counts)
    model = SparseDist.from_probabilities(as_dist(expected))
    if observed.num_bits != model.num_bits:
        raise InvalidCounts(
            f"counts have {observed.num_bits} bits but the expected distribution has "
            f"{model.num_bits}"
        )
    if min_expected < 0:
        raise InvalidConfig(f"min_expected must be >= 0, got {min_expected!r}")
    shots = int(observed.shots or 0)
    obs_on_model = _lookup(observed.keys, observed.values, model.keys)
    outside = float(shots - obs_on_model.sum())
    exp_on_model = model.probabilities * shots
    if outside > 0 or np.any((exp_on_model <= 0) & (obs_on_model > 0)):
        # observed an outcome the model gives probability 0: impossible under H0
        tvd_imp = 0.5 * float(
            np.abs(obs_on_model / shots - model.probabilities).sum() + outside / shots
        )
        return GofResult(math.inf, 0, 0.0, "impossible", 0, shots, tvd_imp, tvd_imp)
    obs_bins, exp_bins = _pool(obs_on_model, exp_on_model, outside, min_expected)
    tvd = 0.5 * float(np.abs(obs_on_model / shots - model.probabilities).sum() + outside / shots)
    noise = expected_noise_tvd(model.probabilities, shots)
    excess = max(0.0, tvd - noise)
    k = obs_bins.size
    if np.any((exp_bins <= 0) & (obs_bins > 0)):
        return GofResult(math.inf, max(k - 1, 0), 0.0, "impossible", k, shots, tvd, excess)
    keep = exp_bins > 0
    obs_bins, exp_bins = obs_bins[keep], exp_bins[keep]
    k = obs_bins.size
    if k < 2:
        return GofResult(0.0, 0, 1.0, "trivial", k, shots, tvd, excess)
    if method == "auto":
        method = "exact" if _n_compositions(shots, k) <= EXACT_MAX_OUTCOMES else "pearson"
    probs = exp_bins / exp_bins.sum()
    if method == "pearson":
        stat = float(((obs_bins - exp_bins) ** 2 / exp_bins).sum())
        p = float(stats.chi2.sf(stat, k - 1))
    elif method == "g":
        stat = _g_statistic(obs_bins[None, :], exp_bins[None, :])[0]
        p = float(stats.chi2.sf(stat, k - 1))
    elif method == "exact":
        stat, p = _exact_multinomial(obs_bins.astype(np.int64), probs)
    elif method == "monte_carlo":
        if rng is None:
            raise InvalidConfig("method='monte_carlo' needs a seeded rng (np.random.Generator)")
        stat = _g_statistic(obs_bins[None, :], exp_bins[None, :])[0]
        sims = rng.multinomial(shots, probs, size=n_resamples).astype(np.float64)
        sim_stats = _g_statistic(sims, np.broadcast_to(exp_bins, sims.shape))
        p = float((1 + np.count_nonzero(sim_stats >= stat - 1e-9)) / (1 + n_resamples))
    else:
        raise InvalidConfig(
            f"method must be one of auto, pearson, g, exact, monte_carlo; got {method!r}"
        )
    return GofResult(float(stat), k - 1, min(1.0, p), method, k, shots, tvd, excess)


def expected_noise_tvd(probabilities: np.ndarray, shots: int, shots_b: int | None = None) -> float:
    """Expected TVD between ``shots`` samples and ``probabilities`` from shot noise alone.

    Uses E|X - Np| ~ sqrt(2 N p (1-p) / pi) per outcome (normal approximation);
    with ``shots_b`` it is the expected TVD between two independent samples.
    """
    p = np.asarray(probabilities, dtype=np.float64)
    var = p * (1 - p) / shots
    if shots_b is not None:
        var = var + p * (1 - p) / shots_b
    return 0.5 * float(np.sqrt(2.0 * var / math.pi).sum())


# ------------------------------------------------------------- two-sample
def two_sample_test(
    counts_a: Mapping[str, int] | SparseDist | np.ndarray,
    counts_b: Mapping[str, int] | SparseDist | np.ndarray,
    *,
    min_expected: float = 0.0,
    pool_reference: SparseDist | None = None,
    statistic: Literal["g", "pearson"] = "g",
    null_moments: tuple[float, float] | None = None,
) -> TwoSampleResult:
    """Likelihood-ratio (G) test of H0: both count sets come from one distribution.

    dof = (outcomes observed in either set - 1). With ``min_expected`` > 0, outcomes
    whose expected count in the smaller set is below it are pooled into one bin;
    the expectation comes from ``pool_reference`` when given (the drift detector
    passes its baseline so that the binning does not depend on the tested run),
    else from the pooled data. ``statistic="pearson"`` uses the contingency-table
    chi-square instead of the LR statistic (closer to nominal size when bins are
    thin; the drift detector uses it because its CUSUM integrates small biases).
    ``null_moments`` = (mean, variance) of the statistic under H0 (from
    :func:`two_sample_null_moments`) replaces the chi-square(dof) reference by the
    moment-matched scaled chi-square a * chi2(nu) (Satterthwaite), which fixes the
    liberal tail of the plain approximation.
    """
    a, b = SparseDist.from_counts(counts_a), SparseDist.from_counts(counts_b)
    if a.num_bits != b.num_bits:
        raise InvalidCounts(f"count sets have {a.num_bits} and {b.num_bits} bits; expected equal")
    keys = np.union1d(a.keys, b.keys)
    na = _lookup(a.keys, a.values, keys)
    nb = _lookup(b.keys, b.values, keys)
    shots_a, shots_b = float(a.shots or 0), float(b.shots or 0)
    tvd = 0.5 * float(np.abs(na / shots_a - nb / shots_b).sum())
    if min_expected > 0:
        ref = (
            _lookup(pool_reference.keys, pool_reference.probabilities, keys)
            if pool_reference is not None
            else (na + nb) / (shots_a + shots_b)
        )
        low = ref * min(shots_a, shots_b) < min_expected
        if low.any():
            na = np.append(na[~low], na[low].sum())
            nb = np.append(nb[~low], nb[low].sum())
            keep = (na + nb) > 0
            na, nb = na[keep], nb[keep]
    table = np.vstack([na, nb])
    if statistic == "g":
        stat, dof = _lr_two_sample(table)
    elif statistic == "pearson":
        stat, dof = _pearson_two_sample(table)
    else:
        raise InvalidConfig(f"statistic must be 'g' or 'pearson', got {statistic!r}")
    if dof <= 0:
        p = 1.0
    elif null_moments is not None and null_moments[1] > 0:
        mean, var = null_moments
        scale, nu = var / (2.0 * mean), 2.0 * mean * mean / var
        p = float(stats.chi2.sf(stat / scale, nu))
    else:
        p = float(stats.chi2.sf(stat, dof))
    return TwoSampleResult(stat, dof, p, tvd, int(shots_a), int(shots_b), int(na.size))


def two_sample_null_moments(
    reference: SparseDist,
    shots_a: int,
    shots_b: int,
    *,
    min_expected: float,
    rng: np.random.Generator,
    n_sims: int = 4000,
) -> tuple[float, float]:
    """Mean and variance of the two-sample Pearson statistic under H0, by simulation.

    Both samples are drawn from ``reference`` (``shots_a`` and ``shots_b`` shots),
    binned exactly as :func:`two_sample_test` bins them with
    ``pool_reference=reference``. Vectorised: a few ms for 4000 simulations.
    """
    probs = reference.probabilities
    low = probs * min(shots_a, shots_b) < min_expected
    if low.any():
        probs = np.append(probs[~low], probs[low].sum())
    a = rng.multinomial(shots_a, probs, size=n_sims).astype(np.float64)
    b = rng.multinomial(shots_b, probs, size=n_sims).astype(np.float64)
    col = a + b
    total = float(shots_a + shots_b)
    ea = col * (shots_a / total)
    eb = col * (shots_b / total)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(col > 0, (a - ea) ** 2 / ea + (b - eb) ** 2 / eb, 0.0)
    sims = terms.sum(axis=1)
    return float(sims.mean()), float(sims.var())


def compare_suites(
    baseline: Mapping[str, Mapping[str, int] | SparseDist],
    current: Mapping[str, Mapping[str, int] | SparseDist],
    *,
    significance: float = 0.05,
    correction: Correction = "hochberg",
    aggregate_weight: float = 0.5,
    pass_alpha: bool = True,
) -> SuiteComparison:
    """Which circuits' outcome distributions changed between two data sets?

    The procedure of Rudinger et al. PRX 2019 as implemented by pyGSTi's
    ``DataComparator.run``: an aggregate LR test (sum of per-circuit statistics and
    dofs) at ``aggregate_weight * significance``; per-circuit LR tests corrected as a
    family at ``(1 - aggregate_weight) * significance``; if the aggregate test
    rejects (and ``pass_alpha``), its alpha passes on and the circuit family is
    tested at the full ``significance`` (Holm-style alpha passing), and vice versa
    when every circuit is rejected.
    """
    _check_fraction("significance", significance)
    _check_fraction("aggregate_weight", aggregate_weight, closed=True)
    missing = sorted(set(baseline) ^ set(current))
    if missing:
        raise InvalidCounts(f"circuits {missing} are in only one of the two data sets")
    names = sorted(baseline)
    if not names:
        raise InvalidCounts("no circuits to compare; expected at least one")
    results = [two_sample_test(baseline[n], current[n]) for n in names]
    pvals = np.array([r.p_value for r in results])
    agg_stat = float(sum(r.statistic for r in results))
    agg_dof = int(sum(r.dof for r in results))
    agg_p = float(stats.chi2.sf(agg_stat, agg_dof)) if agg_dof > 0 else 1.0
    agg_alpha = aggregate_weight * significance
    fam_alpha = (1.0 - aggregate_weight) * significance
    agg_rejected = aggregate_weight > 0 and agg_p <= agg_alpha
    if agg_rejected and pass_alpha:
        fam_alpha = significance
    rejected = reject(pvals, fam_alpha, correction) if fam_alpha > 0 else np.zeros(len(names), bool)
    if pass_alpha and rejected.all() and not agg_rejected and aggregate_weight > 0:
        agg_rejected = agg_p <= significance
    circuits = tuple(
        CircuitComparison(n, r.statistic, r.dof, r.p_value, r.tvd, bool(rj), r.tvd if rj else 0.0)
        for n, r, rj in zip(names, results, rejected, strict=True)
    )
    return SuiteComparison(
        agg_stat, agg_dof, agg_p, bool(agg_rejected), significance, correction, circuits
    )


# ------------------------------------------------------ multiple testing
def reject(p_values: Sequence[float] | np.ndarray, alpha: float, method: Correction) -> np.ndarray:
    """Boolean mask of rejected hypotheses under the given correction."""
    if method == "hochberg":
        return hochberg(p_values, alpha)
    if method == "bh":
        return benjamini_hochberg(p_values, alpha)
    p = _pvals(p_values)
    if method == "bonferroni":
        return p <= alpha / max(p.size, 1)
    if method == "none":
        return p <= alpha
    raise InvalidConfig(f"correction must be hochberg, bh, bonferroni or none; got {method!r}")


def hochberg(p_values: Sequence[float] | np.ndarray, alpha: float) -> np.ndarray:
    """Hochberg step-up (controls the family-wise error rate)."""
    p = _pvals(p_values)
    m = p.size
    order = np.argsort(p)
    thresholds = alpha / (m - np.arange(m))  # alpha/m, alpha/(m-1), ..., alpha/1
    passed = np.flatnonzero(p[order] <= thresholds)
    out = np.zeros(m, dtype=bool)
    if passed.size:
        out[order[: passed[-1] + 1]] = True
    return out


def benjamini_hochberg(p_values: Sequence[float] | np.ndarray, alpha: float) -> np.ndarray:
    """Benjamini-Hochberg step-up (controls the false discovery rate)."""
    p = _pvals(p_values)
    m = p.size
    order = np.argsort(p)
    thresholds = alpha * np.arange(1, m + 1) / m
    passed = np.flatnonzero(p[order] <= thresholds)
    out = np.zeros(m, dtype=bool)
    if passed.size:
        out[order[: passed[-1] + 1]] = True
    return out


# ------------------------------------------------------ intervals & decisions
def bootstrap_ci(
    distance: Callable[[SparseDist, SparseDist], float],
    counts: Mapping[str, int] | SparseDist,
    reference: DistLike,
    *,
    rng: np.random.Generator,
    confidence: float = 0.95,
    n_resamples: int = 1000,
) -> Interval:
    """Parametric-bootstrap percentile interval of ``distance(counts, reference)``.

    ``counts`` is resampled from its own empirical distribution; ``reference`` too
    when it holds counts (its shot noise then widens the interval), and is kept
    fixed when it is a probability distribution.
    """
    _check_fraction("confidence", confidence)
    a = SparseDist.from_counts(counts)
    b = as_dist(reference)
    estimate = float(distance(a, b))
    sims_a = rng.multinomial(int(a.shots or 0), a.probabilities, size=n_resamples)
    sims_b = (
        rng.multinomial(int(b.shots), b.probabilities, size=n_resamples)
        if b.shots is not None
        else None
    )
    values = np.empty(n_resamples)
    for i in range(n_resamples):
        ra = _resampled(a, sims_a[i])
        rb = _resampled(b, sims_b[i]) if sims_b is not None else b
        values[i] = distance(ra, rb)
    tail = (1.0 - confidence) / 2
    low, high = np.quantile(values, [tail, 1.0 - tail])
    return Interval(estimate, float(low), float(high), confidence)


def decide(p_value: float, effect: float, *, alpha: float, min_effect: float) -> Decision:
    """Combine a p-value and an effect size into a decision (see :class:`Decision`)."""
    if not (math.isfinite(p_value) and 0.0 <= p_value <= 1.0):
        raise InvalidDistribution(f"p_value must be in [0, 1], got {p_value!r}")
    _check_fraction("alpha", alpha)
    return Decision(p_value <= alpha, effect >= min_effect, p_value, effect, alpha, min_effect)


def p_to_z(p_value: float | np.ndarray) -> float | np.ndarray:
    """z = Phi^-1(1 - p): standard normal under H0 whatever the test's dof.

    Clipped to +-38 so that p = 0 or 1 (underflow) stays finite for CUSUM sums.
    """
    z = stats.norm.isf(np.clip(p_value, 1e-300, 1.0))
    return np.clip(z, -38.0, 38.0) if isinstance(z, np.ndarray) else float(np.clip(z, -38, 38))


# ---------------------------------------------------------------- internals
def _pool(
    obs: np.ndarray, exp: np.ndarray, outside_obs: float, min_expected: float
) -> tuple[np.ndarray, np.ndarray]:
    """Pool bins with expected count < min_expected (plus the 'outside' bin)."""
    # the model is normalised over its support, so outcomes outside it expect 0
    outside_exp = 0.0
    low = exp < min_expected
    pooled_obs = float(obs[low].sum()) + outside_obs
    pooled_exp = float(exp[low].sum()) + outside_exp
    obs_hi, exp_hi = obs[~low], exp[~low]
    if pooled_exp < min_expected and exp_hi.size:
        order = np.argsort(exp_hi)
        obs_hi, exp_hi = obs_hi[order], exp_hi[order]
        cumulative = pooled_exp + np.cumsum(exp_hi)
        take = int(np.searchsorted(cumulative, min_expected)) + 1
        take = min(take, exp_hi.size)
        pooled_obs += float(obs_hi[:take].sum())
        pooled_exp += float(exp_hi[:take].sum())
        obs_hi, exp_hi = obs_hi[take:], exp_hi[take:]
    if pooled_exp > 0 or pooled_obs > 0:
        obs_hi = np.append(obs_hi, pooled_obs)
        exp_hi = np.append(exp_hi, pooled_exp)
    return obs_hi.astype(np.float64), exp_hi.astype(np.float64)


def _g_statistic(obs: np.ndarray, exp: np.ndarray) -> np.ndarray:
    return 2.0 * (special.xlogy(obs, obs) - special.xlogy(obs, exp)).sum(axis=-1)


def _lr_two_sample(table: np.ndarray) -> tuple[float, int]:
    """Rudinger/pyGSTi LLR for a (datasets x outcomes) count table."""
    table = table[:, table.sum(axis=0) > 0]
    col = table.sum(axis=0)
    row = table.sum(axis=1, keepdims=True)
    expected = row * col / col.sum()
    stat = float(2.0 * (special.xlogy(table, table) - special.xlogy(table, expected)).sum())
    dof = (table.shape[0] - 1) * (table.shape[1] - 1)
    return max(stat, 0.0), int(dof)


def _pearson_two_sample(table: np.ndarray) -> tuple[float, int]:
    table = table[:, table.sum(axis=0) > 0]
    col = table.sum(axis=0)
    row = table.sum(axis=1, keepdims=True)
    expected = row * col / col.sum()
    stat = float(((table - expected) ** 2 / expected).sum())
    return stat, int((table.shape[0] - 1) * (table.shape[1] - 1))


def _n_compositions(shots: int, k: int) -> float:
    return math.comb(shots + k - 1, k - 1) if shots + k < 10_000 else math.inf


def _compositions(n: int, k: int) -> np.ndarray:
    """All k-tuples of non-negative ints summing to n (as rows)."""
    if k == 1:
        return np.array([[n]], dtype=np.int64)
    rows = []
    for first in range(n + 1):
        rest = _compositions(n - first, k - 1)
        rows.append(np.hstack([np.full((rest.shape[0], 1), first, dtype=np.int64), rest]))
    return np.vstack(rows)


def _exact_multinomial(obs: np.ndarray, probs: np.ndarray) -> tuple[float, float]:
    """Exact p-value: total probability of outcomes no more likely than observed."""
    n = int(obs.sum())
    table = _compositions(n, probs.size)
    log_pmf = stats.multinomial.logpmf(table, n, probs)
    observed = float(stats.multinomial.logpmf(obs, n, probs))
    p = float(np.exp(log_pmf[log_pmf <= observed + 1e-9]).sum())
    return -2.0 * observed, p


def _resampled(template: SparseDist, counts: np.ndarray) -> SparseDist:
    keep = counts > 0
    return SparseDist(
        template.keys[keep], counts[keep].astype(np.float64), template.num_bits, int(counts.sum())
    )


def _pvals(p_values: Sequence[float] | np.ndarray) -> np.ndarray:
    p = np.asarray(p_values, dtype=np.float64)
    if p.ndim != 1 or np.any(~np.isfinite(p)) or np.any((p < 0) | (p > 1)):
        raise InvalidDistribution(f"p-values must be a 1-D array in [0, 1], got {p!r}")
    return p


def _check_fraction(name: str, value: float, *, closed: bool = False) -> None:
    ok = 0.0 <= value <= 1.0 if closed else 0.0 < value < 1.0
    if not ok:
        bounds = "[0, 1]" if closed else "(0, 1)"
        raise InvalidConfig(f"{name} must be in {bounds}, got {value!r}")
