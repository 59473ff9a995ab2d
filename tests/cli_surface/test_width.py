"""At 80 columns every table fits, keeps its headers whole and shows key fields whole.

Real stores: jobs recorded through the proxy on Aer, alerts routed by the real router
into the store, silences saved through the CLI; the CLI runs in a subprocess with
COLUMNS=80 as a user's terminal would set it.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from qiskit import QuantumCircuit
from qiskit_aer import AerSimulator

from collector import ExecutionProxy
from collector.clock import VirtualClock
from collector.store import Store
from qsre.cli import (
    ALERT_COLUMNS,
    JOB_TABLE_COLUMNS,
    NOTIFICATION_COLUMNS,
    SILENCE_COLUMNS,
)
from qsre.cli_slo import STATUS_COLUMNS
from qsre.config import EMBEDDED_DEFAULT
from slo.alert_state import AlertStateStore
from slo.alerts import make_alert
from slo.routing import Router, RoutingConfig
from tests.alerts.test_routing import Recorder
from tests.cli_surface.conftest import Run, qsre

CFG = str(EMBEDDED_DEFAULT)
LONG_BACKEND = "ibm_quantum_backend_with_a_long_name"
HEADERS = {
    c.header
    for cols in (
        JOB_TABLE_COLUMNS,
        ALERT_COLUMNS,
        NOTIFICATION_COLUMNS,
        SILENCE_COLUMNS,
        STATUS_COLUMNS,
    )
    for c in cols
} | {"kind", "title"}


@pytest.fixture(scope="module")
def busy_store(tmp_path_factory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('width') / 'q.db'}"
    store = Store(url)
    proxy = ExecutionProxy(AerSimulator(), store=store, project="chemistry-team")
    qc = QuantumCircuit(1, 1)
    qc.x(0)
    qc.measure(0, 0)
    for shots in (100, 200):
        proxy.run(qc, shots=shots).result()
    proxy.recorder.flush()  # in the store before the CLI looks, not when the shipper gets to it
    clock = VirtualClock(datetime(2026, 11, 16, tzinfo=UTC))
    router = Router(
        RoutingConfig(), [Recorder("console")], state=AlertStateStore(store), clock=clock
    )
    router.process(
        [
            make_alert("queue_overload", labels={"backend": LONG_BACKEND}),
            make_alert("calibration_drift", labels={"backend": LONG_BACKEND}),
        ],
        source="health",
    )
    clock.advance(60)
    assert router.flush().sent
    store.close()
    return url


def assert_fits(run: Run) -> None:
    assert run.code == 0, run.stderr
    assert "Traceback" not in run.stdout + run.stderr
    too_wide = [line for line in run.stdout.splitlines() if len(line) > 80]
    assert not too_wide, "\n".join(too_wide)
    for line in run.stdout.splitlines():
        if line.startswith("┃"):
            cells = [c.strip() for c in line.strip("┃").split("┃")]
            broken = [c for c in cells if c and c not in HEADERS]
            assert not broken, (broken, run.stdout)


def test_jobs_table_fits_80_columns(busy_store, tmp_path):
    run = qsre("jobs", "--db", busy_store, cwd=tmp_path)
    assert_fits(run)
    assert "--wide" in run.stdout  # says which columns it hid


def test_jobs_wide_shows_every_column(busy_store, tmp_path):
    run = qsre("jobs", "--db", busy_store, "--wide", cwd=tmp_path)
    assert run.code == 0, run.stderr
    header = next(line for line in run.stdout.splitlines() if line.startswith("┃"))
    assert all(c.header in header for c in JOB_TABLE_COLUMNS), header
    assert "chemistry-team" in run.stdout


def test_slo_status_takes_at_most_two_lines_per_slo(busy_store, tmp_path):
    run = qsre("slo", "status", "-c", CFG, "--db", busy_store, cwd=tmp_path)
    assert_fits(run)
    body = [line for line in run.stdout.splitlines() if line.startswith("│")]
    names = [line.split("│")[1].strip() for line in body[::2]]
    assert len(names) >= 6
    assert len(body) <= 2 * len(names), run.stdout
    assert "job-success" in names and "queue-latency" in names


def test_alerts_show_names_and_backends_whole(busy_store, tmp_path):
    run = qsre("alerts", "--db", busy_store, cwd=tmp_path)
    assert_fits(run)
    for whole in ("QsreQueueOverload", "QsreCalibrationDrift", LONG_BACKEND):
        assert whole in run.stdout, (whole, run.stdout)


def test_silence_list_fits(busy_store, tmp_path):
    added = qsre(
        "silence",
        "add",
        "--db",
        busy_store,
        "-m",
        f"backend={LONG_BACKEND}",
        "-m",
        "alertname=~Qsre.*",
        "--comment",
        "planned maintenance of the whole fleet",
        cwd=tmp_path,
    )
    assert added.code == 0, added.stderr
    run = qsre("silence", "list", "--db", busy_store, cwd=tmp_path)
    assert_fits(run)
    assert f'backend="{LONG_BACKEND}"' in run.stdout


def test_runbook_list_fits(tmp_path):
    run = qsre("runbook", "list", cwd=tmp_path)
    assert_fits(run)
    assert "notifications_failing" in run.stdout


@pytest.mark.parametrize(
    "args",
    [
        ("--help",),
        ("jobs", "--help"),
        ("jobs", "show", "--help"),
        ("slo", "status", "--help"),
        ("alerts", "--help"),
        ("silence", "add", "--help"),
        ("validate", "--help"),
    ],
)
def test_help_fits(args, tmp_path):
    run = qsre(*args, cwd=tmp_path)
    assert run.code == 0, run.stderr
    assert all(len(line) <= 80 for line in run.stdout.splitlines()), run.stdout
