"""Schedules, the replica lease, and two real replicas on one store."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest

from validators.runner import ValidationRunner
from validators.scheduler import (
    LEASE_NAME,
    ScheduleConfigError,
    ValidationScheduler,
    parse_schedules,
)
from validators.store import ValidationStore

SUITE = {"circuits": ["bell"], "shots": 200}
REPLICA = Path(__file__).with_name("replica.py")


def test_lease_exclusive_renewable_and_expires(store, t0):
    vstore = ValidationStore(store)
    assert vstore.acquire_lease("x", "a", t0, ttl_s=30)
    assert not vstore.acquire_lease("x", "b", t0 + timedelta(seconds=10), ttl_s=30)
    assert vstore.acquire_lease("x", "a", t0 + timedelta(seconds=20), ttl_s=30)  # renew
    assert not vstore.acquire_lease("x", "b", t0 + timedelta(seconds=45), ttl_s=30)
    assert vstore.lease_holder("x", t0 + timedelta(seconds=45)) == "a"
    assert vstore.acquire_lease("x", "b", t0 + timedelta(seconds=51), ttl_s=30)  # expired
    assert not vstore.release_lease("x", "a")
    assert vstore.release_lease("x", "b")
    assert vstore.acquire_lease("x", "a", t0 + timedelta(seconds=52), ttl_s=30)


def test_schedule_config_errors_name_the_field():
    with pytest.raises(ScheduleConfigError, match=r"validation\.schedules\.b1\.interval_s"):
        parse_schedules({"b1": {"interval_s": -5}}, ["b1"])
    with pytest.raises(ScheduleConfigError, match="exactly one of interval_s or cron"):
        parse_schedules({"*": {"interval_s": 5, "cron": "* * * * *"}}, ["b1"])
    with pytest.raises(ScheduleConfigError, match=r"\.cron"):
        parse_schedules({"*": {"cron": "61 * * * *"}}, ["b1"])
    with pytest.raises(ScheduleConfigError, match="backend names"):
        parse_schedules({"nope": {"interval_s": 5}}, ["b1"])
    with pytest.raises(ScheduleConfigError, match="a schedule"):
        parse_schedules({}, ["b1"])


def test_run_due_on_virtual_time_with_two_replicas(store, recorder, clock, t0):
    from qsre.sim.config import build_sim_backend

    vstore = ValidationStore(store)
    backends = {n: build_sim_backend({"name": n, "num_qubits": 2}, clock, t0) for n in ("h", "c")}

    def replica(holder):
        runner = ValidationRunner(vstore, SUITE, clock=clock, recorder=recorder)
        return ValidationScheduler(
            vstore,
            {"hourly": lambda: backends["h"], "cron": lambda: backends["c"]},
            {"hourly": {"interval_s": 3600}, "cron": {"cron": "0 */6 * * *"}},
            clock=clock,
            holder_id=holder,
            lease_ttl_s=600,
            runner=runner,
        )

    a, b = replica("a"), replica("b")
    ran = Counter()
    for _ in range(24 * 6):  # one virtual day, ticking every 10 minutes on both replicas
        for sched in (a, b):
            for report in sched.run_due(clock.now()):
                ran[(sched.holder_id, report.backend)] += 1
        clock.advance(600)
    # Only the lease holder ran; "hourly" once per hour, cron at 00/06/12/18 only.
    assert set(holder for holder, _ in ran) == {"a"}
    assert vstore.count_runs("h") == 24
    assert vstore.count_runs("c") == 4
    # The holder dies (stops renewing); after the expiry the other replica takes over.
    clock.advance(601)
    assert b.run_due(clock.now()) and vstore.lease_holder(LEASE_NAME, clock.now()) == "b"
    assert a.run_due(clock.now()) == []


@pytest.mark.slow
def test_two_replica_processes_do_not_double_run(store, tmp_path):
    seconds = 6.0
    procs = [
        subprocess.Popen(
            [sys.executable, str(REPLICA), store.url, holder, str(seconds), str(tmp_path / holder)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for holder in ("replica-a", "replica-b")
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    stats = []
    for p, (out, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err
        words = out.split()
        stats.append({"TICKS": int(words[-3]), "RUNS": int(words[-1])})
    # Both replicas' schedulers fired every second; between them each tick ran once.
    assert all(s["TICKS"] >= 3 for s in stats), stats
    vstore = ValidationStore(store)
    rows = vstore.runs_since(backend="aer_simulator")
    per_second = Counter(r.ran_at.replace(microsecond=0) for r in rows)
    assert len(rows) == sum(s["RUNS"] for s in stats) >= 3
    assert max(per_second.values()) == 1, per_second
