"""Verdicts with evidence, and version context for findings.

A finding is one piece of :class:`Evidence` (kind ``drift`` or ``divergence``, one
circuit or the whole backend). :func:`combine` folds findings into a per-circuit and
per-backend :class:`BackendVerdict`. DRIFT and DIVERGED are separate findings and can
both hold; ``verdict`` is the worst of them by :data:`SEVERITY`.

WARN means either "statistically significant but below the minimum effect size" or
"a CUSUM statistic above half its alarm threshold" (evidence accumulating).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class Verdict(StrEnum):
    """Values are the lowercase ``verdict`` label values of the metric catalogue."""

    NOT_EVALUATED = "not_evaluated"
    OK = "ok"
    WARN = "warn"
    DRIFT = "drift"
    DIVERGED = "diverged"


SEVERITY: dict[Verdict, int] = {
    Verdict.NOT_EVALUATED: 0,
    Verdict.OK: 1,
    Verdict.WARN: 2,
    Verdict.DRIFT: 3,
    Verdict.DIVERGED: 4,
}


def worst(verdicts: Iterable[Verdict]) -> Verdict:
    """The most severe verdict (NOT_EVALUATED when there is none)."""
    return max(verdicts, key=SEVERITY.__getitem__, default=Verdict.NOT_EVALUATED)


@dataclass(frozen=True)
class Evidence:
    """One finding: what was tested, what it found, and why."""

    kind: str  # "drift" | "divergence"
    verdict: Verdict
    circuit: str | None  # None = backend-level (whole suite)
    statistic: float | None = None
    p_value: float | None = None
    effect_tvd: float | None = None
    threshold: float | None = None
    runs_since_change: int | None = None
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["verdict"] = self.verdict.value
        return out


@dataclass(frozen=True)
class VersionChange:
    """Differences between two version/settings dicts (flattened with dots)."""

    changes: tuple[tuple[str, str | None, str | None], ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.changes)

    def describe(self) -> str:
        return ", ".join(f"{k} {old} -> {new}" for k, old, new in self.changes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "changed": self.changed,
            "changes": [{"key": k, "previous": o, "current": n} for k, o, n in self.changes],
        }


def version_change(
    previous: Mapping[str, Any] | None, current: Mapping[str, Any] | None
) -> VersionChange:
    """What changed between the version context of two runs.

    Dicts hold e.g. ``{"qiskit": "2.5.0", "qiskit-aer": "0.18.0", "provider": ...,
    "transpiler": {"optimization_level": 2, "seed": 7}}``; nested dicts are compared
    key by key. ``previous=None`` (no history) means no known change.
    """
    if previous is None or current is None:
        return VersionChange()
    old, new = _flatten(previous), _flatten(current)
    changes = tuple(
        (key, old.get(key), new.get(key))
        for key in sorted(set(old) | set(new))
        if old.get(key) != new.get(key)
    )
    return VersionChange(changes)


@dataclass(frozen=True)
class CircuitVerdict:
    circuit: str
    verdict: Verdict
    drift: Verdict
    divergence: Verdict
    evidence: tuple[Evidence, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "circuit": self.circuit,
            "verdict": self.verdict.value,
            "drift": self.drift.value,
            "divergence": self.divergence.value,
            "evidence": [e.to_dict() for e in self.evidence],
        }


@dataclass(frozen=True)
class BackendVerdict:
    backend: str
    verdict: Verdict
    drift: Verdict
    divergence: Verdict
    circuits: tuple[CircuitVerdict, ...]
    evidence: tuple[Evidence, ...]
    version_change: VersionChange = field(default_factory=VersionChange)
    likely_cause: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "verdict": self.verdict.value,
            "drift": self.drift.value,
            "divergence": self.divergence.value,
            "circuits": [c.to_dict() for c in self.circuits],
            "evidence": [e.to_dict() for e in self.evidence],
            "version_change": self.version_change.to_dict(),
            "likely_cause": self.likely_cause,
        }


def combine(
    backend: str,
    findings: Sequence[Evidence],
    version: VersionChange | None = None,
) -> BackendVerdict:
    """Fold drift and divergence evidence into per-circuit and backend verdicts.

    ``likely_cause`` says "compiler/firmware regression" when a DRIFT or DIVERGED
    finding coincides with a version change, "calibration drift" for a drift alone
    and "noise model out of date" for a divergence alone.
    """
    version = version or VersionChange()
    by_circuit: dict[str, list[Evidence]] = {}
    for ev in findings:
        if ev.circuit is not None:
            by_circuit.setdefault(ev.circuit, []).append(ev)
    circuits = tuple(
        CircuitVerdict(
            name,
            worst(e.verdict for e in evs),
            worst(e.verdict for e in evs if e.kind == "drift"),
            worst(e.verdict for e in evs if e.kind == "divergence"),
            tuple(evs),
        )
        for name, evs in sorted(by_circuit.items())
    )
    drift = worst(e.verdict for e in findings if e.kind == "drift")
    divergence = worst(e.verdict for e in findings if e.kind == "divergence")
    overall = worst([drift, divergence])
    cause = ""
    alarmed = drift == Verdict.DRIFT or divergence == Verdict.DIVERGED
    if alarmed and version.changed:
        cause = f"compiler/firmware regression ({version.describe()})"
    elif divergence == Verdict.DIVERGED:
        cause = "noise model out of date or device misbehaving (simulator divergence)"
    elif drift == Verdict.DRIFT:
        cause = "calibration drift"
    return BackendVerdict(
        backend, overall, drift, divergence, circuits, tuple(findings), version, cause
    )


def _flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(_flatten(value, f"{name}."))
        else:
            out[name] = str(value)
    return out
