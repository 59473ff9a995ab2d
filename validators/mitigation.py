"""Readout-error mitigation of reference-circuit counts (mthree), from the backend's
*reported* readout calibration.

Calibration choice. mthree normally calibrates itself by running calibration
circuits on the device (``M3Mitigation.cals_from_system``). For the suite's 5
measured qubits its hardware default ("balanced") submitted 8 circuits and 20 000
shots (measured with bench/mitigation_overhead.py; on a simulator it picks
"independent": 10 circuits, 100 000 shots), against the suite's own 8 x 2 000 =
16 000: self-calibrating every run would more than double what a validation run
costs on metered hardware, and add a queue wait. Instead the per-qubit assignment
matrices are built from what the backend already reports:

- asymmetric P(1|0) / P(0|1) from ``backend.properties()`` where it has
  ``prob_meas1_prep0`` / ``prob_meas0_prep1`` (IBM devices and the
  qiskit-ibm-runtime fake backends: readout is asymmetric, since a prepared 1 can
  relax during the measurement);
- else the symmetric ``measure`` error of the backend's ``Target``.

This also makes the mitigated fidelity a check *of the reported calibration*: if
the reported readout errors go stale or wrong, mitigation stops helping, which is
what the ``mitigation_gain`` SLI watches. A backend reporting no readout error for
a measured qubit gets no mitigated value (the store column stays null).

Mitigators are cached per calibration (the reported values themselves are the key,
so a recalibration that changes nothing reuses the cached one), and no function
here runs a job.
"""

from __future__ import annotations

import ctypes
import functools
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import mthree
import numpy as np
from mthree import M3Mitigation
from qiskit import QuantumCircuit

from validators.distance import hellinger_fidelity
from validators.errors import InvalidConfig

ReadoutSource = Literal["properties", "target"]

_CACHE_SIZE = 32
# Up to this many distinct outcomes mthree's direct LU solve is used (a 2048 x 2048
# float32 matrix is 16 MiB); naming the method skips mthree's "auto" choice, which
# asks psutil for the free memory on every call (~2 ms each on a loaded machine).
_DIRECT_MAX_OUTCOMES = 2048
_lock = threading.Lock()
_mitigators: OrderedDict[ReadoutCalibration, M3Mitigation] = OrderedDict()


@dataclass(frozen=True)
class QubitReadout:
    """One physical qubit's reported readout error."""

    p1_given_0: float  # P(measure 1 | prepared 0)
    p0_given_1: float  # P(measure 0 | prepared 1)
    source: ReadoutSource

    def matrix(self) -> np.ndarray:
        """mthree's assignment matrix: column = prepared state, row = measured."""
        return np.array(
            [[1.0 - self.p1_given_0, self.p0_given_1], [self.p1_given_0, 1.0 - self.p0_given_1]],
            dtype=np.float32,
        )


@dataclass(frozen=True)
class ReadoutCalibration:
    """Reported readout error per physical qubit (index = qubit; None = not reported)."""

    qubits: tuple[QubitReadout | None, ...]

    def covers(self, qubits: Sequence[int]) -> bool:
        return all(0 <= q < len(self.qubits) and self.qubits[q] is not None for q in qubits)

    def sources(self, qubits: Sequence[int]) -> tuple[str, ...]:
        """Where the calibration of these qubits came from (sorted, distinct)."""
        return tuple(sorted({r.source for q in qubits if (r := self.qubits[q]) is not None}))


@dataclass(frozen=True)
class MitigationResult:
    """Raw and readout-mitigated fidelity of one circuit's counts to its ideal distribution.

    ``probabilities`` is the nearest probability distribution (L2, Smolin et al.) to
    mthree's quasi-probabilities; the fidelity is computed on it, with the same
    Hellinger fidelity as the raw one.
    """

    qubits: tuple[int, ...]
    fidelity_raw: float
    fidelity_mitigated: float
    probabilities: Mapping[str, float]
    sources: tuple[str, ...]

    @property
    def gain(self) -> float:
        return self.fidelity_mitigated - self.fidelity_raw


def _as_probability(value: Any) -> float | None:
    try:
        p = float(value)
    except (TypeError, ValueError):
        return None
    return p if 0.0 <= p <= 1.0 else None


def _reported_properties(backend: Any) -> Any:
    properties = getattr(backend, "properties", None)
    if not callable(properties):
        return None
    try:
        return properties()
    except Exception:  # noqa: BLE001 - a backend without properties reports none
        return None


def _from_properties(props: Any, qubit: int) -> QubitReadout | None:
    reader = getattr(props, "qubit_property", None)
    if reader is None:
        return None
    try:
        values = reader(qubit)
    except Exception:  # noqa: BLE001 - BackendPropertyError etc.: this qubit has none
        return None
    if not isinstance(values, Mapping):
        return None

    def value(name: str) -> float | None:
        entry = values.get(name)
        # qiskit-ibm-runtime and Aer give (value, date) pairs.
        return _as_probability(entry[0] if isinstance(entry, tuple) else entry)

    p10, p01 = value("prob_meas1_prep0"), value("prob_meas0_prep1")
    if p10 is None or p01 is None:
        return None
    return QubitReadout(p1_given_0=p10, p0_given_1=p01, source="properties")


def _from_target(target: Any, qubit: int) -> QubitReadout | None:
    if target is None or "measure" not in target.operation_names:
        return None
    props = (target["measure"] or {}).get((qubit,))
    error = _as_probability(getattr(props, "error", None))
    if error is None:
        return None
    return QubitReadout(p1_given_0=error, p0_given_1=error, source="target")


def readout_calibration(
    backend: Any, qubits: Iterable[int] | None = None
) -> ReadoutCalibration | None:
    """The backend's reported readout errors, per physical qubit; None if it reports
    none for the qubits asked (``qubits``: only those are read, the rest stay None; a
    suite measures at most 8 of a device's 127, and reading all of FakeBrisbane's took
    5-24 ms per run here).

    Asymmetric values from ``properties()`` win over the Target's symmetric
    ``measure`` error, qubit by qubit (see the module doc).
    """
    num_qubits = int(getattr(backend, "num_qubits", 0) or 0)
    wanted = set(range(num_qubits)) if qubits is None else set(qubits)
    props = _reported_properties(backend)
    target = getattr(backend, "target", None)
    readouts = tuple(
        ((_from_properties(props, q) if props is not None else None) or _from_target(target, q))
        if q in wanted
        else None
        for q in range(num_qubits)
    )
    if not any(readouts):
        return None
    return ReadoutCalibration(readouts)


def measured_qubits(circuit: QuantumCircuit) -> tuple[int, ...]:
    """The qubit measured into each clbit (clbit order) of a compiled circuit: its
    physical qubits, since the transpiler lays circuits out on the device."""
    qubit_of_clbit: dict[int, int] = {}
    for inst in circuit.data:
        if inst.operation.name == "measure":
            clbit = circuit.find_bit(inst.clbits[0]).index
            qubit_of_clbit[clbit] = circuit.find_bit(inst.qubits[0]).index
    if sorted(qubit_of_clbit) != list(range(circuit.num_clbits)):
        raise InvalidConfig(
            f"circuit {circuit.name!r}: clbits {sorted(qubit_of_clbit)} measured; "
            f"expected each of its {circuit.num_clbits} clbits measured"
        )
    return tuple(qubit_of_clbit[c] for c in range(circuit.num_clbits))


@functools.cache
def _mthree_openmp() -> Any | None:
    """mthree's own OpenMP runtime (its Linux wheels bundle a private libgomp in
    ``mthree.libs``), or None when mthree uses a shared one."""
    libs = Path(mthree.__file__).resolve().parent.parent / "mthree.libs"
    for path in sorted(libs.glob("libgomp*.so*")):
        try:
            lib = ctypes.CDLL(str(path))
            lib.omp_set_num_threads.argtypes = [ctypes.c_int]
            return lib
        except (OSError, AttributeError):
            continue
    return None


def _one_openmp_thread() -> None:
    """Run mthree's parallel loops on one thread in the calling thread.

    A reference circuit has at most 256 outcomes: the parallel loop building mthree's
    reduced matrix is microseconds of work, and its second thread only adds a barrier.
    On this project's shared 2-core machine under load (load average ~4.4), the
    runner's mitigation step (8 circuits) took a median 76-78 ms per suite run with
    mthree's default 2 threads and 7-8 ms with one (alternating A/B in one process).
    Only mthree's private runtime is touched (never a libgomp Aer or numpy could
    share), and only for the calling thread.
    """
    lib = _mthree_openmp()
    if lib is not None:
        lib.omp_set_num_threads(1)


def _mitigator(calibration: ReadoutCalibration) -> M3Mitigation:
    with _lock:
        hit = _mitigators.get(calibration)
        if hit is not None:
            _mitigators.move_to_end(calibration)
            return hit
    mit = M3Mitigation()
    # No system: mthree can never fall back to running calibration jobs.
    mit.cals_from_matrices([r.matrix() if r is not None else None for r in calibration.qubits])
    with _lock:
        _mitigators[calibration] = mit
        while len(_mitigators) > _CACHE_SIZE:
            _mitigators.popitem(last=False)
    return mit


def mitigated_probabilities(
    counts: Mapping[str, int], qubits: Sequence[int], calibration: ReadoutCalibration
) -> dict[str, float]:
    """Readout-mitigated distribution of ``counts`` (bitstrings, clbit 0 rightmost)
    measured on physical ``qubits`` (one per clbit, clbit order): mthree's
    quasi-probabilities mapped to the nearest probability distribution.

    Raises InvalidConfig when a measured qubit has no reported readout calibration
    (mthree would otherwise try to calibrate it by running circuits).
    """
    qubits = [int(q) for q in qubits]
    if not calibration.covers(qubits):
        raise InvalidConfig(
            f"qubits {qubits}: expected a reported readout calibration for each measured qubit"
        )
    if not counts:
        raise InvalidConfig("counts: expected at least one outcome")
    _one_openmp_thread()
    # Full Hamming distance: reference circuits measure at most 8 qubits, so the
    # exact correction within the observed bitstrings is cheap (mthree's default
    # truncates at distance 3).
    method = "direct" if len(counts) <= _DIRECT_MAX_OUTCOMES else "iterative"
    quasi = _mitigator(calibration).apply_correction(
        dict(counts), qubits, distance=len(qubits), method=method
    )
    nearest = quasi.nearest_probability_distribution()
    return {str(k): float(v) for k, v in nearest.items() if v > 0}


def mitigate(
    counts: Mapping[str, int],
    qubits: Sequence[int],
    calibration: ReadoutCalibration,
    ideal: Mapping[str, float],
) -> MitigationResult:
    """Hellinger fidelity to ``ideal`` of the raw counts and of their readout-mitigated
    distribution (the runner's fidelity, on both)."""
    probabilities = mitigated_probabilities(counts, qubits, calibration)
    return MitigationResult(
        qubits=tuple(int(q) for q in qubits),
        fidelity_raw=hellinger_fidelity(counts, ideal),
        fidelity_mitigated=hellinger_fidelity(probabilities, ideal),
        probabilities=probabilities,
        sources=calibration.sources(qubits),
    )


__all__ = [
    "MitigationResult",
    "QubitReadout",
    "ReadoutCalibration",
    "measured_qubits",
    "mitigate",
    "mitigated_probabilities",
    "readout_calibration",
]
