"""instrument_sampler records SamplerV2 runs like the BackendV2 proxy."""

from __future__ import annotations

import numpy as np
import pytest
from circuit_fixtures import bell
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit.primitives import BackendSamplerV2
from qiskit_aer import AerSimulator
from qiskit_aer.primitives import SamplerV2 as AerSamplerV2

from collector import InvalidInput, instrument_sampler
from collector.cost import Pricing


@pytest.mark.parametrize("kind", ["aer", "backend"])
def test_sampler_runs_recorded(store, recorder, kind):
    inner = AerSamplerV2() if kind == "aer" else BackendSamplerV2(backend=AerSimulator())
    sampler = instrument_sampler(
        inner, store=store, recorder=recorder, project="chem", pricing=Pricing(per_shot_usd=0.01)
    )
    res = sampler.run([bell(), bell()], shots=300).result()
    assert sum(res[0].data.meas.get_counts().values()) == 300
    recorder.flush()
    [rec] = store.jobs()
    assert (rec.status, rec.shots, rec.num_circuits, rec.project) == ("done", 300, 2, "chem")
    assert rec.cost_usd == pytest.approx(0.01 * 300 * 2)
    counts = store.counts(rec.id)
    assert (
        len(counts) == 2
        and sum(counts[1].values()) == 300
        and set(counts[1]) <= {"00", "11", "01", "10"}
    )


def test_parameter_sweep_counts_merge(store, recorder):
    theta = Parameter("t")
    qc = QuantumCircuit(1)
    qc.ry(theta, 0)
    qc.measure_all()
    sampler = instrument_sampler(AerSamplerV2(), store=store, recorder=recorder)
    sampler.run([(qc, np.array([[0.0], [np.pi]]))], shots=100).result()
    recorder.flush()
    [rec] = store.jobs()
    assert sum(store.counts(rec.id)[0].values()) == 200


def test_sampler_bad_input(store, recorder):
    sampler = instrument_sampler(AerSamplerV2(), store=store, recorder=recorder)
    with pytest.raises(InvalidInput):
        sampler.run([bell()], shots=0)
    with pytest.raises(InvalidInput):
        sampler.run(bell())
    recorder.flush()
    assert store.jobs() == []
