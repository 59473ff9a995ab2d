"""`qsre validate` on FakeBrisbane (127 qubits): wall time and peak memory.

Prints ONE JSON object. Every measurement runs in a fresh child process, timed by
this parent from spawn to exit, its peak resident memory read from the child's own
rusage (``os.wait4``): what a user typing the command pays, imports included.

- ``qsre_validate``: ``qsre validate --backend-factory
  qiskit_ibm_runtime.fake_provider:FakeBrisbane --json`` on the embedded default
  config (8 circuits, 2000 shots, one job per suite run), a fresh SQLite store each
  time; median of ``REPEATS``. Targets: 10 s and 300 MB.
- ``qsre_validate_per_circuit_jobs``: the same with ``validation.jobs: per_circuit``
  (one job per circuit, what qsre did before).
- ``backend_alone``: no qsre at all: import qiskit-ibm-runtime, build FakeBrisbane,
  compile the same 8 circuits and run them in one job. The floor set by the fake
  backend itself, whose first ``run()`` builds its whole 127-qubit noise model.
- ``prediction``: the 8 predictions, old way (``NoiseModel.from_backend``, the
  Target's symmetric readout, density matrix over the whole device's model) vs new
  (``validators.reference.predicted_distribution``: ``properties()``, restricted to
  the qubits used), each in its own process; ``speedup`` = old / new seconds.

Run: .venv/bin/python bench/validate_brisbane.py
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FACTORY = "qiskit_ibm_runtime.fake_provider:FakeBrisbane"
TARGET_WALL_S = 10.0
TARGET_RSS_MB = 300.0
REPEATS = 3

# Child programs. Each prints one JSON line on stdout.
BACKEND_ALONE = """
import json, time
start = time.perf_counter()
from qiskit_ibm_runtime.fake_provider import FakeBrisbane
from validators.circuits import SuiteConfig, build_suite
from validators.reference import transpile_reference
backend = FakeBrisbane()
suite = build_suite(SuiteConfig(), backend.num_qubits)
compiled = [transpile_reference(ref, backend) for ref in suite]
backend.run(compiled, shots=2000).result()
print(json.dumps({"in_process_s": time.perf_counter() - start}))
"""

PREDICT = """
import json, sys, time
import numpy as np
from qiskit_aer import AerSimulator
from qiskit_aer.noise import NoiseModel
from qiskit_ibm_runtime.fake_provider import FakeBrisbane
from collector.calibration import calibration_timestamp
from validators import reference
from validators.circuits import SuiteConfig, build_suite

backend = FakeBrisbane()
suite = build_suite(SuiteConfig(), backend.num_qubits)
for ref in suite:
    reference.transpile_reference(ref, backend)  # compile outside the timed part
at = calibration_timestamp(backend)


def old_way():
    # validators/reference.py before this change: the whole device's model from the
    # Target, simulated over the compiled (127-qubit) circuit.
    model = NoiseModel.from_backend(backend)
    sim = AerSimulator(method="density_matrix", noise_model=model, max_parallel_threads=1)
    for ref in suite:
        body, qubits = reference._split_final_measurements(
            reference.transpile_reference(ref, backend)
        )
        body.save_probabilities(qubits)
        np.asarray(sim.run(body, shots=1).result().data(0)["probabilities"])


def new_way():
    fingerprint = reference.calibration_fingerprint(backend)
    for ref in suite:
        reference.predicted_distribution(ref, backend, at, fingerprint)


start = time.perf_counter()
{"old": old_way, "new": new_way}[sys.argv[1]]()
print(json.dumps({"seconds": time.perf_counter() - start}))
"""


def run_child(argv: list[str], cwd: str) -> dict:
    """Run ``argv``; wall seconds, peak RSS (MB) and stdout of that child alone."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    proc = subprocess.Popen(
        argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    # Read the pipes before reaping: a child blocked on a full pipe never exits.
    stdout, stderr = proc.stdout.read(), proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{argv[:4]} exited {proc.returncode}: {stderr[-2000:]}")
    return {"wall_s": wall, "peak_rss_mb": usage.ru_maxrss / 1024, "stdout": stdout}


def qsre_validate(config_text: str | None) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        if config_text is not None:
            Path(tmp, "qsre.yaml").write_text(config_text)
        out = run_child(
            [
                sys.executable,
                "-c",
                "import sys; from qsre.cli import main; sys.argv[0] = 'qsre'; main()",
                "validate",
                "--backend",
                "fake_brisbane",
                "--backend-factory",
                FACTORY,
                "--db",
                f"sqlite:///{tmp}/qsre.db",
                "--json",
            ],
            tmp,
        )
    report = json.loads(out.pop("stdout"))
    out["verdict"] = report["verdict"]
    out["circuits"] = len(report["circuits"])
    out["jobs"] = len({c["job_id"] for c in report["circuits"]})
    out["max_divergence_tvd"] = max(c["divergence_tvd"] or 0.0 for c in report["circuits"])
    return out


def summary(runs: list[dict]) -> dict:
    walls = [r["wall_s"] for r in runs]
    rss = [r["peak_rss_mb"] for r in runs]
    return {
        "wall_s": round(statistics.median(walls), 2),
        "wall_s_all": [round(w, 2) for w in walls],
        "peak_rss_mb": round(statistics.median(rss), 1),
        "peak_rss_mb_all": [round(m, 1) for m in rss],
        "verdicts": sorted({r["verdict"] for r in runs}),
        "circuits": runs[0]["circuits"],
        "jobs": runs[0]["jobs"],
        "max_divergence_tvd": round(max(r["max_divergence_tvd"] for r in runs), 4),
    }


def main() -> None:
    new = summary([qsre_validate(None) for _ in range(REPEATS)])
    new["meets_wall_target"] = new["wall_s"] <= TARGET_WALL_S
    new["meets_rss_target"] = new["peak_rss_mb"] <= TARGET_RSS_MB
    per_circuit = summary([qsre_validate("validation:\n  jobs: per_circuit\n")])

    with tempfile.TemporaryDirectory() as tmp:
        alone = run_child([sys.executable, "-c", BACKEND_ALONE], tmp)
        alone_in = json.loads(alone.pop("stdout"))
        preds = {}
        for way in ("old", "new"):
            child = run_child([sys.executable, "-c", PREDICT, way], tmp)
            preds[way] = {
                "seconds": json.loads(child["stdout"])["seconds"],
                "peak_rss_mb": child["peak_rss_mb"],
            }

    print(
        json.dumps(
            {
                "backend": "fake_brisbane (127 qubits)",
                "cpus": os.cpu_count(),
                "load_avg_1m_at_end": round(os.getloadavg()[0], 2),
                "targets": {"wall_s": TARGET_WALL_S, "peak_rss_mb": TARGET_RSS_MB},
                "qsre_validate": new,
                "qsre_validate_per_circuit_jobs": per_circuit,
                "backend_alone": {
                    "wall_s": round(alone["wall_s"], 2),
                    "in_process_s": round(alone_in["in_process_s"], 2),
                    "peak_rss_mb": round(alone["peak_rss_mb"], 1),
                },
                "qsre_over_backend_alone": {
                    "wall_s": round(new["wall_s"] - alone["wall_s"], 2),
                    "peak_rss_mb": round(new["peak_rss_mb"] - alone["peak_rss_mb"], 1),
                },
                "prediction": {
                    "old_s": round(preds["old"]["seconds"], 2),
                    "new_s": round(preds["new"]["seconds"], 3),
                    "speedup": round(preds["old"]["seconds"] / preds["new"]["seconds"], 1),
                    "old_peak_rss_mb": round(preds["old"]["peak_rss_mb"], 1),
                    "new_peak_rss_mb": round(preds["new"]["peak_rss_mb"], 1),
                    "peak_rss_ratio": round(
                        preds["old"]["peak_rss_mb"] / preds["new"]["peak_rss_mb"], 2
                    ),
                },
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
