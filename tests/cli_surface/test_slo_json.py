"""`qsre slo status --json`: keyed by SLO name; a burn-rate window the history does not
cover yet is "incomplete", a covered window without events is null."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from qiskit import QuantumCircuit
from qiskit_aer import AerSimulator

from collector import ExecutionProxy
from collector.clock import VirtualClock
from collector.store import Store
from qsre.config import EMBEDDED_DEFAULT
from tests.cli_surface.conftest import qsre


def test_json_keyed_by_slo_with_incomplete_and_empty_windows_told_apart(tmp_path):
    url = f"sqlite:///{tmp_path / 'q.db'}"
    # One job three hours ago: windows up to 2h are covered (and empty), 6h and longer
    # reach back before the first recorded event.
    clock = VirtualClock(datetime.now(UTC) - timedelta(hours=3))
    proxy = ExecutionProxy(AerSimulator(), store=Store(url), project="chem", clock=clock)
    qc = QuantumCircuit(1, 1)
    qc.measure(0, 0)
    proxy.run(qc, shots=10).result()
    proxy.recorder.flush()  # in the store before the CLI looks

    run = qsre("slo", "status", "-c", str(EMBEDDED_DEFAULT), "--db", url, "--json", cwd=tmp_path)
    assert run.code == 0, run.stderr
    statuses = json.loads(run.stdout)
    assert isinstance(statuses, dict)
    rates = statuses["job-success"]["burn_rates"]
    assert statuses["job-success"]["name"] == "job-success"
    assert rates["1h"] is None and rates["2h"] is None
    assert rates["6h"] == "incomplete" and rates["30d"] == "incomplete"


def test_help_documents_json_values_and_at():
    run = qsre("slo", "status", "--help", cwd=EMBEDDED_DEFAULT.parent, env={"COLUMNS": "200"})
    assert run.code == 0, run.stderr
    text = " ".join(run.stdout.replace("│", " ").split())
    assert '"incomplete" means' in text and "null means" in text
    assert "without an offset is UTC" in text and "minute containing --at" in text
