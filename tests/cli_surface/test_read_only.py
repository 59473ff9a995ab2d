"""The commands that only look (jobs, slo status, alerts, silence list, report,
doctor) never create, upgrade or write a store: a mistyped path is an error naming
it (exit 2) and nothing appears on disk; on a real store every table keeps its rows
and the database file keeps its bytes."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import pytest
from sqlalchemy import create_engine, text

QSRE = [sys.executable, "-m", "qsre.cli"]


def run(*args: str, cwd) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "80"}
    return subprocess.run(
        [*QSRE, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


LOOKING = [
    ("jobs",),
    ("jobs", "show", "abc123"),
    ("slo", "status"),
    ("alerts",),
    ("silence", "list"),
    ("report", "weekly", "--week", "2026-W47"),
    ("store", "prune", "--dry-run"),
    ("store", "prune"),  # writes, but never to a store it would first have to create
]


@pytest.mark.parametrize("command", LOOKING, ids=" ".join)
def test_a_missing_sqlite_store_is_an_error_and_is_not_created(tmp_path, command):
    missing = tmp_path / "no" / "such" / "dir" / "q.db"
    done = run(*command, "--db", f"sqlite:///{missing}", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        f"error: store: expected an existing SQLite file (qsre run, or any wrapped job, "
        f"creates it), got '{missing}'"
    ]
    assert not (tmp_path / "no").exists()


def test_a_store_behind_the_schema_is_not_upgraded_by_a_listing(tmp_path):
    path = tmp_path / "empty.db"
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:  # a database that is not a qsre store (yet)
        conn.execute(text("CREATE TABLE other (x INTEGER)"))
    engine.dispose()
    done = run("jobs", "--db", f"sqlite:///{path}", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "store schema: expected revision" in done.stderr
    with create_engine(f"sqlite:///{path}").connect() as conn:
        tables = {r[0] for r in conn.execute(text("SELECT name FROM sqlite_master"))}
    assert tables == {"other"}


def fingerprint(path) -> tuple[str, dict[str, int]]:
    """The main database file's hash and every table's row count."""
    engine = create_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        names = [
            r[0] for r in conn.execute(text("SELECT name FROM sqlite_master WHERE type='table'"))
        ]
        counts = {n: conn.execute(text(f'SELECT count(*) FROM "{n}"')).scalar_one() for n in names}
    engine.dispose()
    return hashlib.sha256(path.read_bytes()).hexdigest(), counts


@pytest.fixture(scope="module")
def recorded_store(tmp_path_factory):
    """A store with real jobs (Aer, through the proxy) and nothing else: no daemon
    has built rollups or alert state in it."""
    from circuit_fixtures import bell
    from qiskit_aer import AerSimulator

    from collector import ExecutionProxy
    from collector.store import Store

    path = tmp_path_factory.mktemp("ro") / "q.db"
    store = Store(f"sqlite:///{path}")
    proxy = ExecutionProxy(AerSimulator(), store=store, project="chem")
    for shots in (100, 200, 300):
        proxy.run(bell(), shots=shots).result()
    proxy.recorder.flush()  # in the store now, not later by the shipper thread
    store.close()
    return path


def test_looking_writes_nothing(recorded_store, tmp_path):
    before = fingerprint(recorded_store)
    url = f"sqlite:///{recorded_store}"
    writers = {("jobs", "show", "abc123"), ("store", "prune")}  # show: no such job here
    for command in [c for c in LOOKING if c not in writers]:
        extra = ("--out", str(tmp_path / "report")) if command[0] == "report" else ()
        done = run(*command, *extra, "--db", url, cwd=tmp_path)
        assert done.returncode == 0, (command, done.stderr)
        assert fingerprint(recorded_store) == before, f"{' '.join(command)} wrote to the store"
    doctor = run("doctor", "--db", url, cwd=tmp_path)
    assert "store" in doctor.stdout
    assert fingerprint(recorded_store) == before, "doctor wrote to the store"


def test_slo_status_says_where_its_numbers_come_from(recorded_store, tmp_path):
    done = run("slo", "status", "--db", f"sqlite:///{recorded_store}", cwd=tmp_path)
    assert "computed from the store" in done.stdout, done.stdout
    data = json.loads(
        run("slo", "status", "--json", "--db", f"sqlite:///{recorded_store}", cwd=tmp_path).stdout
    )
    assert data and all(v["rollups_updated_at"] is None for v in data.values())


def test_alerts_on_a_store_no_daemon_ran_on(recorded_store, tmp_path):
    done = run("alerts", "--db", f"sqlite:///{recorded_store}", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "no active alerts" in done.stdout
    assert "no alert state in this store yet" in done.stdout
