"""What a reference suite is made of, as the config file states it: circuit kinds,
their widths, and the suite's pydantic models.

Apart from ``validators.circuits`` (which builds the circuits with qiskit) so that
reading and checking a config file needs no qiskit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from validators.errors import InvalidField


class SuiteConfigError(InvalidField):
    """The reference-suite configuration is invalid; names the field and what was expected."""


@dataclass(frozen=True)
class CircuitKind:
    """One kind of reference circuit: what it measures and which widths it takes.
    ``validators.circuits`` holds the builder of each kind."""

    family: str
    default_width: int | None  # None: the whole configured layout
    min_width: int
    max_width: int
    sensitive_to: str


CIRCUIT_KINDS: dict[str, CircuitKind] = {
    "bell": CircuitKind("bell", 2, 2, 2, "two-qubit gate error and readout error on one pair"),
    "ghz": CircuitKind("ghz", 3, 2, 8, "accumulated two-qubit gate error along a chain"),
    "mirror": CircuitKind(
        "mirror", 3, 1, 8, "coherent and incoherent gate errors (layers then inverse)"
    ),
    "readout_0": CircuitKind("readout", None, 1, 8, "readout error P(1|0)"),
    "readout_1": CircuitKind("readout", None, 1, 8, "readout error P(0|1) and T1 during measure"),
    "bv": CircuitKind("bv", 4, 2, 8, "phase coherence through H-CX-H (Bernstein-Vazirani)"),
    "idle": CircuitKind("idle", 1, 1, 8, "T1 relaxation during idle delays"),
    "qv": CircuitKind("qv", 3, 2, 6, "overall gate quality (quantum-volume heavy outputs)"),
}
DEFAULT_CIRCUITS: tuple[str, ...] = tuple(CIRCUIT_KINDS)


class CircuitSpec(BaseModel):
    """One entry of ``circuits:``; a bare string is shorthand for ``{kind: <string>}``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str
    label: str | None = Field(default=None, description="unique name; defaults to kind")
    layout: tuple[int, ...] | None = Field(default=None, description="overrides suite layout")
    width: int | None = Field(default=None, ge=1, le=8)
    depth: int | None = Field(default=None, ge=1, le=20)
    delay_us: float | None = Field(default=None, gt=0, le=10_000)
    secret: str | None = Field(default=None, pattern=r"^[01]+$")
    seed: int | None = None

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, value: str) -> str:
        if value not in CIRCUIT_KINDS:
            raise ValueError(f"unknown circuit {value!r}; expected one of {sorted(CIRCUIT_KINDS)}")
        return value

    @property
    def name(self) -> str:
        return self.label or self.kind


class SuiteConfig(BaseModel):
    """Which reference circuits run on a backend, on which physical qubits, how many shots."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    circuits: tuple[CircuitSpec, ...] = Field(
        default_factory=lambda: tuple(CircuitSpec(kind=k) for k in DEFAULT_CIRCUITS)
    )
    layout: tuple[int, ...] | None = Field(
        default=None, description="physical qubits; default: the first min(5, n) qubits"
    )
    shots: int = Field(default=2000, ge=1, le=1_000_000)
    seed: int = 1234

    @field_validator("circuits", mode="before")
    @classmethod
    def _strings_are_kinds(cls, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return tuple({"kind": v} if isinstance(v, str) else v for v in value)
        return value
