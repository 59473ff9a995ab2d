"""qiskit-aer through its adapter: failures that the same circuit meets every time
are the caller's input, never retried."""

from __future__ import annotations

import pytest
from qiskit import QuantumCircuit
from qiskit.circuit import Gate
from qiskit_aer import AerError, AerSimulator

from collector import ExecutionProxy
from collector.classify import classify_exception
from collector.providers import adapter_for
from collector.providers.aer import AerAdapter


def test_unknown_instruction_is_invalid_input():
    qc = QuantumCircuit(1)
    qc.append(Gate("not_a_gate", 1, []), [0])
    qc.measure_all()
    with pytest.raises(AerError) as err:
        AerSimulator().run(qc, shots=10).result()
    assert isinstance(adapter_for(err.value), AerAdapter)
    assert classify_exception(err.value) == "invalid_input"


def test_other_aer_errors_are_the_backends():
    assert classify_exception(AerError("simulation crashed")) == "backend"


def test_insufficient_memory_is_recorded_as_resource_exhaustion(store, recorder):
    # 40 qubits of state vector (16 TiB): Aer refuses before allocating anything.
    qc = QuantumCircuit(40)
    qc.h(range(40))
    qc.measure_all()
    proxy = ExecutionProxy(AerSimulator(method="statevector"), store=store, recorder=recorder)
    with pytest.raises(Exception) as err:
        proxy.run(qc, shots=10).result()
    assert "Insufficient memory" in str(err.value)
    recorder.flush()
    [row] = store.jobs()
    assert (row.status, row.error_class, row.attempts) == ("error", "resource", 1)


def test_failed_result_classes():
    qc = QuantumCircuit(40)
    qc.h(range(40))
    qc.measure_all()
    result = AerSimulator(method="statevector").run(qc, shots=10).result()
    assert result.success is False
    assert AerAdapter().failed_result_class(result) == "resource"
    ok = QuantumCircuit(1)
    ok.measure_all()
    assert AerAdapter().failed_result_class(AerSimulator().run(ok).result()) == "backend"


def test_run_time_is_aers_time_taken():
    qc = QuantumCircuit(1)
    qc.x(0)
    qc.measure_all()
    job = AerSimulator().run(qc, shots=10)
    result = job.result()
    times = adapter_for(job).provider_times(job, result)
    assert times.run_seconds == result.time_taken


def test_memory_exhaustion_is_resource_for_any_provider():
    # The generic rules, for a provider without an adapter of its own.
    assert classify_exception(MemoryError()) == "resource"
    assert classify_exception(RuntimeError("CUDA error: out of memory")) == "resource"
    assert classify_exception(RuntimeError("invalid circuit")) == "invalid_input"
