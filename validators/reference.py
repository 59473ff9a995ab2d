"""Reference distributions for reference circuits: the exact ideal one, and the one
the backend's own reported calibration predicts.

Both are exact (computed, never sampled), so the only randomness a validator faces is
the shot noise of the measured counts. The prediction is a density-matrix simulation;
measurement-time readout errors (which ``save_probabilities`` does not see) are
applied analytically from the same noise model, which keeps the result exact.

Which calibration. A backend that reports ``properties()`` (every IBM device and
qiskit-ibm-runtime fake backend) is predicted from them, built the way
qiskit-ibm-runtime's fake backends build the noise of their own ``run()``
(``FakeBackendV2._get_noise_model_from_backend_v2``): asymmetric readout from
``prob_meas0_prep1`` / ``prob_meas1_prep0``, depolarizing plus thermal-relaxation
gate errors from gate errors, gate lengths and T1/T2, and T1/T2 relaxation on
delays. The Target that qiskit-ibm-runtime derives from the same properties keeps
only a symmetric ``measure`` error, which alone put FakeManilaV2 at TVD 0.05-0.06
from its own runs (DIVERGED). Backends without ``properties()`` (Aer, qsre's
simulated backends) are predicted from their Target, as ``NoiseModel.from_backend``
does.

Which qubits. The noise model covers only the physical qubits the compiled circuit
touches, renumbered 0..k-1, and the circuit is simulated on those k qubits. Errors
are local to the qubits of each instruction, so the distribution is the same as
with the whole device's model; the cost is not (FakeBrisbane, 127 qubits: the whole
model takes 1.7 s to build and ~1 s per simulation, which Aer spends serialising
it). Models are cached per (backend name, calibration time, calibration
fingerprint, qubit set), predictions per (..., circuit).
"""

from __future__ import annotations

import hashlib
import threading
import warnings
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np
from qiskit import QuantumCircuit, transpile
from qiskit.circuit import Delay
from qiskit.transpiler import Target
from qiskit_aer import AerSimulator
from qiskit_aer.noise import NoiseModel
from qiskit_aer.noise.device import basic_device_gate_errors, basic_device_readout_errors
from qiskit_aer.noise.passes import RelaxationNoisePass

from validators.circuits import TRANSPILE_OPTIMIZATION_LEVEL, ReferenceCircuit
from validators.errors import InvalidConfig

_CACHE_SIZE = 4096
_NOISE_CACHE_SIZE = 256
_lock = threading.Lock()
_predicted: OrderedDict[tuple[str, datetime, str, str], dict[str, float]] = OrderedDict()
_noise: OrderedDict[tuple[str, datetime, str, tuple[int, ...]], tuple[NoiseModel, AerSimulator]] = (
    OrderedDict()
)
_transpiled: weakref.WeakKeyDictionary[Any, dict[str, QuantumCircuit]] = weakref.WeakKeyDictionary()


def ideal_distribution(ref: ReferenceCircuit) -> dict[str, float]:
    """Exact ideal output distribution (Statevector, marginalised to measured clbits)."""
    return dict(ref.ideal_probabilities)


def _properties(backend: Any) -> Any | None:
    properties = getattr(backend, "properties", None)
    if not callable(properties):
        return None
    try:
        return properties()
    except Exception:  # noqa: BLE001 - a backend without properties simply has none
        return None


def backend_properties(backend: Any) -> Any | None:
    """The backend's ``properties()`` when they are a device calibration (IBM's:
    per-qubit T1/T2 and readout, per-gate errors and lengths), else None.

    Aer's ``AerSimulator.from_backend`` also has ``properties()``, derived from its
    Target with neither T1 nor T2 and none of its noise model's relaxation: such a
    backend is predicted from its Target, which is what its noise model was built from.
    """
    props = _properties(backend)
    if props is None or not callable(getattr(props, "to_dict", None)):
        return None
    if not getattr(props, "qubits", None) or not getattr(props, "gates", None):
        return None
    try:
        props.t1(0)
        props.t2(0)
    except Exception:  # noqa: BLE001 - no T1/T2: not a device calibration
        return None
    return props


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
    with warnings.catch_warnings():
        # The idle circuit's delay is given in microseconds; qiskit rounds it to the
        # backend's dt and warns on every run. A 40 us delay off by < 1 ns changes
        # nothing the test measures, and the warning would reach every user's terminal.
        warnings.filterwarnings("ignore", message="Duration is rounded", category=UserWarning)
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
    instruction's error and duration, every qubit's T1/T2/frequency, and every
    value of ``properties()`` where the backend has them: asymmetric readout, ...).

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
    props = backend_properties(backend)
    if props is not None:
        data = props.to_dict()
        for index, qubit in enumerate(data.get("qubits") or ()):
            for item in qubit:
                digest.update(f"q{index}{item.get('name')}{item.get('value')!r};".encode())
        for gate in data.get("gates") or ():
            for item in gate.get("parameters") or ():
                digest.update(
                    f"{gate.get('gate')}{gate.get('qubits')}{item.get('name')}"
                    f"{item.get('value')!r};".encode()
                )
    return digest.hexdigest()


def used_qubits(circuit: QuantumCircuit) -> tuple[int, ...]:
    """Physical qubits the compiled circuit acts on (barriers aside), ascending."""
    used: set[int] = set()
    for inst in circuit.data:
        if inst.operation.name != "barrier":
            used.update(circuit.find_bit(q).index for q in inst.qubits)
    return tuple(sorted(used))


def _sub_properties(props: Any, qubits: Sequence[int]) -> Any:
    """``props`` restricted to ``qubits``, renumbered 0..k-1 (gates on other qubits dropped)."""
    data = props.to_dict()
    local = {q: i for i, q in enumerate(qubits)}
    gates = []
    for gate in data.get("gates") or ():
        if all(q in local for q in gate["qubits"]):
            gates.append({**gate, "qubits": [local[q] for q in gate["qubits"]]})
    sub = {
        **data,
        "qubits": [data["qubits"][q] for q in qubits],
        "gates": gates,
        "general": [],
        "general_qlists": [],
    }
    return type(props).from_dict(sub)


def _properties_noise(
    props: Any, basis_gates: Sequence[str] | None, dt: float | None
) -> NoiseModel:
    """What qiskit-ibm-runtime's fake backends build for their own ``run()``
    (``FakeBackendV2._get_noise_model_from_backend_v2``, temperature 0), from
    properties that may already be restricted to a few qubits."""
    gate_names = sorted({g.gate for g in props.gates})
    model = NoiseModel(basis_gates=list(basis_gates) if basis_gates else gate_names)
    for qubits, error in basic_device_readout_errors(props):
        model.add_readout_error(error, qubits)
    with warnings.catch_warnings():
        # Aer warns about each gate whose error exceeds its thermal-relaxation bound.
        warnings.filterwarnings("ignore", module="qiskit_aer.noise.device.models")
        gate_errors = basic_device_gate_errors(props, gate_error=True, thermal_relaxation=True)
    for name, qubits, error in gate_errors:
        model.add_quantum_error(error, name, qubits)
    num_qubits = len(props.qubits)
    try:
        t1s = [props.t1(q) for q in range(num_qubits)]
        t2s = [props.t2(q) for q in range(num_qubits)]
    except Exception:  # noqa: BLE001 - no T1/T2 reported: no relaxation on delays
        return model
    # T2 > 2*T1 is unphysical (a reported fit artefact) and Aer's relaxation channel
    # rejects it; clamp as Aer's own from_backend does.
    t2s = [min(t2, 2 * t1) if t1 and t2 else t2 for t1, t2 in zip(t1s, t2s, strict=True)]
    model._custom_noise_passes.append(  # noqa: SLF001 - the only way Aer adds delay noise
        RelaxationNoisePass(t1s=t1s, t2s=t2s, dt=dt, op_types=Delay)
    )
    return model


def _sub_target(target: Target, qubits: Sequence[int]) -> Target:
    """``target`` restricted to ``qubits``, renumbered 0..k-1."""
    local = {q: i for i, q in enumerate(qubits)}
    qprops = getattr(target, "qubit_properties", None)
    sub = Target(
        num_qubits=len(qubits),
        dt=target.dt,
        qubit_properties=[qprops[q] for q in qubits] if qprops else None,
    )
    for name in target.operation_names:
        qmap = target[name]
        if not qmap or None in qmap:
            continue  # global or variadic: ideal, nothing for a noise model
        props = {
            tuple(local[q] for q in qargs): p
            for qargs, p in qmap.items()
            if all(q in local for q in qargs)
        }
        if props:
            sub.add_instruction(target.operation_from_name(name), props, name=name)
    return sub


class _TargetBackend:
    """The three attributes ``NoiseModel.from_backend`` reads from a BackendV2."""

    version = 2

    def __init__(self, target: Target, operation_names: Sequence[str], dt: float | None) -> None:
        self.target = target
        self.operation_names = list(operation_names)
        self.dt = dt


def restricted_noise_model(backend: Any, qubits: Sequence[int]) -> NoiseModel:
    """The backend's reported calibration as a noise model on ``qubits`` only,
    renumbered 0..k-1 in the order given (see the module doc)."""
    dt = getattr(backend, "dt", None)
    props = backend_properties(backend)
    if props is not None:
        configuration = getattr(backend, "configuration", None)
        basis = None
        if callable(configuration):
            try:
                basis = configuration().basis_gates
            except Exception:  # noqa: BLE001 - fall back to the gates the properties list
                basis = None
        return _properties_noise(_sub_properties(props, qubits), basis, dt)
    target = backend.target
    view = _TargetBackend(_sub_target(target, qubits), target.operation_names, dt)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning, module="qiskit_aer.noise")
        return NoiseModel.from_backend(view)


def _noise_for(
    backend: Any, calibration_at: datetime | None, fingerprint: str, qubits: tuple[int, ...]
) -> tuple[NoiseModel, AerSimulator]:
    key = (
        (backend.name, calibration_at, fingerprint, qubits) if calibration_at is not None else None
    )
    if key is not None:
        with _lock:
            hit = _noise.get(key)
            if hit is not None:
                _noise.move_to_end(key)
                return hit
    model = restricted_noise_model(backend, qubits)
    sim = AerSimulator(method="density_matrix", noise_model=model, max_parallel_threads=1)
    if key is not None:
        with _lock:
            _noise[key] = (model, sim)
            while len(_noise) > _NOISE_CACHE_SIZE:
                _noise.popitem(last=False)
    return model, sim


def _localise(circuit: QuantumCircuit, qubits: Sequence[int]) -> QuantumCircuit:
    """``circuit`` on ``len(qubits)`` qubits: physical ``qubits[i]`` becomes qubit i;
    barriers keep only their part on those qubits."""
    local = {q: i for i, q in enumerate(qubits)}
    out = QuantumCircuit(len(qubits), circuit.num_clbits, name=circuit.name)
    for inst in circuit.data:
        indices = [circuit.find_bit(q).index for q in inst.qubits]
        if inst.operation.name == "barrier":
            kept = [local[q] for q in indices if q in local]
            if kept:
                out.barrier(kept)
            continue
        out.append(
            inst.operation,
            [local[q] for q in indices],
            [circuit.find_bit(c).index for c in inst.clbits],
        )
    return out


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
    ref: ReferenceCircuit,
    backend: Any,
    calibration_at: datetime | None,
    fingerprint: str | None = None,
) -> dict[str, float] | None:
    """Exact output distribution predicted by the backend's reported calibration.

    None when the backend reports no calibration (no error rates in its Target):
    divergence is then "not evaluated". Cached per (backend name, calibration
    timestamp, calibration fingerprint, circuit key); with no timestamp nothing is
    cached, since nothing would tell a stale entry from a fresh one. A caller
    predicting a whole suite passes ``calibration_fingerprint(backend)`` once: on a
    fake backend every ``properties()`` call re-parses the snapshot (~12 ms at 27
    qubits).
    """
    if not has_calibration(backend):
        return None
    if fingerprint is None:
        fingerprint = calibration_fingerprint(backend)
    key = (
        (backend.name, calibration_at, fingerprint, ref.key) if calibration_at is not None else None
    )
    if key is not None:
        with _lock:
            hit = _predicted.get(key)
            if hit is not None:
                _predicted.move_to_end(key)
                return dict(hit)
    compiled = transpile_reference(ref, backend)
    qubits = used_qubits(compiled)
    model, sim = _noise_for(backend, calibration_at, fingerprint, qubits)
    body, measured = _split_final_measurements(_localise(compiled, qubits))
    body.save_probabilities(measured)
    result = sim.run(body, shots=1).result()
    probs = np.asarray(result.data(0)["probabilities"], dtype=float)
    width = len(measured)
    # probs index bit i (LSB first) is clbit i; apply each clbit's readout channel.
    tensor = probs.reshape([2] * width)  # axis 0 is the most significant bit (clbit width-1)
    for clbit, qubit in enumerate(measured):
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
