"""Pubs of the wrong kind fail before submission with an InvalidInput that names
the pub and what was expected, and nothing is recorded."""

from __future__ import annotations

import pytest
from qiskit import QuantumCircuit
from qiskit.primitives import BackendEstimatorV2, BackendSamplerV2
from qiskit.quantum_info import SparsePauliOp
from qiskit_aer import AerSimulator

from collector import InvalidInput, instrument_estimator, instrument_sampler


def unmeasured() -> QuantumCircuit:
    qc = QuantumCircuit(1)
    qc.h(0)
    return qc


@pytest.mark.filterwarnings("ignore::numpy.exceptions.ComplexWarning")
def test_an_estimator_pub_given_to_the_sampler(store, recorder):
    sampler = instrument_sampler(
        BackendSamplerV2(backend=AerSimulator()), store=store, recorder=recorder
    )
    with pytest.raises(InvalidInput, match=r"pubs\[0\].*instrument_estimator") as err:
        sampler.run([(unmeasured(), SparsePauliOp("Z"))])
    assert "\n" not in str(err.value)
    recorder.flush()
    assert store.jobs() == []


def test_a_sampler_pub_given_to_the_estimator(store, recorder):
    estimator = instrument_estimator(
        BackendEstimatorV2(backend=AerSimulator()), store=store, recorder=recorder
    )
    with pytest.raises(InvalidInput, match=r"pubs\[0\].*observables"):
        estimator.run([unmeasured()])
    recorder.flush()
    assert store.jobs() == []
