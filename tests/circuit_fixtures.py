"""Small circuits the collector tests submit (importable as ``circuit_fixtures``:
pytest puts tests/ on the path for the root conftest)."""

from __future__ import annotations

from qiskit import QuantumCircuit


def bell() -> QuantumCircuit:
    """A Bell pair, measured into a 2-bit ``meas`` register (``measure_all``)."""
    qc = QuantumCircuit(2)
    qc.h(0)
    qc.cx(0, 1)
    qc.measure_all()
    return qc
