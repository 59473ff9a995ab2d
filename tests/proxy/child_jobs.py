"""A user process for crash/concurrency tests: runs proxied Aer jobs and prints
``DONE <qsre id>`` after each ``result()`` returns."""

from __future__ import annotations

import sys

from qiskit import QuantumCircuit
from qiskit_aer import AerSimulator

from collector import Store
from collector.proxy import ExecutionProxy
from collector.recorder import SpoolRecorder


def main() -> None:
    url, spool_dir, n_jobs, qubits, shots = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:6])
    store = Store(url)
    recorder = SpoolRecorder(store, spool_dir)
    proxy = ExecutionProxy(AerSimulator(), store=store, recorder=recorder, project="child")
    qc = QuantumCircuit(qubits)
    qc.h(0)
    for q in range(1, qubits):
        qc.cx(0, q)
    qc.measure_all()
    print("READY", flush=True)
    for _ in range(n_jobs):
        job = proxy.run(qc, shots=shots)
        job.result()
        print(f"DONE {job.qsre_job_id}", flush=True)
    recorder.close()
    print("EXIT", flush=True)


if __name__ == "__main__":
    main()
