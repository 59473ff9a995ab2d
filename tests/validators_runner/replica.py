"""One `qsre run` replica for the lease test: a real ValidationScheduler for N seconds.

Usage: python replica.py STORE_URL HOLDER SECONDS SPOOL_DIR
Prints READY once started and "TICKS <n> RUNS <m>" at the end.
"""

from __future__ import annotations

import sys
import time

from qiskit_aer import AerSimulator

from collector.recorder import SpoolRecorder
from collector.store import Store
from validators.runner import ValidationRunner
from validators.scheduler import ValidationScheduler
from validators.store import ValidationStore


def main() -> None:
    url, holder, seconds, spool = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
    store = Store(url)
    vstore = ValidationStore(store)
    recorder = SpoolRecorder(store, spool)
    runner = ValidationRunner(vstore, {"circuits": ["bell"], "shots": 200}, recorder=recorder)
    sched = ValidationScheduler(
        vstore,
        {"aer": lambda: AerSimulator(seed_simulator=1)},
        {"*": {"cron": {"second": "*"}}},
        holder_id=holder,
        lease_ttl_s=3.0,
        runner=runner,
    )
    sched.start()
    print("READY", flush=True)
    time.sleep(seconds)
    sched.shutdown()
    recorder.close()
    print(f"TICKS {sched.ticks} RUNS {sched.runs}", flush=True)


if __name__ == "__main__":
    main()
