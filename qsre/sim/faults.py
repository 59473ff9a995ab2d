"""What injected faults do to circuits and results."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TypeVar

from qiskit import QuantumCircuit
from qiskit.result import Result

from qsre.sim.config import (
    AuthFault,
    CorruptResultFault,
    FirmwareBugFault,
    OutageFault,
    OutOfMemoryFault,
    QueueDelayFault,
    TransientFault,
)

Fault = (
    QueueDelayFault
    | TransientFault
    | AuthFault
    | OutageFault
    | FirmwareBugFault
    | CorruptResultFault
    | OutOfMemoryFault
)
F = TypeVar("F")


def active(faults: Iterable[Fault], kind: type[F], when: datetime) -> list[F]:
    """Faults of one kind whose window contains ``when``."""
    return [f for f in faults if isinstance(f, kind) and f.active(when)]  # type: ignore[union-attr]


def firmware_affects(bug: FirmwareBugFault, circuit: QuantumCircuit) -> bool:
    return circuit.count_ops().get(bug.gate, 0) >= bug.min_gate_count


def apply_firmware_bug(bug: FirmwareBugFault, circuit: QuantumCircuit) -> QuantumCircuit:
    """The circuit the faulty firmware really plays: an RX after every trigger gate,
    on the gate's last qubit (the CX target). The reported calibration knows nothing."""
    out = circuit.copy_empty_like()
    for inst in circuit.data:
        out.append(inst)
        if inst.operation.name == bug.gate:
            out.rx(bug.rotation_rad, inst.qubits[-1])
    return out


def corrupt_result(result: Result, mode: str) -> Result:
    """A copy of ``result`` whose counts fail validation the way ``mode`` says."""
    data = result.to_dict()
    for exp in data["results"]:
        counts: dict[str, int] = exp["data"].get("counts", {})
        if mode == "drop_shots" and counts:
            # Lose about a tenth of the shots, as a truncated readout buffer would.
            victim = max(counts, key=counts.get)  # type: ignore[arg-type]
            lost = max(1, counts[victim] // 10)
            counts[victim] -= lost
            if "memory" in exp["data"]:
                exp["data"]["memory"] = exp["data"]["memory"][:-lost]
        elif mode == "wrong_width":
            header = exp["header"]
            header["memory_slots"] = header.get("memory_slots", 0) + 1
            if header.get("creg_sizes"):
                header["creg_sizes"][-1][1] += 1
    return Result.from_dict(data)
