from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import yaml
from pydantic import ValidationError

from collector.calibration import calibration_timestamp
from collector.clock import VirtualClock
from qsre.sim.config import FirmwareBugFault, SimBackendConfig, build_sim_backend
from qsre.sim.errors import InjectedAuthError
from qsre.sim.faults import firmware_affects
from qsre.sim.world import demo_world
from runbooks.catalog import FAILURE_MODES
from validators.circuits import build_suite
from validators.reference import predicted_distribution, transpile_reference

from .conftest import g_test_pvalue

START = datetime(2026, 1, 5, tzinfo=UTC)

YAML = """
backends:
  - name: sim-stable
    kind: sim
    num_qubits: 5
    noise: {cx_error: 0.02}
    drift:
      - {kind: step, param: readout_error, at: "+1d6h", to: 0.07}
      - {kind: ramp, param: t1_us, start: "+2d", end: "+3d", to: 60, reported: false}
    faults:
      - {kind: queue_delay, start: "+1d", end: "+1d2h", extra_queue_seconds: 900}
      - {kind: transient, start: "2026-01-07T00:00:00Z", end: "+3d", probability: 0.5, when: result}
"""


def test_yaml_config_builds_a_backend_with_offsets_resolved() -> None:
    data = yaml.safe_load(YAML)["backends"][0]
    clock = VirtualClock(START)
    backend = build_sim_backend(data, clock, start=START)
    assert backend.name == "sim-stable" and backend.num_qubits == 5
    assert backend.target["cx"][(0, 1)].error == 0.02
    assert backend.drift[0].at == START + timedelta(days=1, hours=6)
    assert backend.faults[1].start == datetime(2026, 1, 7, tzinfo=UTC)
    assert backend.faults[1].end == START + timedelta(days=3)
    clock.set(START + timedelta(days=2, hours=12))
    assert backend.actual_params().t1_us == pytest.approx(90.0)
    assert backend.reported_params().t1_us == 120.0


@pytest.mark.parametrize(
    ("patch", "path", "expected"),
    [
        ({"num_qubits": 40}, "num_qubits", "less than or equal to 12"),
        (
            {"drift": [{"kind": "step", "param": "gate_speed", "at": "+1d", "to": 1}]},
            "drift.0.step.param",
            "'sq_error'",
        ),
        (
            {"faults": [{"kind": "transient", "start": "+1x"}]},
            "faults.0.transient.start",
            "'+2d6h'",
        ),
        (
            {"faults": [{"kind": "auth", "start": "2026-01-05T00:00:00"}]},
            "faults.0.auth.start",
            "timezone-aware",
        ),
        ({"faults": [{"kind": "meteor", "start": "+1d"}]}, "faults.0", "'queue_delay'"),
        ({"noise": {"readout_error": 0.9}}, "noise.readout_error", "less than or equal to 0.5"),
        ({"colour": "red"}, "colour", "Extra inputs"),
    ],
)
def test_config_errors_name_the_field_path(patch, path, expected) -> None:
    with pytest.raises(ValidationError) as info:
        SimBackendConfig.model_validate({"name": "x", **patch})
    text = str(info.value)
    assert path in text and expected in text


def test_demo_world_backends_and_answer_key() -> None:
    clock = VirtualClock(START)
    world = demo_world(clock, START)
    assert [b.name for b in world.backends] == ["sim-stable", "sim-drifting", "sim-firmware"]
    # One fault per failure mode F1..F8, each an alert kind.
    assert sorted(f.fault for f in world.faults) == sorted(FAILURE_MODES)
    by_kind = {f.fault: f for f in world.faults}
    assert by_kind["calibration_drift"].injected_at >= START + timedelta(days=2)
    assert by_kind["simulator_divergence"].injected_at >= START + timedelta(days=4)
    assert by_kind["billing_spike"].shots_multiplier == 10.0 and by_kind["billing_spike"].project

    drifting = world.backend("sim-drifting")
    before = calibration_timestamp(drifting)
    clock.set(by_kind["calibration_drift"].injected_at)
    assert calibration_timestamp(drifting) == by_kind["calibration_drift"].injected_at != before
    assert drifting.target["cx"][(0, 1)].error == 0.035

    clock.set(by_kind["auth_failure"].injected_at)
    for backend in world.backends:
        with pytest.raises(InjectedAuthError):
            backend.run(transpile_reference(build_suite({"circuits": ["bell"]}, 5)[0], backend))


def test_demo_faults_on_one_backend_have_one_explanation_each() -> None:
    """Each alert in the demo has one explanation: faults that end never share a
    backend (account-wide ones count on every backend) at the same time, grace
    included; the ones that last (drift, firmware bug) only overlap faults whose alert
    kinds they do not explain."""
    from qsre.demo import DETECTION_GRACE, EXPLAINED_KINDS

    clock = VirtualClock(START)
    world = demo_world(clock, START)
    end_of_week = START + timedelta(days=7)
    faults = list(world.faults)
    for i, a in enumerate(faults):
        for b in faults[i + 1 :]:
            if a.backend is not None and b.backend is not None and a.backend != b.backend:
                continue
            a_end = (a.ended_at or end_of_week) + DETECTION_GRACE
            b_end = (b.ended_at or end_of_week) + DETECTION_GRACE
            if a_end <= b.injected_at or b_end <= a.injected_at:
                continue
            assert a.ended_at is None or b.ended_at is None, (a.fault, b.fault)
            assert not EXPLAINED_KINDS[a.fault] & EXPLAINED_KINDS[b.fault], (a.fault, b.fault)


def test_demo_blips_resources_and_corruption_hit_their_backend_only() -> None:
    """F3, F7 and F8 as the sim enacts them: 503s at submission, Aer's out-of-memory
    failure, counts that lose shots; on their backend, in their window."""
    from qsre.sim.errors import InjectedResourceExhausted, InjectedTransientError

    clock = VirtualClock(START)
    world = demo_world(clock, START)
    by_kind = {f.fault: f for f in world.faults}
    bell = build_suite({"circuits": ["bell"]}, 5)[0]

    blips = by_kind["network_blips"]
    clock.set(blips.injected_at)
    target = world.backend(blips.backend)
    compiled = transpile_reference(bell, target)
    failures = 0
    for _ in range(50):
        try:
            target.run(compiled, shots=100)
        except InjectedTransientError:
            failures += 1
    assert 15 <= failures <= 45
    assert blips.workload_every_minutes and blips.workload_every_minutes < 15
    for other in world.backends:
        if other.name != blips.backend:
            other.run(transpile_reference(bell, other), shots=100).result()

    oom = by_kind["resource_exhaustion"]
    clock.set(oom.injected_at)
    target = world.backend(oom.backend)
    with pytest.raises(InjectedResourceExhausted):
        target.run(transpile_reference(bell, target), shots=100).result()

    corrupt = by_kind["result_corruption"]
    clock.set(corrupt.injected_at)
    target = world.backend(corrupt.backend)
    compiled = transpile_reference(bell, target)
    totals = [
        sum(target.run(compiled, shots=1000).result().get_counts().values()) for _ in range(20)
    ]
    assert any(t < 1000 for t in totals) and any(t == 1000 for t in totals)
    assert clock.now() < oom.ended_at + timedelta(days=1)  # nothing above moved the week on


def test_demo_firmware_bug_hits_cx_heavy_circuits_after_day_5() -> None:
    clock = VirtualClock(START)
    world = demo_world(clock, START)
    firmware = world.backend("sim-firmware")
    (bug,) = [f for f in firmware.faults if isinstance(f, FirmwareBugFault)]
    (mirror,) = build_suite({"circuits": ["mirror"], "shots": 4000}, 5)
    compiled = transpile_reference(mirror, firmware)
    assert firmware_affects(bug, compiled)
    run = lambda: firmware.run(compiled, shots=4000, seed_simulator=9).result().get_counts()  # noqa: E731
    predicted = predicted_distribution(mirror, firmware, calibration_timestamp(firmware))
    assert g_test_pvalue(run(), predicted) > 1e-3  # day 1: healthy
    clock.set(bug.start + timedelta(hours=1))
    predicted = predicted_distribution(mirror, firmware, calibration_timestamp(firmware))
    assert g_test_pvalue(run(), predicted) < 1e-6
