"""Calibration drift (sequential CUSUM) and simulator divergence (per-run GOF).

Drift. After a (re)calibration the detector pools the first ``baseline_runs`` runs of
each circuit into a baseline. Afterwards, per run and circuit, a two-sample
likelihood-ratio test of the run's counts against the pooled baseline gives a
p-value and ``z = Phi^-1(1 - p)``, which is ~N(0, 1) without change whatever the
circuit. Two kinds of one-sided CUSUM ``S = max(0, S + z - k)`` run on these:

- one on the suite's Stouffer sum ``Z = sum z_i / sqrt(m)`` (sensitive to changes
  that touch many circuits, e.g. a worse two-qubit gate), and
- one per circuit (sensitive to a change in a single circuit family).

The false-alarm budget 1/ARL0 per validation run is split between them
(``backend_budget_fraction`` to the suite CUSUM, the rest evenly over circuits), so
by the union bound the whole suite raises at most ~1 false alarm per ARL0 runs.
Thresholds ``h`` come from Siegmund's approximation of the CUSUM's average run
length (Markov-chain approximation seeded by Siegmund's formula; verified by
simulation in the tests and ``bench/drift_power.py``).

An alarm becomes DRIFT only if the change is material: the TVD between the runs
since the CUSUM left zero (pooled) and the baseline, minus its expected shot-noise
value, must reach ``min_effect_tvd``; otherwise it is WARN. DRIFT is latched until
the caller clears it (``clear_alarm``/``rebaseline``) or a new calibration id
arrives, which restarts the baseline.

Divergence. :func:`check_divergence` tests each circuit's counts against the
backend's noisy predicted distribution (GOF), corrects across the suite (BH by
default) and requires a minimum excess TVD. No prediction -> NOT_EVALUATED.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
from scipy import optimize, stats

# The settings live apart so that reading a config file needs no scipy.
from validators.detector_config import DivergenceConfig, DriftConfig
from validators.distance import DistLike, SparseDist, _lookup
from validators.errors import DetectorStateError, InvalidConfig
from validators.stats import (
    expected_noise_tvd,
    gof_test,
    p_to_z,
    reject,
    two_sample_null_moments,
    two_sample_test,
)
from validators.verdict import Evidence, Verdict, worst

STATE_VERSION = 1
SIEGMUND_OFFSET = 1.166  # overshoot correction for normal increments (Siegmund 1985)

Counts = Mapping[str, int] | SparseDist


def siegmund_arl(h: float, k: float, mu: float = 0.0) -> float:
    """Average run length of a one-sided CUSUM on N(mu, 1) increments.

    Siegmund's approximation with reference ``k`` and threshold ``h``.
    """
    delta = mu - k
    b = h + SIEGMUND_OFFSET
    if abs(delta) < 1e-12:
        return b * b
    return (math.exp(-2 * delta * b) + 2 * delta * b - 1) / (2 * delta * delta)


def markov_arl(h: float, k: float, mu: float = 0.0, states: int = 200) -> float:
    """ARL of a one-sided CUSUM on N(mu, 1) increments (Brook & Evans Markov chain).

    More accurate than Siegmund's formula, which overstates the ARL by ~10 % at
    k = 1 (checked by simulation in the tests), so thresholds are solved with it.
    """
    width = 2.0 * h / (2 * states - 1)
    centres = np.arange(states) * width
    upper = centres + width / 2
    lower = centres - width / 2
    shift = centres[:, None] + mu - k
    cdf_hi = stats.norm.cdf(upper[None, :] - shift)
    cdf_lo = stats.norm.cdf(lower[None, :] - shift)
    trans = cdf_hi - cdf_lo
    trans[:, 0] = cdf_hi[:, 0]  # everything at or below zero resets to state 0
    arl = np.linalg.solve(np.eye(states) - trans, np.ones(states))
    return float(arl[0])


def backend_threshold(cfg: DriftConfig) -> float:
    """CUSUM threshold of the suite's Stouffer sum: its share of the 1/ARL0 budget."""
    return cusum_threshold(cfg.arl0_runs / cfg.backend_budget_fraction, cfg.reference_k)


def circuit_threshold(cfg: DriftConfig, n_circuits: int) -> float:
    """CUSUM threshold of one circuit: the rest of the budget, shared evenly."""
    share = (1 - cfg.backend_budget_fraction) / max(n_circuits, 1)
    return cusum_threshold(cfg.arl0_runs / share, cfg.reference_k)


@lru_cache(maxsize=256)
def cusum_threshold(arl0_runs: float, k: float) -> float:
    """Threshold h giving an in-control ARL of ``arl0_runs`` for N(0,1) increments."""
    if arl0_runs <= 1:
        raise InvalidConfig(f"arl0_runs must be > 1, got {arl0_runs!r}")
    if k <= 0:
        raise InvalidConfig(f"reference k must be > 0, got {k!r}")
    start = optimize.brentq(lambda h: siegmund_arl(h, k) - arl0_runs, 1e-6, 200.0)
    return float(
        optimize.brentq(lambda h: markov_arl(h, k) - arl0_runs, start * 0.5, start * 2.0 + 1.0)
    )


@dataclass(frozen=True)
class CircuitDrift:
    circuit: str
    verdict: Verdict
    z: float | None
    p_value: float | None
    cusum: float
    threshold: float
    effect_tvd: float | None
    runs_since_change: int

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["verdict"] = self.verdict.value
        return out


@dataclass(frozen=True)
class DriftResult:
    """Outcome of one validation run for one backend."""

    run_index: int
    calibration_id: str | None
    status: str  # "learning" | "monitoring"
    verdict: Verdict
    alarm: bool  # a CUSUM crossed its threshold on this run
    z: float | None  # Stouffer statistic of this run
    cusum: float
    threshold: float
    runs_since_change: int
    effect_tvd: float | None
    drift_since_run: int | None  # latched change-point estimate of a DRIFT
    circuits: tuple[CircuitDrift, ...] = field(default=())

    def evidence(self) -> tuple[Evidence, ...]:
        """Findings for :func:`validators.verdict.combine` (backend + per circuit)."""
        backend = Evidence(
            "drift",
            self.verdict,
            None,
            statistic=self.cusum,
            p_value=None,
            effect_tvd=self.effect_tvd,
            threshold=self.threshold,
            runs_since_change=self.runs_since_change,
            detail=f"{self.status}; suite CUSUM {self.cusum:.2f} / h {self.threshold:.2f}",
        )
        per_circuit = tuple(
            Evidence(
                "drift",
                c.verdict,
                c.circuit,
                statistic=c.cusum,
                p_value=c.p_value,
                effect_tvd=c.effect_tvd,
                threshold=c.threshold,
                runs_since_change=c.runs_since_change,
                detail=f"z={c.z:.2f}" if c.z is not None else self.status,
            )
            for c in self.circuits
        )
        return (backend, *per_circuit)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["verdict"] = self.verdict.value
        out["circuits"] = [c.to_dict() for c in self.circuits]
        return out


@dataclass
class _CircuitState:
    baseline: dict[str, int] = field(default_factory=dict)
    baseline_runs: int = 0
    cusum: float = 0.0
    since_zero: int = 0
    recent: list[dict[str, int]] = field(default_factory=list)
    # simulated (mean, variance) of the test statistic under H0, keyed by run shots
    null_moments: dict[str, list[float]] = field(default_factory=dict)


class DriftDetector:
    """Per-backend sequential drift detector with JSON-safe state."""

    def __init__(self, config: DriftConfig | None = None) -> None:
        self.config = config or DriftConfig()
        self.calibration_id: str | None = None
        self.run_index = 0
        self.cusum = 0.0
        self.since_zero = 0
        self.alarm_run: int | None = None
        self.drift_since_run: int | None = None
        self.drifted_circuits: list[str] = []
        self._circuits: dict[str, _CircuitState] = {}
        self._baseline_cache: dict[str, SparseDist] = {}

    # ----------------------------------------------------------- lifecycle
    def rebaseline(self) -> None:
        """Forget the baseline (e.g. after an accepted change); learn it anew."""
        self._circuits = {}
        self._baseline_cache = {}
        self.clear_alarm()

    def clear_alarm(self) -> None:
        """Acknowledge a DRIFT: reset all CUSUMs, keep the baseline."""
        self.cusum, self.since_zero = 0.0, 0
        self.alarm_run = self.drift_since_run = None
        self.drifted_circuits = []
        for st in self._circuits.values():
            st.cusum, st.since_zero, st.recent = 0.0, 0, []

    # --------------------------------------------------------------- update
    def update(
        self, counts_by_circuit: Mapping[str, Counts], *, calibration_id: str | None = None
    ) -> DriftResult:
        """Feed one validation run (circuit name -> counts) and get the drift result.

        A ``calibration_id`` different from the previous one restarts the baseline.
        """
        cfg = self.config
        if calibration_id is not None and calibration_id != self.calibration_id:
            if self.calibration_id is not None:
                self.rebaseline()
            self.calibration_id = calibration_id
        self.run_index += 1
        parsed = {name: SparseDist.from_counts(c) for name, c in counts_by_circuit.items()}
        ready = [n for n in sorted(parsed) if self._ready(n)]
        learning = [n for n in sorted(parsed) if not self._ready(n)]
        for name in learning:
            self._learn(name, parsed[name])

        h_c = circuit_threshold(cfg, len(ready) or len(parsed))
        h_b = backend_threshold(cfg)
        zs: dict[str, tuple[float, float]] = {}
        for name in ready:
            base = self._baseline(name)
            res = two_sample_test(
                parsed[name],
                base,
                min_expected=cfg.min_expected,
                pool_reference=base,
                statistic="pearson",
                null_moments=self._null_moments(name, int(parsed[name].shots or 0)),
            )
            z = float(p_to_z(res.p_value))
            zs[name] = (z, res.p_value)
            st = self._circuits[name]
            st.cusum = max(0.0, st.cusum + z - cfg.reference_k)
            st.since_zero = st.since_zero + 1 if st.cusum > 0 else 0
            st.recent = (st.recent + [parsed[name].to_dict()])[-cfg.recent_window_runs :]

        stouffer: float | None = None
        if zs:
            stouffer = float(sum(z for z, _ in zs.values()) / math.sqrt(len(zs)))
            self.cusum = max(0.0, self.cusum + stouffer - cfg.reference_k)
            self.since_zero = self.since_zero + 1 if self.cusum > 0 else 0

        effects = {n: self._effect(n, max(self._circuits[n].since_zero, 1)) for n in ready}
        backend_window = max(self.since_zero, 1)
        backend_effects = {n: self._effect(n, backend_window) for n in ready}

        alarm = False
        newly_drifted: list[str] = []
        if zs and self.cusum > h_b:
            alarm = True
            newly_drifted += [n for n in ready if backend_effects[n] >= cfg.min_effect_tvd]
        for n in ready:
            if self._circuits[n].cusum > h_c:
                alarm = True
                if effects[n] >= cfg.min_effect_tvd and n not in newly_drifted:
                    newly_drifted.append(n)
        if newly_drifted and self.alarm_run is None:
            self.alarm_run = self.run_index
            change_runs = max(
                [self.since_zero] + [self._circuits[n].since_zero for n in newly_drifted]
            )
            self.drift_since_run = self.run_index - change_runs + 1
        for n in newly_drifted:
            if n not in self.drifted_circuits:
                self.drifted_circuits.append(n)

        circuits = []
        for name in sorted(parsed):
            st = self._circuits[name]
            if name not in zs:
                circuits.append(
                    CircuitDrift(name, Verdict.NOT_EVALUATED, None, None, 0.0, h_c, None, 0)
                )
                continue
            if name in self.drifted_circuits:
                v = Verdict.DRIFT
            elif st.cusum > cfg.warn_fraction * h_c:
                v = Verdict.WARN
            else:
                v = Verdict.OK
            z, p = zs[name]
            circuits.append(
                CircuitDrift(name, v, z, p, st.cusum, h_c, effects[name], st.since_zero)
            )

        if not zs:
            verdict = Verdict.NOT_EVALUATED
        elif self.drifted_circuits:
            verdict = Verdict.DRIFT
        elif alarm or self.cusum > cfg.warn_fraction * h_b:
            verdict = Verdict.WARN
        else:
            verdict = worst([Verdict.OK, *(c.verdict for c in circuits)])
        effect = max(backend_effects.values(), default=None)
        return DriftResult(
            self.run_index,
            self.calibration_id,
            "monitoring" if zs else "learning",
            verdict,
            alarm,
            stouffer,
            self.cusum,
            h_b,
            self.since_zero,
            effect,
            self.drift_since_run,
            tuple(circuits),
        )

    # ---------------------------------------------------------- persistence
    def to_dict(self) -> dict[str, Any]:
        """JSON-safe state (config included) for persistence between runs."""
        return {
            "version": STATE_VERSION,
            "config": asdict(self.config),
            "calibration_id": self.calibration_id,
            "run_index": self.run_index,
            "cusum": self.cusum,
            "since_zero": self.since_zero,
            "alarm_run": self.alarm_run,
            "drift_since_run": self.drift_since_run,
            "drifted_circuits": list(self.drifted_circuits),
            "circuits": {n: asdict(st) for n, st in self._circuits.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DriftDetector:
        """Restore a detector saved with :meth:`to_dict`."""
        if data.get("version") != STATE_VERSION:
            raise DetectorStateError(
                f"drift detector state version {data.get('version')!r}; expected {STATE_VERSION}"
            )
        try:
            det = cls(DriftConfig(**data["config"]))
            det.calibration_id = data["calibration_id"]
            det.run_index = int(data["run_index"])
            det.cusum = float(data["cusum"])
            det.since_zero = int(data["since_zero"])
            det.alarm_run = data["alarm_run"]
            det.drift_since_run = data["drift_since_run"]
            det.drifted_circuits = list(data["drifted_circuits"])
            det._circuits = {
                n: _CircuitState(
                    baseline={k: int(v) for k, v in st["baseline"].items()},
                    baseline_runs=int(st["baseline_runs"]),
                    cusum=float(st["cusum"]),
                    since_zero=int(st["since_zero"]),
                    recent=[{k: int(v) for k, v in r.items()} for r in st["recent"]],
                    null_moments={
                        k: [float(x) for x in v] for k, v in st.get("null_moments", {}).items()
                    },
                )
                for n, st in data["circuits"].items()
            }
        except (KeyError, TypeError, ValueError) as exc:
            raise DetectorStateError(f"drift detector state is malformed: {exc!r}") from exc
        return det

    # ------------------------------------------------------------ internals
    def _ready(self, name: str) -> bool:
        st = self._circuits.get(name)
        return st is not None and st.baseline_runs >= self.config.baseline_runs

    def _learn(self, name: str, counts: SparseDist) -> None:
        st = self._circuits.setdefault(name, _CircuitState())
        for key, value in counts.to_dict().items():
            st.baseline[key] = st.baseline.get(key, 0) + int(value)
        st.baseline_runs += 1
        self._baseline_cache.pop(name, None)

    def _baseline(self, name: str) -> SparseDist:
        if name not in self._baseline_cache:
            self._baseline_cache[name] = SparseDist.from_counts(self._circuits[name].baseline)
        return self._baseline_cache[name]

    def _null_moments(self, name: str, shots: int) -> tuple[float, float]:
        """Cached H0 moments of the statistic for runs of ``shots`` shots.

        The simulation is seeded from the baseline itself, so a restored detector
        computes the same moments (and they are persisted anyway).
        """
        st = self._circuits[name]
        key = str(shots)
        if key not in st.null_moments:
            base = self._baseline(name)
            seed = [int(shots), int(base.shots or 0), *base.values.astype(np.int64).tolist()[:64]]
            mean, var = two_sample_null_moments(
                base,
                shots,
                int(base.shots or 0),
                min_expected=self.config.min_expected,
                rng=np.random.default_rng(seed),
            )
            st.null_moments[key] = [mean, var]
        mean, var = st.null_moments[key]
        return mean, var

    def _effect(self, name: str, window_runs: int) -> float:
        """Excess TVD of the last ``window_runs`` runs (pooled) vs the baseline."""
        st = self._circuits[name]
        runs = st.recent[-window_runs:]
        if not runs:
            return 0.0
        pooled: dict[str, int] = {}
        for r in runs:
            for k, v in r.items():
                pooled[k] = pooled.get(k, 0) + v
        recent = SparseDist.from_counts(pooled)
        base = self._baseline(name)
        keys = np.union1d(recent.keys, base.keys)
        pr = _lookup(recent.keys, recent.probabilities, keys)
        pb = _lookup(base.keys, base.probabilities, keys)
        tvd = 0.5 * float(np.abs(pr - pb).sum())
        noise = expected_noise_tvd(pb, int(recent.shots or 1), int(base.shots or 1))
        return max(0.0, tvd - noise)


# ------------------------------------------------------------- divergence
@dataclass(frozen=True)
class CircuitDivergence:
    circuit: str
    verdict: Verdict
    statistic: float | None
    p_value: float | None
    tvd: float | None
    excess_tvd: float | None
    significant: bool

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["verdict"] = self.verdict.value
        return out


@dataclass(frozen=True)
class DivergenceResult:
    verdict: Verdict
    circuits: tuple[CircuitDivergence, ...]

    def evidence(self) -> tuple[Evidence, ...]:
        return tuple(
            Evidence(
                "divergence",
                c.verdict,
                c.circuit,
                statistic=c.statistic,
                p_value=c.p_value,
                effect_tvd=c.excess_tvd,
                detail="no prediction" if c.verdict == Verdict.NOT_EVALUATED else "",
            )
            for c in self.circuits
        )

    def to_dict(self) -> dict[str, Any]:
        return {"verdict": self.verdict.value, "circuits": [c.to_dict() for c in self.circuits]}


def check_divergence(
    counts_by_circuit: Mapping[str, Counts],
    predictions: Mapping[str, DistLike | None] | None,
    config: DivergenceConfig | None = None,
) -> DivergenceResult:
    """Do a run's counts diverge from the backend's noisy-simulator predictions?

    DIVERGED needs significance after correction across the suite AND an excess
    TVD (TVD minus its shot-noise expectation) of at least ``min_effect_tvd``;
    significant but smaller is WARN. Circuits without a prediction (backend reports
    no calibration) are NOT_EVALUATED, never DIVERGED.
    """
    cfg = config or DivergenceConfig()
    predictions = predictions or {}
    tested: list[tuple[str, Any]] = []
    for name in sorted(counts_by_circuit):
        pred = predictions.get(name)
        if pred is not None:
            res = gof_test(
                counts_by_circuit[name], pred, method="pearson", min_expected=cfg.min_expected
            )
            tested.append((name, res))
    significant = (
        reject([r.p_value for _, r in tested], cfg.alpha, cfg.correction)
        if tested
        else np.zeros(0, bool)
    )
    by_name = {name: (res, bool(sig)) for (name, res), sig in zip(tested, significant, strict=True)}
    circuits = []
    for name in sorted(counts_by_circuit):
        if name not in by_name:
            circuits.append(
                CircuitDivergence(name, Verdict.NOT_EVALUATED, None, None, None, None, False)
            )
            continue
        res, sig = by_name[name]
        if sig and res.excess_tvd >= cfg.min_effect_tvd:
            v = Verdict.DIVERGED
        elif sig:
            v = Verdict.WARN
        else:
            v = Verdict.OK
        circuits.append(
            CircuitDivergence(name, v, res.statistic, res.p_value, res.tvd, res.excess_tvd, sig)
        )
    return DivergenceResult(worst(c.verdict for c in circuits), tuple(circuits))
