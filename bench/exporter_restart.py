"""The exporter's start on a big store: aggregating the whole jobs table vs resuming
from its checkpoint, side by side on one PostgreSQL store.

Fills a fresh PostgreSQL database with ``--jobs`` jobs over 30 days (bench/fill.py,
COPY), then times ``StoreExporter.start()`` three times each way: cold (no
checkpoint: the GROUP BY over every terminal job and the scan of pending ones) and
resumed (the checkpoint a stopping daemon writes), plus the first scrape after each.
Prints one JSON object with medians and the ratio. ``--url`` names an admin URL of
the server (default: the local test server); the bench database is dropped after.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.fill import Workload, fill_postgres, new_database  # noqa: E402
from collector.clock import VirtualClock  # noqa: E402
from collector.exporter import StoreExporter  # noqa: E402
from collector.schema import ExporterCheckpointRow  # noqa: E402
from collector.store import Store  # noqa: E402

END = datetime(2026, 11, 30, tzinfo=UTC)


def _timed_start(store: Store, clock: VirtualClock) -> tuple[float, float, StoreExporter]:
    exporter = StoreExporter(store, clock)
    t0 = time.perf_counter()
    exporter.start()
    start_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    exporter.refresh()
    return start_s, time.perf_counter() - t0, exporter


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args(argv)
    with new_database(args.url) as url:
        store = Store(url)
        t0 = time.perf_counter()
        fill_postgres(url, args.jobs, Workload(END, 30 * 86400, ("ibm_a", "ibm_b", "ionq")))
        fill_s = time.perf_counter() - t0
        clock = VirtualClock(END)
        cold, cold_scrape, resumed, resumed_scrape = [], [], [], []
        for _ in range(3):
            with store.engine.begin() as conn:
                conn.execute(delete(ExporterCheckpointRow.__table__))
            s, r, exporter = _timed_start(store, clock)
            assert exporter.restored_from is None
            cold.append(s)
            cold_scrape.append(r)
            exporter.checkpoint()  # what `qsre run` does when it stops
            s, r, exporter = _timed_start(store, clock)
            assert exporter.restored_from is not None
            resumed.append(s)
            resumed_scrape.append(r)
        store.close()
    med = lambda xs: round(statistics.median(xs), 3)  # noqa: E731
    out = {
        "jobs": args.jobs,
        "fill_s": round(fill_s, 1),
        "cold_start_s": med(cold),
        "cold_first_scrape_s": med(cold_scrape),
        "resumed_start_s": med(resumed),
        "resumed_first_scrape_s": med(resumed_scrape),
        "start_ratio_cold_over_resumed": round(med(cold) / med(resumed), 1),
    }
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
