"""`qsre doctor`: is this config usable? It checks what `qsre run` and `qsre validate`
would meet (store, spool dir, receivers, backends, validation suites), so that a
config doctor passes does not fail later. Never prints secret values."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from collector.clock import SystemClock


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def run_checks(config_path: Path | None, db: str | None) -> list[Check]:
    from qsre.config import load_config

    checks: list[Check] = []
    try:
        cfg = load_config(config_path)
    except Exception as exc:  # noqa: BLE001 - reported as a failed check
        return [Check("config", False, str(exc))]
    checks.append(
        Check("config", True, f"{cfg.source}: {len(cfg.backends)} backends, {len(cfg.slos)} SLOs")
    )
    url = db or cfg.store_url
    checks.append(_store_check(url))
    size = _sqlite_size_check(url)
    if size is not None:
        checks.append(size)
    checks.append(_spool_check(cfg.file.store.spool_dir, url))
    checks.extend(_receiver_checks(cfg))
    weekly_slack = cfg.file.reports.weekly.slack
    if weekly_slack is not None:
        present = bool(os.environ.get(weekly_slack.token_env))
        checks.append(
            Check(
                "weekly report slack",
                present,
                f"${weekly_slack.token_env} is {'set' if present else 'NOT set'}",
            )
        )
    clock = SystemClock()
    for spec in cfg.backends:
        try:
            backend = spec.build(clock)
        except Exception as exc:  # noqa: BLE001
            checks.append(Check(f"backend {spec.name}", False, str(exc)))
            continue
        checks.append(
            Check(
                f"backend {spec.name}",
                True,
                f"{type(backend).__name__}, {backend.num_qubits} qubits",
            )
        )
        if spec.validation.enabled:
            checks.append(_suite_check(cfg.source, spec, backend))
    return checks


def _store_check(url: str) -> Check:
    """Reachable, and at which schema; read without writing (doctor only looks: `qsre
    run` creates and upgrades the store)."""
    from qsre.store_access import UPGRADE_HINT, sqlite_file, store_state

    try:
        state = store_state(url)
    except Exception as exc:  # noqa: BLE001 - reported as a failed check
        return Check("store", False, f"{url}: {exc}")
    if state.file_missing:
        path = sqlite_file(url)
        assert path is not None
        parent = next((p for p in path.parents if p.exists()), None)
        writable = parent is not None and os.access(parent, os.W_OK)
        detail = f"{path} does not exist yet; `qsre run` (or any wrapped job) creates it"
        if not writable:
            detail = f"{path} does not exist and cannot be created: {parent} is not writable"
        return Check("store", writable, detail)
    if state.collector_revision is None:
        return Check("store", True, f"{url} reachable, no qsre tables yet (`qsre run` adds them)")
    if not state.current:
        return Check(
            "store",
            True,
            f"{url} reachable, schema {state.collector_revision} behind "
            f"{state.collector_head}: {UPGRADE_HINT}",
        )
    return Check("store", True, f"{url} reachable, schema current ({state.collector_head})")


# SQLite's honest limit (docs/scale.md; bench/scale.py on 2 cores, SQLite 3.40). The
# steady state holds its targets to the 10 M jobs measured: the evaluation cycle
# after the first is ~0.05 s plus ~2 ms per million jobs, a restart ~3 s. What grows
# with the history is the one-off work: building a new or edited SLO's rollups reads
# every job of its window (~5.7 s per million; 57 s at 10 M, as long as the 60 s
# evaluation interval), so SQLITE_LIMIT_JOBS is where adding an SLO starts to delay
# a cycle by more than one interval. PostgreSQL's cycle stays flat to 10 M jobs.
# Doctor advises the move from WARN_FRACTION of the limit.
SQLITE_CYCLE_S = 0.045
SQLITE_CYCLE_S_PER_M_JOBS = 0.002
SQLITE_NEW_SLO_S_PER_M_JOBS = 5.7
SQLITE_LIMIT_JOBS = 10_000_000
WARN_FRACTION = 0.7


def sqlite_jobs_limit() -> int:
    """Jobs at which a SQLite store stops meeting its targets (docs/scale.md)."""
    return SQLITE_LIMIT_JOBS


def _sqlite_size_check(url: str) -> Check | None:
    """How close a SQLite store is to its honest limit. The job count is
    Store.approx_job_count (the seq span), read without writing;
    None for other dialects and stores without jobs table."""
    from qsre.store_access import sqlite_file

    path = sqlite_file(url)
    if path is None or not path.exists():
        return None
    from collector.store import Store

    try:
        store = Store(url, migrate_on_open=False)
        try:
            jobs = store.approx_job_count()
        finally:
            store.close()
    except Exception:  # noqa: BLE001 - no jobs table yet: the store check says so
        return None
    millions = jobs / 1e6
    cycle_s = SQLITE_CYCLE_S + SQLITE_CYCLE_S_PER_M_JOBS * millions
    new_slo_s = SQLITE_NEW_SLO_S_PER_M_JOBS * millions
    limit = sqlite_jobs_limit()
    detail = (
        f"SQLite store with {_jobs_text(jobs)} jobs: evaluation ~{cycle_s:.2f} s per cycle, "
        f"a new SLO's first rollup build ~{new_slo_s:.0f} s (SQLite's limit: "
        f"~{_jobs_text(limit)} jobs, where that build takes a 60 s evaluation interval)"
    )
    if jobs >= WARN_FRACTION * limit:
        detail += (
            "; consider PostgreSQL (qsre store copy --to postgresql+psycopg://USER@HOST/DB), "
            "or a shorter store.retention"
        )
    return Check("store size", True, detail)


def _jobs_text(jobs: int) -> str:
    if jobs >= 1_000_000:
        return f"{jobs / 1e6:.1f} M"
    if jobs >= 10_000:
        return f"{jobs / 1e3:.0f} k"
    return f"{jobs:,}"


def _spool_check(spool_dir: str | None, url: str) -> Check:
    """The spool must take writes: every proxy appends there before the store."""
    from collector.spool import default_spool_dir

    try:
        path = Path(spool_dir) if spool_dir else default_spool_dir(url)
    except Exception as exc:  # noqa: BLE001 - an unparsable URL is the store check's
        return Check("spool dir", False, f"no spool dir for {url}: {exc}")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".doctor-"):
            pass
    except OSError as exc:
        return Check(
            "spool dir",
            False,
            f"{path}: expected a writable directory, got {exc.strerror or exc}",
        )
    return Check("spool dir", True, f"{path} writable")


def _receiver_checks(cfg: Any) -> list[Check]:
    from qsre.wiring import build_notifier

    checks: list[Check] = []
    for i, r in enumerate(cfg.file.alerting.receivers):
        name = f"receiver {r.name}"
        try:
            build_notifier(r)
        except Exception as exc:  # noqa: BLE001 - what `qsre run` would raise
            checks.append(Check(name, False, f"{cfg.source}: alerting.receivers[{i}]: {exc}"))
            continue
        env_vars = [
            getattr(r, attr) for attr in ("token_env", "routing_key_env", "bearer_token_env")
        ]
        missing = [v for v in env_vars if v and not os.environ.get(v)]
        present = [v for v in env_vars if v and os.environ.get(v)]
        if missing:
            checks.append(Check(name, False, ", ".join(f"${v} is NOT set" for v in missing)))
        else:
            detail = ", ".join(f"${v} is set" for v in present) or f"{r.type}, nothing to set"
            checks.append(Check(name, True, detail))
    return checks


def _suite_check(source: str, spec: Any, backend: Any) -> Check:
    """The reference suite `qsre validate` and the schedules would build for ``backend``."""
    from validators.circuits import SuiteConfigError, build_suite

    name = f"validation {spec.name}"
    try:
        suite = build_suite(spec.validation.suite(), int(backend.num_qubits))
    except SuiteConfigError as exc:
        expected = str(exc.expected).removeprefix("Value error, ")
        return Check(
            name,
            False,
            f"{source}: validation.{exc.field} (backend {spec.name}, "
            f"{backend.num_qubits} qubits): expected {expected}, got {exc.value!r}",
        )
    except Exception as exc:  # noqa: BLE001 - what `qsre validate` would raise
        return Check(name, False, f"{source}: validation (backend {spec.name}): {exc}")
    return Check(
        f"validation {spec.name}",
        True,
        f"{len(suite)} reference circuits, via {spec.validation.via}",
    )
