"""collector.lease: one holder at a time, a fencing epoch that grows on every take,
on SQLite and PostgreSQL, including real processes racing for one lease."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from collector.lease import Lease, Leases

ROOT = Path(__file__).resolve().parents[2]


def test_take_renew_refuse_and_take_over_after_expiry(store, t0):
    leases = Leases(store)
    a = leases.acquire("duty", "a", t0, ttl_s=30)
    assert a == Lease("duty", "a", 1, t0 + timedelta(seconds=30))
    assert leases.acquire("duty", "b", t0 + timedelta(seconds=10), ttl_s=30) is None
    renewed = leases.acquire("duty", "a", t0 + timedelta(seconds=20), ttl_s=30)
    assert renewed is not None and renewed.epoch == 1  # a renewal keeps the epoch
    assert renewed.expires_at == t0 + timedelta(seconds=50)
    assert leases.is_current(renewed, t0 + timedelta(seconds=49))
    # The row keeps the epoch, so the pre-renewal value is the same hold.
    assert leases.is_current(a, t0 + timedelta(seconds=49))
    assert leases.acquire("duty", "b", t0 + timedelta(seconds=45), ttl_s=30) is None
    assert not leases.is_current(renewed, t0 + timedelta(seconds=50))  # expired
    b = leases.acquire("duty", "b", t0 + timedelta(seconds=51), ttl_s=30)
    assert b is not None and b.epoch == 2  # takeover
    assert not leases.is_current(renewed, t0 + timedelta(seconds=52))  # taken over
    assert leases.is_current(b, t0 + timedelta(seconds=52))
    assert leases.current("duty", t0 + timedelta(seconds=52)) == b


def test_a_lapsed_holder_that_retakes_gets_a_new_epoch(store, t0):
    """A paused holder whose renewal thread re-takes the lease on waking must not
    make the old hold current again: the paused work is fenced off for good."""
    leases = Leases(store)
    old = leases.acquire("duty", "a", t0, ttl_s=10)
    assert old is not None
    new = leases.acquire("duty", "a", t0 + timedelta(seconds=15), ttl_s=10)
    assert new is not None and new.epoch == old.epoch + 1
    assert not leases.is_current(old, t0 + timedelta(seconds=16))
    assert leases.is_current(new, t0 + timedelta(seconds=16))


def test_release_hands_over_without_rewinding_the_epoch(store, t0):
    leases = Leases(store)
    a = leases.acquire("duty", "a", t0, ttl_s=30)
    assert a is not None
    assert not leases.release("duty", "b", a.epoch)  # not b's
    assert not leases.release("duty", "a", a.epoch + 1)  # not this hold
    assert leases.release("duty", "a", a.epoch)
    assert not leases.is_current(a, t0 + timedelta(seconds=1))
    assert leases.current("duty", t0 + timedelta(seconds=1)) is None
    b = leases.acquire("duty", "b", t0 + timedelta(seconds=1), ttl_s=30)
    assert b is not None and b.epoch == 2
    # b releases, a comes back: a's first hold stays fenced (epoch 3, not 1).
    assert leases.release("duty", "b", b.epoch)
    a2 = leases.acquire("duty", "a", t0 + timedelta(seconds=2), ttl_s=30)
    assert a2 is not None and a2.epoch == 3
    assert not leases.is_current(a, t0 + timedelta(seconds=3))


def test_leases_are_independent_by_name(store, t0):
    leases = Leases(store)
    assert leases.acquire("router", "a", t0, ttl_s=30) is not None
    assert leases.acquire("validation", "b", t0, ttl_s=30) is not None
    assert leases.acquire("router", "b", t0, ttl_s=30) is None


def test_bad_ttl_and_naive_time_are_refused(store, t0):
    leases = Leases(store)
    with pytest.raises(ValueError, match="ttl_s"):
        leases.acquire("duty", "a", t0, ttl_s=0)
    with pytest.raises(ValueError, match="timezone-aware"):
        leases.acquire("duty", "a", t0.replace(tzinfo=None), ttl_s=5)


def test_processes_racing_for_one_lease_exactly_one_wins(store_url):
    """Four real processes fire acquire at once, five rounds (a new lease name each):
    every round exactly one of them holds it, with epoch 1."""
    from collector.store import Store

    Store(store_url).close()  # migrate once, so the racers race the acquire only
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.replicas.lease_racer", store_url, f"p{i}"],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(4)
    ]
    try:
        for p in procs:
            assert p.stdout is not None and p.stdout.readline().strip() == "ready"
        for r in range(5):
            for p in procs:
                assert p.stdin is not None
                p.stdin.write(f"duty-{r}\n")
                p.stdin.flush()
            results = [json.loads(p.stdout.readline()) for p in procs if p.stdout]
            winners = [res for res in results if res["epoch"] is not None]
            assert len(winners) == 1, results
            assert winners[0]["epoch"] == 1
    finally:
        for p in procs:
            if p.stdin:
                p.stdin.close()
            p.wait(timeout=30)
