"""A device whose readout error the test sets: GenericBackendV2 gate noise plus a chosen
(asymmetric) readout error, simulated by Aer, reporting its calibration the way IBM
devices do (``properties()`` with ``prob_meas1_prep0`` / ``prob_meas0_prep1``, and a
symmetric ``measure`` error, their mean, in the Target)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal

from qiskit.providers import BackendV2, Options
from qiskit.providers.fake_provider import GenericBackendV2
from qiskit.transpiler import InstructionProperties, Target
from qiskit_aer import AerSimulator
from qiskit_aer.noise import NoiseModel, ReadoutError

NUM_QUBITS = 5
CALIBRATED_AT = datetime(2026, 11, 16, tzinfo=UTC)
Report = Literal["properties", "target", "none"]


class ReadoutDevice(BackendV2):
    """``p1_given_0`` / ``p0_given_1``: the device's true readout error on every qubit.
    ``reported``: what it reports (default: the truth). ``report``: where it reports it
    (``properties`` = IBM style, ``target`` = the Target's symmetric measure error
    only, ``none`` = no readout calibration at all)."""

    def __init__(
        self,
        p1_given_0: float,
        p0_given_1: float,
        *,
        reported: tuple[float, float] | None = None,
        report: Report = "properties",
        seed: int = 7,
        name: str = "readout-device",
    ) -> None:
        super().__init__(name=name, backend_version="1")
        generic = GenericBackendV2(num_qubits=NUM_QUBITS, seed=seed)
        noise = NoiseModel.from_backend(generic, readout_error=False)
        if p1_given_0 or p0_given_1:
            error = ReadoutError([[1 - p1_given_0, p1_given_0], [p0_given_1, 1 - p0_given_1]])
            for q in range(NUM_QUBITS):
                noise.add_readout_error(error, [q])
        self._sim = AerSimulator.from_backend(generic, noise_model=noise)
        r10, r01 = reported if reported is not None else (p1_given_0, p0_given_1)
        self.reported = (r10, r01)
        self._report = report
        self._target: Target = generic.target
        for q in range(NUM_QUBITS):
            old = self._target["measure"][(q,)]
            error = None if report == "none" else (r10 + r01) / 2
            self._target.update_instruction_properties(
                "measure", (q,), InstructionProperties(duration=old.duration, error=error)
            )
        self.last_calibrated_at = CALIBRATED_AT

    @property
    def target(self) -> Target:
        return self._target

    @property
    def max_circuits(self) -> int | None:
        return None

    @classmethod
    def _default_options(cls) -> Options:
        return AerSimulator._default_options()

    @property
    def options(self) -> Options:
        return self._sim.options

    def set_options(self, **fields: Any) -> None:
        self._sim.set_options(**fields)

    def run(self, run_input: Any, **options: Any) -> Any:
        return self._sim.run(run_input, **options)

    def properties(self) -> Any:
        if self._report != "properties":
            return None
        from qiskit_ibm_runtime.models import BackendProperties

        stamp = CALIBRATED_AT.isoformat()
        r10, r01 = self.reported

        def nduv(name: str, value: float) -> Mapping[str, Any]:
            return {"date": stamp, "name": name, "unit": "", "value": value}

        qubits = [
            [
                nduv("prob_meas1_prep0", r10),
                nduv("prob_meas0_prep1", r01),
                nduv("readout_error", (r10 + r01) / 2),
            ]
            for _ in range(NUM_QUBITS)
        ]
        return BackendProperties.from_dict(
            {
                "backend_name": self.name,
                "backend_version": "1",
                "last_update_date": stamp,
                "qubits": qubits,
                "gates": [],
                "general": [],
            }
        )
