"""Noise parameters of a simulated backend, the calibration Target that reports them,
and the Aer noise model that actually applies them.

The two are built to agree exactly: ``NoiseModel.from_backend`` on the reported
Target yields the same channels as :func:`build_noise_model` on the same parameters
(depolarizing gate errors, symmetric readout errors, T1/T2 relaxation on delays).
Gate durations are deliberately not reported: relaxation *during* gates would make
every noise-model conversion several times slower, and T1/T2 are observable where
the suite looks for them, on explicit idle delays.
"""

from __future__ import annotations

from qiskit.circuit import Delay, Measure, Parameter, Reset
from qiskit.circuit.library import CXGate, IGate, RZGate, SXGate, XGate
from qiskit.transpiler import InstructionProperties, QubitProperties, Target
from qiskit_aer.noise import NoiseModel, ReadoutError, depolarizing_error
from qiskit_aer.noise.passes import RelaxationNoisePass

from qsre.sim.noise_params import NoiseParams

DT_SECONDS = 1e-9  # sample time reported by the sim; delays are converted to it
ONE_QUBIT_GATES: tuple[str, ...] = ("sx", "x", "id")
BASIS_GATES: tuple[str, ...] = ("rz", "sx", "x", "id", "cx", "measure", "delay", "reset")


def coupling_edges(num_qubits: int) -> list[tuple[int, int]]:
    """A line, both directions: the simplest topology that still needs routing."""
    forward = [(i, i + 1) for i in range(num_qubits - 1)]
    return forward + [(b, a) for a, b in forward]


def build_target(params: NoiseParams, num_qubits: int) -> Target:
    """The calibration a backend reports: per-instruction error rates and T1/T2."""
    target = Target(
        num_qubits=num_qubits,
        dt=DT_SECONDS,
        qubit_properties=[
            QubitProperties(t1=params.t1_us * 1e-6, t2=params.effective_t2_us * 1e-6)
            for _ in range(num_qubits)
        ],
    )
    qubits = [(q,) for q in range(num_qubits)]
    target.add_instruction(
        RZGate(Parameter("theta")), {q: InstructionProperties(error=0.0) for q in qubits}
    )
    for gate in (SXGate(), XGate(), IGate()):
        target.add_instruction(
            gate, {q: InstructionProperties(error=params.sq_error) for q in qubits}
        )
    target.add_instruction(
        CXGate(),
        {e: InstructionProperties(error=params.cx_error) for e in coupling_edges(num_qubits)},
    )
    target.add_instruction(
        Measure(), {q: InstructionProperties(error=params.readout_error) for q in qubits}
    )
    target.add_instruction(Delay(Parameter("t")), {q: None for q in qubits})
    target.add_instruction(Reset(), {q: None for q in qubits})
    return target


def _depolarizing_param(error: float, num_qubits: int) -> float:
    # Same conversion as qiskit_aer's _device_depolarizing_error without relaxation:
    # average infidelity e of a depolarizing channel with parameter p is p (d-1)/d.
    dim = 2**num_qubits
    error = min(error, dim / (dim + 1))
    return min(dim * error / (dim - 1), 4**num_qubits / (4**num_qubits - 1))


def build_noise_model(params: NoiseParams, num_qubits: int) -> NoiseModel:
    """The noise actually applied; all-qubit errors keep Aer's per-run overhead small."""
    model = NoiseModel(basis_gates=list(BASIS_GATES))
    if params.sq_error > 0:
        model.add_all_qubit_quantum_error(
            depolarizing_error(_depolarizing_param(params.sq_error, 1), 1), list(ONE_QUBIT_GATES)
        )
    if params.cx_error > 0:
        model.add_all_qubit_quantum_error(
            depolarizing_error(_depolarizing_param(params.cx_error, 2), 2), ["cx"]
        )
    if params.readout_error > 0:
        r = params.readout_error
        model.add_all_qubit_readout_error(ReadoutError([[1 - r, r], [r, 1 - r]]))
    # Aer has no public hook for delay noise; from_backend appends this very pass to the
    # same private list, which is what keeps prediction and actual identical.
    model._custom_noise_passes.append(
        RelaxationNoisePass(
            t1s=[params.t1_us * 1e-6] * num_qubits,
            t2s=[params.effective_t2_us * 1e-6] * num_qubits,
            dt=DT_SECONDS,
            op_types=Delay,
            excited_state_populations=[0.0] * num_qubits,
        )
    )
    return model
