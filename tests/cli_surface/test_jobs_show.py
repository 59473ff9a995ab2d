"""`qsre jobs` tells jobs apart and `qsre jobs show` finds one by any id a user has.

The store holds real Aer jobs recorded through the proxy by two processes, so their
qsre ids share a per-process prefix within a process and differ across them.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
from qiskit import QuantumCircuit
from qiskit_aer import AerSimulator

from collector import ExecutionProxy
from collector.ids import short_job_id
from collector.store import Store
from tests.cli_surface.conftest import REPO, qsre

RECORD_ONE = textwrap.dedent(
    """
    import sys
    from qiskit import QuantumCircuit
    from qiskit_aer import AerSimulator
    from collector import ExecutionProxy
    from collector.store import Store

    qc = QuantumCircuit(1, 1)
    qc.measure(0, 0)
    proxy = ExecutionProxy(AerSimulator(), store=Store(sys.argv[1]), project="other")
    proxy.run(qc, shots=7).result()
    """
)


def _bell() -> QuantumCircuit:
    qc = QuantumCircuit(2, 2)
    qc.h(0)
    qc.cx(0, 1)
    qc.measure([0, 1], [0, 1])
    return qc


@pytest.fixture(scope="module")
def two_process_store(tmp_path_factory):
    """(store url, {shots: (qsre id, provider id)}) for 3 jobs here and 1 in a child."""
    url = f"sqlite:///{tmp_path_factory.mktemp('jobs') / 'q.db'}"
    proxy = ExecutionProxy(AerSimulator(), store=Store(url), project="chem")
    ids = {}
    for shots in (10, 20, 30):
        job = proxy.run(_bell(), shots=shots)
        job.result()
        ids[shots] = (job.qsre_job_id, job.job_id())
    proxy.recorder.flush()  # in the store before the CLI looks
    subprocess.run(
        [sys.executable, "-c", RECORD_ONE, url],
        check=True,
        cwd=REPO,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
        timeout=120,
    )
    child = Store(url).jobs(project="other")
    assert len(child) == 1
    ids[7] = (child[0].id, child[0].provider_job_id)
    return url, ids


def show(url: str, ref: str, tmp_path) -> dict:
    result = qsre("jobs", "show", ref, "--db", url, "--json", cwd=tmp_path)
    assert result.code == 0, result.stderr
    return json.loads(result.stdout)


def test_listed_ids_tell_jobs_apart_and_each_finds_its_job(two_process_store, tmp_path):
    url, ids = two_process_store
    table = qsre("jobs", "--db", url, cwd=tmp_path)
    assert table.code == 0, table.stderr
    full = json.loads(qsre("jobs", "--db", url, "--json", cwd=tmp_path).stdout)
    by_id = {row["id"]: row for row in full}
    shown = [
        line.split("│")[1].strip()
        for line in table.stdout.splitlines()
        if line.startswith("│") and line.split("│")[1].strip()
    ]
    assert len(shown) == 4 and len(set(shown)) == 4, table.stdout
    for short in shown:
        record = show(url, short, tmp_path)
        process, counter = short.split(".")
        assert record["id"].startswith(process)
        assert int(record["id"][-12:], 16) == int(counter, 16)
        assert record["id"] in by_id


def test_listed_ids_stay_unique_across_processes(two_process_store, tmp_path):
    """Every process counts its jobs from 0: an id made of the counter alone (the
    first job of each process) would name several jobs."""
    url, ids = two_process_store
    first_here, first_child = ids[10][0], ids[7][0]
    assert first_child[-12:] == "0" * 12  # a fresh process's first job
    for qsre_id in (first_here, first_child):
        assert show(url, short_job_id(qsre_id), tmp_path)["id"] == qsre_id


def _unique_suffix(qsre_id: str, all_ids: list[str]) -> str:
    """The shortest suffix, past the 12-digit counter, that only ``qsre_id`` ends with.

    Both processes' first jobs end in the same counter, so a fixed-length suffix
    (e.g. 14 characters: one random hex digit) names both one time in sixteen."""
    for length in range(14, len(qsre_id) + 1):
        suffix = qsre_id[-length:]
        if [other for other in all_ids if other.endswith(suffix)] == [qsre_id]:
            return suffix
    raise AssertionError(f"no suffix of {qsre_id} is unique among {all_ids}")


@pytest.mark.parametrize("how", ["qsre id", "prefix", "suffix", "provider id"])
def test_show_finds_a_job_by_any_reference(two_process_store, tmp_path, how):
    url, ids = two_process_store
    qsre_id, provider_id = ids[7]  # the child's job: its 8-char prefix is unique
    ref = {
        "qsre id": qsre_id,
        "prefix": qsre_id[:8],
        "suffix": _unique_suffix(qsre_id, [other for other, _ in ids.values()]),
        "provider id": provider_id,
    }[how]
    record = show(url, ref, tmp_path)
    assert record["id"] == qsre_id
    assert record["provider_job_id"] == provider_id
    assert record["shots"] == 7 and record["project"] == "other"


def test_show_prints_the_whole_record(two_process_store, tmp_path):
    url, ids = two_process_store
    qsre_id, provider_id = ids[20]
    record = show(url, provider_id, tmp_path)
    assert record["id"] == qsre_id and record["status"] == "done"
    for field in ("submitted_at", "started_at", "finished_at", "queue_seconds", "run_seconds"):
        assert record[field] is not None, field
    assert record["attempts"] == 1 and record["cost_usd"] == 0.0
    (circuit,) = record["counts_summary"]
    assert circuit["shots"] == 20
    assert {t["bitstring"] for t in circuit["top"]} <= {"00", "11"}
    text = qsre("jobs", "show", qsre_id, "--db", url, cwd=tmp_path)
    assert text.code == 0, text.stderr
    for label in ("provider id", "queue", "end to end", "attempts", "cost", "counts #0"):
        assert label in text.stdout, label
    assert provider_id in text.stdout
    assert all(len(line) <= 80 for line in text.stdout.splitlines())


def test_ambiguous_or_unknown_reference_is_one_error(two_process_store, tmp_path):
    url, ids = two_process_store
    shared_prefix = ids[10][0][:8]  # the three jobs of this process share it
    ambiguous = qsre("jobs", "show", shared_prefix, "--db", url, cwd=tmp_path)
    assert ambiguous.code == 2
    (line,) = ambiguous.stderr.strip().splitlines()
    assert line.startswith("error: job: expected a reference matching one job")
    assert ids[10][0] in line
    unknown = qsre("jobs", "show", "does-not-exist", "--db", url, cwd=tmp_path)
    assert unknown.code == 2 and "got 'does-not-exist'" in unknown.stderr
    assert "Traceback" not in ambiguous.stderr + unknown.stderr
