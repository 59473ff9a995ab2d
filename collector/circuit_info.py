"""What the store records about submitted circuits: a stable hash, width and depth.

Computed on the shipper thread, off the user's call path. The same circuit object
is often submitted again and again (repeated runs, validation suites), and a depth
walk costs more than a small simulator job, so per-circuit results are cached by
object identity and recomputed when the circuit changes (instruction count,
parameter count or global phase).
"""

from __future__ import annotations

import hashlib
import threading
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from qiskit import QuantumCircuit

_CACHE_MAX = 4096


@dataclass(frozen=True, slots=True)
class _Info:
    digest: bytes
    active_qubits: int
    depth: int


# id(circuit) -> (weak reference, change signature, info). QuantumCircuit is not
# hashable (it defines __eq__), so the weak reference also guards against a recycled id.
_cache: OrderedDict[int, tuple[weakref.ref, tuple, _Info]] = OrderedDict()
_lock = threading.Lock()


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


def active_qubits(circuit: QuantumCircuit) -> int:
    """Qubits that some instruction touches (a transpiled circuit spans the device)."""
    used = set()
    for inst in circuit.data:
        if inst.operation.name != "barrier":
            used.update(inst.qubits)
    return len(used)


def _signature(circuit: QuantumCircuit) -> tuple:
    return (len(circuit.data), circuit.num_parameters, str(circuit.global_phase))


def _info(circuit: QuantumCircuit) -> _Info:
    key = id(circuit)
    signature = _signature(circuit)
    with _lock:
        hit = _cache.get(key)
        if hit is not None and hit[0]() is circuit and hit[1] == signature:
            _cache.move_to_end(key)
            return hit[2]
    info = _Info(
        hashlib.sha256(canonical_bytes(circuit)).digest(), active_qubits(circuit), circuit.depth()
    )
    with _lock:
        _cache[key] = (weakref.ref(circuit), signature, info)
        while len(_cache) > _CACHE_MAX:
            _cache.popitem(last=False)
    return info


def circuits_hash(circuits: Sequence[QuantumCircuit]) -> str:
    """SHA-256 over the per-circuit SHA-256 digests of the canonical serialisation,
    in order: equal circuit lists hash equal whatever their names."""
    digest = hashlib.sha256()
    for circuit in circuits:
        digest.update(_info(circuit).digest)
    return digest.hexdigest()


def circuit_info(circuits: Sequence[QuantumCircuit]) -> dict[str, object]:
    infos = [_info(c) for c in circuits]
    digest = hashlib.sha256()
    for info in infos:
        digest.update(info.digest)
    return {
        "circuit_hash": digest.hexdigest(),
        "max_qubits": max((i.active_qubits for i in infos), default=0),
        "max_depth": max((i.depth for i in infos), default=0),
    }
