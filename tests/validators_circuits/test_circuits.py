from __future__ import annotations

import numpy as np
import pytest
from qiskit import transpile
from qiskit_aer import AerSimulator

from collector.clock import VirtualClock
from qsre.sim.backend import SimBackend
from validators.circuits import (
    DEFAULT_CIRCUITS,
    SuiteConfig,
    SuiteConfigError,
    build_suite,
)
from validators.reference import ideal_distribution, transpile_reference

from .conftest import g_test_pvalue


@pytest.fixture(scope="module")
def suite():
    return {r.name: r for r in build_suite({}, 5)}


def test_default_suite_has_every_family_and_ideal_sums_to_one(suite) -> None:
    assert set(suite) == set(DEFAULT_CIRCUITS)
    assert len({r.family for r in suite.values()}) >= 7
    for ref in suite.values():
        probs = ideal_distribution(ref)
        assert sum(probs.values()) == pytest.approx(1.0, abs=1e-9), ref.name
        assert all(len(k) == ref.num_clbits for k in probs)
        assert ref.sensitive_to


def test_known_answers(suite) -> None:
    assert suite["readout_0"].known_answer == "00000"
    assert suite["readout_1"].known_answer == "11111"
    assert suite["idle"].known_answer == "1"
    bv = suite["bv"]
    assert bv.known_answer == dict(bv.params)["secret"]
    mirror = suite["mirror"]
    frame = dict(mirror.params)["frame"]
    assert mirror.known_answer == frame and "1" in frame  # Pauli frame: not all zeros
    assert set(suite["bell"].ideal_probabilities) == {"00", "11"}
    assert suite["ghz"].ideal_probabilities == pytest.approx({"000": 0.5, "111": 0.5})


def test_ideal_matches_sampled_noiseless_simulation(suite) -> None:
    sim = AerSimulator(seed_simulator=7)
    for ref in suite.values():
        counts = sim.run(ref.build(), shots=4000, seed_simulator=7).result().get_counts()
        assert g_test_pvalue(counts, ref.ideal_probabilities) > 1e-3, (ref.name, counts)


def test_bv_secret_and_mirror_are_seeded_and_configurable() -> None:
    a = build_suite({"circuits": ["mirror"], "seed": 1}, 5)[0]
    b = build_suite({"circuits": ["mirror"], "seed": 1}, 5)[0]
    c = build_suite({"circuits": ["mirror"], "seed": 2}, 5)[0]
    assert a.build() == b.build() and a.key == b.key
    assert a.key != c.key
    bv = build_suite({"circuits": [{"kind": "bv", "secret": "1011", "width": 5}]}, 5)[0]
    assert bv.known_answer == "1011"
    counts = AerSimulator().run(bv.build(), shots=100).result().get_counts()
    assert counts == {"1011": 100}


def test_quantum_volume_heavy_output_probability_above_two_thirds() -> None:
    hops = []
    for seed in range(12):
        (qv,) = build_suite({"circuits": [{"kind": "qv", "width": 4}], "seed": seed}, 5)
        assert qv.heavy_set and len(qv.heavy_set) == 8  # half of 16 outputs
        hops.append(qv.heavy_output_probability(qv.ideal_probabilities))
    assert np.mean(hops) > 2 / 3


def test_layout_is_honoured_on_a_backend() -> None:
    backend = SimBackend("layout-check", 5, clock=VirtualClock())
    refs = build_suite({"circuits": ["bell", "idle", "ghz"], "layout": [4, 3, 2]}, 5)
    by_name = {r.name: r for r in refs}
    assert by_name["bell"].layout == (4, 3)
    assert by_name["idle"].layout == (4,)
    for ref in refs:
        compiled = transpile_reference(ref, backend)
        measured = {
            compiled.find_bit(i.qubits[0]).index
            for i in compiled.data
            if i.operation.name == "measure"
        }
        assert measured == set(ref.layout), ref.name


def test_transpilation_keeps_mirror_structure_and_delays(suite) -> None:
    backend = SimBackend("structure-check", 5, clock=VirtualClock())
    mirror = transpile_reference(suite["mirror"], backend)
    logical = suite["mirror"].build()
    assert mirror.count_ops()["barrier"] == logical.count_ops()["barrier"]
    # Layers and their inverses were not cancelled away.
    assert mirror.count_ops().get("cx", 0) >= logical.count_ops()["cx"]
    idle = transpile(suite["idle"].build(), backend, initial_layout=[2], optimization_level=1)
    delays = [i for i in idle.data if i.operation.name == "delay"]
    assert len(delays) == 1 and delays[0].operation.duration == 40_000  # 40 us in 1 ns dt
    noiseless = AerSimulator().run(mirror, shots=200).result().get_counts()
    assert noiseless == {suite["mirror"].known_answer: 200}


@pytest.mark.parametrize(
    ("config", "field", "expected"),
    [
        ({"circuits": ["bell", "nope"]}, "circuits[1].kind", "unknown circuit"),
        ({"layout": [0, 7]}, "layout", "0..4"),
        ({"circuits": [{"kind": "ghz", "layout": [1, 1, 2]}]}, "circuits[0].layout", "distinct"),
        ({"circuits": ["bell", "bell"]}, "circuits[1].label", "unique"),
        (
            {"circuits": [{"kind": "ghz", "width": 4}], "layout": [0, 1]},
            "circuits[0].layout",
            "at least 4",
        ),
        ({"circuits": [{"kind": "ghz", "secret": "01"}]}, "circuits[0].secret", "only for bv"),
        ({"shots": 0}, "shots", "greater than or equal to 1"),
        ({"circuits": ["bell"], "colour": "red"}, "colour", "Extra inputs"),
    ],
)
def test_config_errors_name_the_field(config, field, expected) -> None:
    with pytest.raises(SuiteConfigError) as info:
        build_suite(config, 5)
    assert info.value.field == field
    assert expected in str(info.value)


def test_suite_config_model_is_reusable() -> None:
    config = SuiteConfig.model_validate(
        {"circuits": ["bell", {"kind": "ghz", "label": "ghz4", "width": 4}], "shots": 4000}
    )
    refs = build_suite(config, 5)
    assert [r.name for r in refs] == ["bell", "ghz4"]
    assert all(r.shots == 4000 for r in refs)
    assert refs[1].layout == (0, 1, 2, 3)
