"""What the store records about submitted circuits: a stable hash, width and depth.

Computed on the shipper thread, off the user's call path (a depth walk costs more
than a tiny simulator job)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from qiskit import QuantumCircuit


def canonical_bytes(circuit: QuantumCircuit) -> bytes:
    """A canonical serialisation: same gates on same wires with same parameters give
    the same bytes, whatever the circuit's name or metadata."""
    qindex = {q: i for i, q in enumerate(circuit.qubits)}
    cindex = {c: i for i, c in enumerate(circuit.clbits)}
    parts = [f"q{circuit.num_qubits}c{circuit.num_clbits}"]
    for inst in circuit.data:
        op = inst.operation
        params = ",".join(repr(p) if isinstance(p, float) else str(p) for p in op.params)
        qs = ",".join(str(qindex[q]) for q in inst.qubits)
        cs = ",".join(str(cindex[c]) for c in inst.clbits)
        parts.append(f"{op.name}({params})[{qs}][{cs}]")
    return ";".join(parts).encode()


def circuits_hash(circuits: Sequence[QuantumCircuit]) -> str:
    """SHA-256 over the canonical serialisation of every circuit, in order."""
    digest = hashlib.sha256()
    for circuit in circuits:
        digest.update(canonical_bytes(circuit))
        digest.update(b"\x00")
    return digest.hexdigest()


def active_qubits(circuit: QuantumCircuit) -> int:
    """Qubits that some instruction touches (a transpiled circuit spans the device)."""
    used = set()
    for inst in circuit.data:
        if inst.operation.name != "barrier":
            used.update(inst.qubits)
    return len(used)


def circuit_info(circuits: Sequence[QuantumCircuit]) -> dict[str, object]:
    return {
        "circuit_hash": circuits_hash(circuits),
        "max_qubits": max((active_qubits(c) for c in circuits), default=0),
        "max_depth": max((c.depth() for c in circuits), default=0),
    }
