"""What readout mitigation adds to one validation suite run, and what mthree's own
calibration would have cost instead.

Prints ONE JSON object:

- ``suite_run_ms``: median wall time of ``ValidationRunner.run`` (8 reference
  circuits, 2000 shots each) on FakeManilaV2 (qiskit-ibm-runtime's 5-qubit snapshot,
  asymmetric readout in ``properties()``), mitigation included;
- ``mitigation_ms``: median of the runner's mitigation step alone for that run
  (read the reported readout calibration + mthree on all 8 circuits), warm (the
  mitigator cached for the calibration) and cold (first run: mitigator built);
- ``calibration_read_ms``: reading the reported readout calibration of FakeBrisbane
  (127 qubits): the part that grows with the device;
- ``fidelity``: mean raw vs mitigated fidelity per circuit over the runs;
- ``self_calibration``: mthree's ``cals_from_system`` (balanced, its hardware
  default) on the 5 measured qubits of the same backend (what we avoid): jobs,
  circuits, shots and wall time on the simulator (on hardware: queue time plus those
  shots, every time the calibration is refreshed).

Run: .venv/bin/python bench/mitigation_overhead.py [runs]
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import mthree  # noqa: E402
from qiskit_ibm_runtime.fake_provider import FakeBrisbane, FakeManilaV2  # noqa: E402

from collector.clock import SystemClock  # noqa: E402
from validators import mitigation  # noqa: E402
from validators.runner import ValidationRunner  # noqa: E402
from validators.store import ValidationStore  # noqa: E402


def main(runs: int) -> dict[str, object]:
    backend = FakeManilaV2()
    tmp = Path(tempfile.mkdtemp(prefix="qsre-bench-"))
    runner = ValidationRunner(ValidationStore(f"sqlite:///{tmp / 'bench.db'}"), clock=SystemClock())
    step_ms: list[float] = []
    original = runner._mitigate

    def timed(*args: object, **kwargs: object) -> object:
        t = time.perf_counter()
        out = original(*args, **kwargs)  # type: ignore[arg-type]
        step_ms.append((time.perf_counter() - t) * 1e3)
        return out

    runner._mitigate = timed  # type: ignore[method-assign]
    run_ms: list[float] = []
    raw: dict[str, list[float]] = {}
    mitigated: dict[str, list[float]] = {}
    for i in range(runs):
        backend.set_options(seed_simulator=1000 + i)
        t = time.perf_counter()
        report = runner.run(backend)
        run_ms.append((time.perf_counter() - t) * 1e3)
        for row in report.rows:
            if row.fidelity is not None and row.fidelity_mitigated is not None:
                raw.setdefault(row.circuit, []).append(row.fidelity)
                mitigated.setdefault(row.circuit, []).append(row.fidelity_mitigated)

    big = FakeBrisbane()
    big.properties()  # the fake builds its properties object once; time the steady state
    reads = []
    for _ in range(5):
        t = time.perf_counter()
        mitigation.readout_calibration(big)
        reads.append((time.perf_counter() - t) * 1e3)

    qubits = [0, 1, 2, 3, 4]
    submitted = {"jobs": 0, "circuits": 0, "shots": 0}
    inner_run = backend.run

    def counting_run(circuits: object, **options: object) -> object:
        n = len(circuits) if isinstance(circuits, list) else 1
        submitted["jobs"] += 1
        submitted["circuits"] += n
        submitted["shots"] += n * int(options.get("shots", 0) or 0)  # type: ignore[call-overload]
        return inner_run(circuits, **options)

    backend.run = counting_run  # type: ignore[method-assign]
    m3 = mthree.M3Mitigation(backend)
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # "balanced" is what mthree uses on hardware (on a simulator it picks
        # "independent": 2 circuits x 10 000 shots per qubit); wait for the jobs.
        m3.cals_from_system(qubits, method="balanced", async_cal=False)
    self_cal_ms = (time.perf_counter() - t) * 1e3
    backend.run = inner_run  # type: ignore[method-assign]
    return {
        "backend": backend.name,
        "runs": runs,
        "suite_run_ms": statistics.median(run_ms),
        "mitigation_ms": {"cold": step_ms[0], "warm_median": statistics.median(step_ms[1:])},
        "mitigation_share_of_run": statistics.median(step_ms[1:]) / statistics.median(run_ms),
        "calibration_read_ms": {"backend": big.name, "median": statistics.median(reads)},
        "fidelity": {
            c: {"raw": statistics.fmean(raw[c]), "mitigated": statistics.fmean(mitigated[c])}
            for c in sorted(raw)
        },
        "self_calibration": {
            "method": m3.cal_method,
            "submitted": submitted,
            "wall_ms_on_simulator": self_cal_ms,
            "suite_shots_for_comparison": sum(r.shots for r in report.rows),
        },
    }


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]) if len(sys.argv) > 1 else 10), indent=2))
