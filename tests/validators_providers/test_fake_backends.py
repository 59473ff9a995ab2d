"""A backend simulated from its own calibration is never DIVERGED.

Every qiskit-ibm-runtime fake backend of <= 27 qubits, plus FakeBrisbane and
FakeSherbrooke (127), 10 suite runs each at the default divergence settings of
``qsre validate`` (the embedded default config: alpha 0.0001 per run across the
suite, min_effect_tvd 0.04). The counts come from each fake backend's own ``run()``
(its noise model built from its ``properties()``); the predictions from
``validators.reference``. At the library's looser ``DivergenceConfig()`` (alpha
0.002, min_effect_tvd 0.03) shot noise alone may alarm up to 0.002 of runs by
design; the sweep bounds that rate too.

The sweep submits a backend's 10 runs as one job of 10 copies of the compiled suite
(seeded), and judges each copy as one run with ``check_divergence``, as the runner
does: one job instead of 10 saves the fake backend's per-job cost, which at 127
qubits is ~1 s. The runner's own path (proxy, store, verdicts) is exercised on
FakeManilaV2 below and in test_sampler_path.
"""

from __future__ import annotations

import warnings

import pytest
import rustworkx as rx
from qiskit_ibm_runtime.fake_provider import (
    FakeCairoV2,
    FakeManilaV2,
    FakeProviderForBackendV2,
)

from collector.calibration import calibration_timestamp
from qsre.config import EMBEDDED_DEFAULT, load_config
from validators.circuits import DEFAULT_CIRCUITS, build_suite
from validators.drift import DivergenceConfig, check_divergence
from validators.reference import (
    calibration_fingerprint,
    predicted_distribution,
    transpile_reference,
)
from validators.runner import ValidationRunner
from validators.verdict import Verdict

RUNS = 10  # 20 found the same; the simulation is 3/4 of this test's time
SEED = 20261206
BIG = ("fake_brisbane", "fake_sherbrooke")
ONE_QUBIT_SUITE = [{"kind": "mirror", "width": 1}, "readout_0", "readout_1", "idle"]


def sweep_layout(backend) -> list[int]:
    """The first (up to) 5 usable qubits: in the largest connected part of the
    coupling map, and with T2 <= 2*T1 in the snapshot. Two fake backends need this
    (library data, not qsre): fake_cairo's qubit 0 has no two-qubit gate, and its
    qubits 0, 3, 16, 25 (fake_brisbane's 102, 119) report T2 > 2*T1, which the fake
    backend's own run() rejects (Aer NoiseError) for any circuit on them."""
    props = backend.properties()
    qubits = range(backend.num_qubits)
    cmap = backend.coupling_map
    if cmap is not None and backend.num_qubits > 1 and not cmap.is_connected():
        # CouplingMap.connected_components() renumbers each part from 0: ask the graph.
        qubits = sorted(max(rx.weakly_connected_components(cmap.graph), key=len))
    usable = [q for q in qubits if props.t2(q) <= 2 * props.t1(q)]
    return usable[: min(5, backend.num_qubits)]


def sweep_suite(backend):
    circuits = list(DEFAULT_CIRCUITS) if backend.num_qubits >= 2 else ONE_QUBIT_SUITE
    return build_suite({"circuits": circuits, "layout": sweep_layout(backend)}, backend.num_qubits)


def default_divergence_config() -> DivergenceConfig:
    """What ``qsre validate`` uses when the config file says nothing else."""
    return load_config(EMBEDDED_DEFAULT).file.validation.detector_configs()[1]


def false_divergences(
    backend, configs: dict[str, DivergenceConfig], runs: int = RUNS
) -> tuple[dict[str, list[int]], float]:
    """Per config, the indices of the runs judged DIVERGED; and the largest TVD to
    the prediction over all runs and circuits."""
    suite = sweep_suite(backend)
    compiled = [transpile_reference(ref, backend) for ref in suite]
    at, fingerprint = calibration_timestamp(backend), calibration_fingerprint(backend)
    predictions = {ref.name: predicted_distribution(ref, backend, at, fingerprint) for ref in suite}
    assert all(p is not None for p in predictions.values()), backend.name
    (shots,) = {ref.shots for ref in suite}
    backend.set_options(seed_simulator=SEED)
    result = backend.run(compiled * runs, shots=shots).result()
    diverged: dict[str, list[int]] = {name: [] for name in configs}
    max_tvd = 0.0
    for run in range(runs):
        counts = {ref.name: result.get_counts(run * len(suite) + i) for i, ref in enumerate(suite)}
        for name, config in configs.items():
            outcome = check_divergence(counts, predictions, config)
            assert outcome.verdict != Verdict.NOT_EVALUATED, backend.name
            max_tvd = max([max_tvd, *(c.tvd for c in outcome.circuits if c.tvd is not None)])
            if outcome.verdict == Verdict.DIVERGED:
                diverged[name].append(run)
    return diverged, max_tvd


@pytest.mark.slow
def test_no_fake_backend_diverges_from_its_own_calibration():
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning)  # fake_nighthawk's notice
        # Classes, not the provider's instances: each backend is built, swept and
        # dropped in turn (a fake backend keeps its simulator and noise model).
        classes = [
            type(b)
            for b in FakeProviderForBackendV2().backends()
            if b.num_qubits <= 27 or b.name in BIG
        ]
    assert len(classes) == 42 + len(BIG)
    configs = {"qsre validate": default_divergence_config(), "library": DivergenceConfig()}
    assert configs["qsre validate"] != configs["library"]
    found: dict[str, dict[str, tuple[list[int], float]]] = {name: {} for name in configs}
    for cls in classes:
        backend = cls()
        diverged, max_tvd = false_divergences(backend, configs)
        for name, runs in diverged.items():
            if runs:
                found[name][backend.name] = (runs, round(max_tvd, 4))
    assert not found["qsre validate"], (
        f"DIVERGED on its own calibration (runs, max TVD): {found['qsre validate']}"
    )
    # Library defaults: shot noise alone may alarm up to alpha = 0.002 of runs, about
    # 0.9 of these 440; 5 or more has probability ~0.2 % (Poisson 0.88). (With 20
    # runs per backend and these seeds there was one: fake_quito run 11, bell
    # p = 1.1e-4, TVD 0.049, prediction exact.)
    alarms = sum(len(runs) for runs, _ in found["library"].values())
    assert alarms <= 4, found["library"]


def test_cut_off_layout_qubit_is_an_error_row_not_a_crash(store, recorder):
    """fake_cairo's qubit 0 has no two-qubit gate: circuits that entangle it cannot be
    compiled on the default layout 0-4. Those are error rows; the others still run."""
    backend = FakeCairoV2()
    report = ValidationRunner(
        store, {"circuits": ["bell", "readout_0", "idle"]}, recorder=recorder
    ).run(backend)
    rows = {row.circuit: row for row in report.rows}
    assert rows["bell"].verdict == "error"
    assert rows["bell"].evidence["stage"] == "compile"
    assert "disconnected" in rows["bell"].evidence["error"]
    assert recorder.flush(30)
    (job,) = store.jobs(purpose="validation")
    assert job.tags["circuits"] == "readout_0,idle"
    # They reached the backend, whose own run() rejects its snapshot's T2 > 2*T1 on
    # qubits 0 and 3 (a library data problem the sweep's layout steers around).
    for name in ("readout_0", "idle"):
        assert rows[name].verdict == "error" and rows[name].evidence["stage"] == "result"
        assert "T_2 greater than 2 * T_1" in rows[name].evidence["error"]


def test_manila_through_the_runner_is_ok_run_after_run(store, recorder):
    """The end-to-end path: FakeManilaV2 was DIVERGED on its first run when the
    prediction used the Target's symmetric readout (TVD 0.05-0.06 on ghz and the
    readout circuits)."""
    backend = FakeManilaV2()
    runner = ValidationRunner(store, recorder=recorder)
    for run in range(3):
        backend.set_options(seed_simulator=SEED + run)
        report = runner.run(backend)
        assert report.diverged is False, report.to_dict()
        assert all(row.divergence_tvd < 0.04 for row in report.rows)
        assert len({row.job_id for row in report.rows}) == 1
