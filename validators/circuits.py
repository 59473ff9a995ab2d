"""The reference circuit suite: small circuits, each sensitive to one error source,
each carrying its exact ideal output distribution.

A reference circuit is *logical*: virtual qubit ``i`` is meant to run on physical
qubit ``layout[i]``. Run it with :data:`TRANSPILE_OPTIMIZATION_LEVEL` and
``initial_layout=list(ref.layout)`` (``validators.reference.transpile_reference``
does both). Structure that must survive compilation is fenced with barriers: the
transpiler never optimises across a barrier, so a mirror circuit's layers are not
cancelled against their inverses and an idle circuit's delays are kept (delays are
only dropped by scheduling passes we do not request).

Bitstrings follow Qiskit's convention: clbit 0 is the rightmost character.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydantic import ValidationError
from qiskit import QuantumCircuit
from qiskit.circuit.library import quantum_volume
from qiskit.quantum_info import Statevector

from validators.errors import InvalidConfig
from validators.suite_config import (  # the config side, re-exported for callers
    CIRCUIT_KINDS,
    DEFAULT_CIRCUITS,
    CircuitSpec,
    SuiteConfig,
    SuiteConfigError,
)

__all__ = [
    "BUILDERS",
    "CIRCUIT_KINDS",
    "DEFAULT_CIRCUITS",
    "TRANSPILE_OPTIMIZATION_LEVEL",
    "CircuitSpec",
    "ReferenceCircuit",
    "SuiteConfig",
    "SuiteConfigError",
    "build_suite",
    "exact_probabilities",
]

# Level 1 merges adjacent single-qubit gates and routes, but never works across a
# barrier and never removes delays; higher levels add nothing for these small circuits.
TRANSPILE_OPTIMIZATION_LEVEL = 1


@dataclass(frozen=True)
class ReferenceCircuit:
    """One reference circuit on a given layout, with its exact ideal distribution.

    ``ideal_probabilities`` maps measured bitstrings (clbit 0 rightmost) to exact
    probabilities (zeros omitted). ``known_answer`` is the single bitstring an ideal
    device returns with certainty, where there is one. ``heavy_set`` is the set of
    heavy outputs (ideal probability above the median) for quantum-volume circuits.
    ``key`` identifies the circuit (name, family, layout, parameters) for caches.
    """

    name: str
    family: str
    layout: tuple[int, ...]
    sensitive_to: str
    ideal_probabilities: Mapping[str, float] = field(compare=False, hash=False, repr=False)
    known_answer: str | None = None
    heavy_set: frozenset[str] | None = field(default=None, compare=False, hash=False, repr=False)
    params: tuple[tuple[str, Any], ...] = ()
    shots: int = 2000
    _circuit: QuantumCircuit | None = field(default=None, compare=False, hash=False, repr=False)

    @property
    def num_clbits(self) -> int:
        return len(next(iter(self.ideal_probabilities)))

    @property
    def key(self) -> str:
        params = ",".join(f"{k}={v}" for k, v in self.params)
        return f"{self.name}|{self.family}|{','.join(map(str, self.layout))}|{params}"

    def build(self) -> QuantumCircuit:
        """A fresh copy of the logical circuit, final measurements included."""
        if self._circuit is None:
            raise InvalidConfig(f"reference circuit {self.name!r} was created without a circuit")
        return self._circuit.copy()

    def heavy_output_probability(self, probabilities: Mapping[str, float]) -> float:
        """Mass a distribution puts on the heavy set (quantum-volume circuits only)."""
        if self.heavy_set is None:
            raise InvalidConfig(f"reference circuit {self.name!r} has no heavy set (not QV)")
        return float(sum(p for b, p in probabilities.items() if b in self.heavy_set))


def exact_probabilities(circuit: QuantumCircuit) -> dict[str, float]:
    """Exact distribution of a circuit's final measurements (no sampling).

    The circuit's measurements must all be final; the state before them is simulated
    with a Statevector and marginalised onto the measured qubits in clbit order.
    """
    qubit_of_clbit: dict[int, int] = {}
    body = QuantumCircuit(*circuit.qregs)
    for inst in circuit.data:
        if inst.operation.name == "measure":
            q = circuit.find_bit(inst.qubits[0]).index
            c = circuit.find_bit(inst.clbits[0]).index
            qubit_of_clbit[c] = q
            continue
        touched = {circuit.find_bit(q).index for q in inst.qubits}
        if touched & set(qubit_of_clbit.values()):
            raise InvalidConfig(
                f"circuit {circuit.name!r}: {inst.operation.name} acts on a measured qubit "
                "after its measurement; expected measurements to be final"
            )
        if inst.operation.name in ("barrier", "delay"):
            continue
        body.append(inst.operation, inst.qubits)
    if sorted(qubit_of_clbit) != list(range(circuit.num_clbits)):
        raise InvalidConfig(
            f"circuit {circuit.name!r}: clbits {sorted(qubit_of_clbit)} measured; "
            f"expected every one of its {circuit.num_clbits} clbits measured once"
        )
    qargs = [qubit_of_clbit[c] for c in range(circuit.num_clbits)]
    probs = Statevector(body).probabilities(qargs)
    width = len(qargs)
    return {format(i, f"0{width}b"): float(p) for i, p in enumerate(probs) if p > 1e-12}


def _bits_to_key(bits: Sequence[int]) -> str:
    """Bit i (clbit i) becomes character -(i+1): Qiskit's little-endian strings."""
    return "".join(str(b) for b in reversed(bits))


def _bell(width: int, rng: np.random.Generator, spec: CircuitSpec) -> tuple[QuantumCircuit, dict]:
    qc = QuantumCircuit(2, 2, name="qsre_bell")
    qc.h(0)
    qc.cx(0, 1)
    qc.barrier()
    qc.measure([0, 1], [0, 1])
    return qc, {}


def _ghz(width: int, rng: np.random.Generator, spec: CircuitSpec) -> tuple[QuantumCircuit, dict]:
    qc = QuantumCircuit(width, width, name=f"qsre_ghz{width}")
    qc.h(0)
    for i in range(width - 1):
        qc.cx(i, i + 1)
    qc.barrier()
    qc.measure(range(width), range(width))
    return qc, {}


# Single-qubit Clifford words; together with CX they generate random Clifford layers.
_CLIFFORD_1Q: tuple[tuple[str, ...], ...] = (
    (),
    ("h",),
    ("s",),
    ("sdg",),
    ("x",),
    ("y",),
    ("z",),
    ("sx",),
    ("h", "s"),
    ("s", "h"),
    ("sx", "s"),
    ("h", "sdg", "h"),
)


def _mirror(width: int, rng: np.random.Generator, spec: CircuitSpec) -> tuple[QuantumCircuit, dict]:
    depth = spec.depth or 4
    frame = [int(b) for b in rng.integers(0, 2, size=width)]
    if not any(frame):
        # An all-zero answer cannot tell "correct" from "never excited"; force a 1.
        frame[int(rng.integers(0, width))] = 1
    layers: list[QuantumCircuit] = []
    for _ in range(depth):
        layer = QuantumCircuit(width)
        for q in range(width):
            for g in _CLIFFORD_1Q[int(rng.integers(0, len(_CLIFFORD_1Q)))]:
                getattr(layer, g)(q)
        order = [int(q) for q in rng.permutation(width)]
        for a, b in zip(order[0::2], order[1::2], strict=False):
            layer.cx(a, b)
        layers.append(layer)
    qc = QuantumCircuit(width, width, name=f"qsre_mirror{width}x{depth}")
    for q, bit in enumerate(frame):
        if bit:
            qc.x(q)
    qc.barrier()
    for layer in layers:
        qc.compose(layer, inplace=True)
        qc.barrier()
    for layer in reversed(layers):
        qc.compose(layer.inverse(), inplace=True)
        qc.barrier()
    qc.measure(range(width), range(width))
    return qc, {"depth": depth, "frame": _bits_to_key(frame)}


def _readout(bit: int) -> Callable[..., tuple[QuantumCircuit, dict]]:
    def build(
        width: int, rng: np.random.Generator, spec: CircuitSpec
    ) -> tuple[QuantumCircuit, dict]:
        qc = QuantumCircuit(width, width, name=f"qsre_readout{bit}_{width}")
        if bit:
            qc.x(range(width))
        qc.barrier()
        qc.measure(range(width), range(width))
        return qc, {}

    return build


def _bv(width: int, rng: np.random.Generator, spec: CircuitSpec) -> tuple[QuantumCircuit, dict]:
    n = width - 1
    if spec.secret is not None:
        secret = spec.secret
    else:
        bits = [int(b) for b in rng.integers(0, 2, size=n)]
        if not any(bits):
            bits[0] = 1
        secret = _bits_to_key(bits)
    anc = n
    qc = QuantumCircuit(width, n, name=f"qsre_bv{n}")
    qc.x(anc)
    qc.h(range(width))
    qc.barrier()
    for i, ch in enumerate(reversed(secret)):
        if ch == "1":
            qc.cx(i, anc)
    qc.barrier()
    qc.h(range(n))
    qc.barrier()
    qc.measure(range(n), range(n))
    return qc, {"secret": secret}


def _idle(width: int, rng: np.random.Generator, spec: CircuitSpec) -> tuple[QuantumCircuit, dict]:
    delay_us = spec.delay_us if spec.delay_us is not None else 40.0
    qc = QuantumCircuit(width, width, name=f"qsre_idle{width}")
    qc.x(range(width))
    qc.barrier()
    for q in range(width):
        qc.delay(delay_us, q, unit="us")
    qc.barrier()
    qc.measure(range(width), range(width))
    return qc, {"delay_us": delay_us}


def _qv(width: int, rng: np.random.Generator, spec: CircuitSpec) -> tuple[QuantumCircuit, dict]:
    qv_seed = int(rng.integers(0, 2**31 - 1))
    body = quantum_volume(width, depth=spec.depth, seed=qv_seed)
    qc = QuantumCircuit(width, width, name=f"qsre_qv{width}")
    qc.compose(body, inplace=True)
    qc.barrier()
    qc.measure(range(width), range(width))
    return qc, {"qv_seed": qv_seed}


BUILDERS: dict[
    str, Callable[[int, np.random.Generator, CircuitSpec], tuple[QuantumCircuit, dict]]
] = {
    "bell": _bell,
    "ghz": _ghz,
    "mirror": _mirror,
    "readout_0": _readout(0),
    "readout_1": _readout(1),
    "bv": _bv,
    "idle": _idle,
    "qv": _qv,
}
if set(BUILDERS) != set(CIRCUIT_KINDS):  # a kind added to one table and not the other
    raise ImportError(f"circuit builders {sorted(BUILDERS)} != kinds {sorted(CIRCUIT_KINDS)}")


def _check_layout(path: str, layout: tuple[int, ...], num_qubits: int) -> None:
    if not layout:
        raise SuiteConfigError(path, layout, "a non-empty list of physical qubits")
    for q in layout:
        if not 0 <= q < num_qubits:
            raise SuiteConfigError(
                path, layout, f"physical qubits in 0..{num_qubits - 1} (backend has {num_qubits})"
            )
    if len(set(layout)) != len(layout):
        raise SuiteConfigError(path, layout, "distinct physical qubits (no duplicates)")


def build_suite(config: SuiteConfig | Mapping[str, Any], num_qubits: int) -> list[ReferenceCircuit]:
    """Build the configured reference circuits for a backend with ``num_qubits`` qubits.

    Raises :class:`SuiteConfigError` naming the offending field (``circuits[i].layout``,
    ...) for unknown circuits, layouts out of range, duplicate qubits or names.
    """
    if not isinstance(config, SuiteConfig):
        try:
            config = SuiteConfig.model_validate(dict(config))
        except ValidationError as exc:
            err = exc.errors()[0]
            path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"])
            path = path.lstrip(".")
            raise SuiteConfigError(path, err.get("input"), err["msg"]) from exc
    base_layout = config.layout or tuple(range(min(5, num_qubits)))
    _check_layout("layout", base_layout, num_qubits)
    refs: list[ReferenceCircuit] = []
    seen: set[str] = set()
    for i, spec in enumerate(config.circuits):
        where = f"circuits[{i}]"
        kind = CIRCUIT_KINDS[spec.kind]
        if spec.name in seen:
            raise SuiteConfigError(f"{where}.label", spec.name, "a name unique within the suite")
        seen.add(spec.name)
        layout = spec.layout if spec.layout is not None else base_layout
        _check_layout(
            f"{where}.layout" if spec.layout is not None else "layout", layout, num_qubits
        )
        width = spec.width or kind.default_width or len(layout)
        if not kind.min_width <= width <= kind.max_width:
            raise SuiteConfigError(
                f"{where}.width", width, f"{kind.min_width}..{kind.max_width} for {spec.kind}"
            )
        if width > len(layout):
            raise SuiteConfigError(
                f"{where}.layout",
                layout,
                f"at least {width} qubits for {spec.kind} (width {width})",
            )
        if spec.secret is not None and (spec.kind != "bv" or len(spec.secret) != width - 1):
            raise SuiteConfigError(
                f"{where}.secret", spec.secret, f"only for bv, with width-1 = {width - 1} bits"
            )
        # One generator per circuit, derived from the suite seed and the circuit's name,
        # so adding a circuit never changes the others.
        seed = spec.seed if spec.seed is not None else config.seed
        rng = np.random.default_rng([seed, *spec.name.encode()])
        circuit, extra = BUILDERS[spec.kind](width, rng, spec)
        ideal = exact_probabilities(circuit)
        answer = next(iter(ideal)) if len(ideal) == 1 else None
        heavy = None
        if spec.kind == "qv":
            full = [ideal.get(format(k, f"0{width}b"), 0.0) for k in range(2**width)]
            median = float(np.median(full))
            heavy = frozenset(b for b, p in ideal.items() if p > median)
        params = tuple(sorted({"seed": seed, "width": width, **extra}.items()))
        refs.append(
            ReferenceCircuit(
                name=spec.name,
                family=kind.family,
                layout=tuple(layout[:width]),
                sensitive_to=kind.sensitive_to,
                ideal_probabilities=ideal,
                known_answer=answer,
                heavy_set=heavy,
                params=params,
                shots=config.shots,
                _circuit=circuit,
            )
        )
    return refs
