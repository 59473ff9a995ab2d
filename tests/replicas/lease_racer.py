"""A process that races for leases: ``python -m tests.replicas.lease_racer URL HOLDER``.

It opens the store, prints ``ready``, then for each lease name read from stdin fires
one acquire and prints a JSON line with its result. The test writes the name to all
racers at once, so their acquires hit the database together."""

from __future__ import annotations

import json
import sys

from collector.clock import SystemClock
from collector.lease import Leases
from collector.store import Store


def main() -> None:
    url, holder = sys.argv[1], sys.argv[2]
    store = Store(url)
    leases = Leases(store)
    clock = SystemClock()
    with store.engine.connect():  # pool warm: the race is the acquire, not connecting
        pass
    print("ready", flush=True)
    for line in sys.stdin:
        lease = leases.acquire(line.strip(), holder, clock.now(), ttl_s=60)
        epoch = None if lease is None else lease.epoch
        print(json.dumps({"holder": holder, "epoch": epoch}), flush=True)
    store.close()


if __name__ == "__main__":
    main()
