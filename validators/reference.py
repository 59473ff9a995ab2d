"""Reference distributions for reference circuits: the exact ideal one, and the one
the backend's own reported calibration predicts.

Both are exact (computed, never sampled), so the only randomness a validator faces is
the shot noise of the measured counts. The prediction is a density-matrix simulation
with ``NoiseModel.from_backend(backend)``; measurement-time readout errors (which
``save_probabilities`` does not see) are applied analytically from the same noise
model, which keeps the result exact.
"""

from __future__ import annotations

import hashlib
import threading
import weakref
from collections import OrderedDict
from datetime import datetime
from typing import Any

import numpy as np
from qiskit import QuantumCircuit, transpile
from qiskit_aer import AerSimulator
from qiskit_aer.noise import NoiseModel

from validators.circuits import TRANSPILE_OPTIMIZATION_LEVEL, ReferenceCircuit
from validators.errors import InvalidConfig

_CACHE_SIZE = 4096
_lock = threading.Lock()
_predicted: OrderedDict[tuple[str, datetime, str, str], dict[str, float]] = OrderedDict()
_noise: OrderedDict[tuple[str, datetime, str], tuple[NoiseModel, AerSimulator]] = OrderedDict()
_transpiled: weakref.WeakKeyDictionary[Any, dict[str, QuantumCircuit]] = weakref.WeakKeyDictionary()


def ideal_distribution(ref: ReferenceCircuit) -> dict[str, float]:
    """Exact ideal output distribution (Statevector, marginalised to measured clbits)."""
    return dict(ref.ideal_probabilities)


def calibration_timestamp(backend: Any) -> datetime | None:
    """When the backend's reported calibration was taken, if it says.

    qsre convention first (``backend.last_calibrated_at``, an aware datetime), then
    qiskit-ibm-runtime's ``backend.properties().last_update_date``, else None.
    """
    value = getattr(backend, "last_calibrated_at", None)
    if isinstance(value, datetime):
        return value
    properties = getattr(backend, "properties", None)
    if callable(properties):
        try:
            props = properties()
        except Exception:  # noqa: BLE001 - a backend without properties simply has none
            return None
        stamp = getattr(props, "last_update_date", None)
        if isinstance(stamp, datetime):
            return stamp
    return None


def has_calibration(backend: Any) -> bool:
    """True when the backend's Target reports at least one non-zero error rate."""
    target = getattr(backend, "target", None)
    if target is None:
        return False
    for name in target.operation_names:
        props_by_qubits = target[name]
        if not props_by_qubits:
            continue
        for props in props_by_qubits.values():
            if props is not None and props.error:
                return True
    return False


def transpile_reference(ref: ReferenceCircuit, backend: Any) -> QuantumCircuit:
    """The circuit as it runs on ``backend``: on ``ref.layout``, barriers kept.

    Cached per backend object, so validation runs and predictions use the same
    compiled circuit (a fixed transpiler seed makes routing deterministic anyway).
    """
    with _lock:
        per_backend = _transpiled.setdefault(backend, {})
        cached = per_backend.get(ref.key)
    if cached is not None:
        return cached
    compiled = transpile(
        ref.build(),
        backend,
        initial_layout=list(ref.layout),
        optimization_level=TRANSPILE_OPTIMIZATION_LEVEL,
        seed_transpiler=0,
    )
    with _lock:
        _transpiled.setdefault(backend, {})[ref.key] = compiled
    return compiled


def calibration_fingerprint(backend: Any) -> str:
    """A hash of everything the backend reports about its calibration (every
    instruction's error and duration, every qubit's T1/T2/frequency).

    Part of the prediction cache keys: the name and calibration timestamp alone
    would let two different backends that share both (a test double, a renamed
    device, a replayed snapshot) reuse each other's predictions.
    """
    digest = hashlib.sha256()
    target = getattr(backend, "target", None)
    if target is None:
        return ""
    for name in sorted(target.operation_names):
        for qargs, props in sorted((target[name] or {}).items(), key=lambda kv: str(kv[0])):
            if props is not None:
                digest.update(f"{name}{qargs}{props.error!r}{props.duration!r};".encode())
    for q in getattr(target, "qubit_properties", None) or ():
        if q is not None:
            digest.update(f"{q.t1!r},{q.t2!r},{q.frequency!r};".encode())
    return digest.hexdigest()


def _noise_for(backend: Any, calibration_at: datetime | None) -> tuple[NoiseModel, AerSimulator]:
    key = (
        (backend.name, calibration_at, calibration_fingerprint(backend))
        if calibration_at is not None
        else None
    )
    if key is not None:
        with _lock:
            hit = _noise.get(key)
            if hit is not None:
                _noise.move_to_end(key)
                return hit
    model = NoiseModel.from_backend(backend)
    sim = AerSimulator(method="density_matrix", noise_model=model, max_parallel_threads=1)
    if key is not None:
        with _lock:
            _noise[key] = (model, sim)
            while len(_noise) > 256:
                _noise.popitem(last=False)
    return model, sim


def _split_final_measurements(circuit: QuantumCircuit) -> tuple[QuantumCircuit, list[int]]:
    """Circuit without its final measurements, and the qubit measured into each clbit."""
    qubit_of_clbit: dict[int, int] = {}
    body = circuit.copy_empty_like()
    for inst in circuit.data:
        if inst.operation.name == "measure":
            qubit_of_clbit[circuit.find_bit(inst.clbits[0]).index] = circuit.find_bit(
                inst.qubits[0]
            ).index
            continue
        if {circuit.find_bit(q).index for q in inst.qubits} & set(qubit_of_clbit.values()):
            raise InvalidConfig(
                f"circuit {circuit.name!r}: {inst.operation.name} after a measurement; "
                "expected measurements to be final"
            )
        body.append(inst)
    if sorted(qubit_of_clbit) != list(range(circuit.num_clbits)):
        raise InvalidConfig(
            f"circuit {circuit.name!r}: expected each of {circuit.num_clbits} clbits measured once"
        )
    return body, [qubit_of_clbit[c] for c in range(circuit.num_clbits)]


def _readout_matrix(model: NoiseModel, qubit: int) -> np.ndarray:
    """P(measured | prepared) for one qubit, rows = prepared; identity if none."""
    local = getattr(model, "_local_readout_errors", {}) or {}
    error = local.get((qubit,)) or getattr(model, "_default_readout_error", None)
    if error is None:
        return np.eye(2)
    return np.asarray(error.probabilities, dtype=float)


def predicted_distribution(
    ref: ReferenceCircuit, backend: Any, calibration_at: datetime | None
) -> dict[str, float] | None:
    """Exact output distribution predicted by the backend's reported calibration.

    None when the backend reports no calibration (no error rates in its Target):
    divergence is then "not evaluated". Cached per (backend name, calibration
    timestamp, calibration fingerprint, circuit key); with no timestamp nothing is
    cached, since nothing would tell a stale entry from a fresh one.
    """
    if not has_calibration(backend):
        return None
    key = (
        (backend.name, calibration_at, calibration_fingerprint(backend), ref.key)
        if calibration_at is not None
        else None
    )
    if key is not None:
        with _lock:
            hit = _predicted.get(key)
            if hit is not None:
                _predicted.move_to_end(key)
                return dict(hit)
    model, sim = _noise_for(backend, calibration_at)
    body, qubits = _split_final_measurements(transpile_reference(ref, backend))
    body.save_probabilities(qubits)
    result = sim.run(body, shots=1).result()
    probs = np.asarray(result.data(0)["probabilities"], dtype=float)
    width = len(qubits)
    # probs index bit i (LSB first) is clbit i; apply each clbit's readout channel.
    tensor = probs.reshape([2] * width)  # axis 0 is the most significant bit (clbit width-1)
    for clbit, qubit in enumerate(qubits):
        axis = width - 1 - clbit
        tensor = np.moveaxis(
            np.tensordot(tensor, _readout_matrix(model, qubit), axes=([axis], [0])), -1, axis
        )
    flat = np.clip(tensor.reshape(-1), 0.0, None)
    flat = flat / flat.sum()
    out = {format(i, f"0{width}b"): float(p) for i, p in enumerate(flat) if p > 1e-15}
    if key is not None:
        with _lock:
            _predicted[key] = out
            while len(_predicted) > _CACHE_SIZE:
                _predicted.popitem(last=False)
    return dict(out)
