"""Scheduled validation: APScheduler jobs per backend, one replica at a time.

    sched = ValidationScheduler(store, {"ibm_x": make_backend}, {"*": {"interval_s": 3600}},
                                holder_id="qsre-a")
    sched.start()            # the daemon (`qsre run`): real time, background threads
    sched.run_due(now)       # the demo and tests: virtual time, caller's thread

Schedules are a config dict keyed by backend name (``"*"`` is the default for
backends not listed): ``{"interval_s": 3600}``, ``{"cron": "0 * * * *"}`` (crontab)
or ``{"cron": {"minute": "*/15"}}`` (``CronTrigger`` fields, seconds allowed).

Replicas. APScheduler 3 cannot share a job store between processes (each scheduler
fires every due job; NOTES: 14 runs for 7 ticks), so each replica keeps its jobs in
its own persistent ``SQLAlchemyJobStore`` table on the store's database (named from
``holder_id``, which should therefore be stable across restarts, e.g. the host name),
which keeps coalesced misfires across restarts. Which replica actually runs the
validations is decided by the ``qsre-validation-scheduler`` lease (``collector.lease``,
the same mechanism the alert router's lease uses) with an expiry that the holder
renews (heartbeat every ``lease_ttl_s / 3``); a tick on a replica without the lease
does nothing. If the holder dies, another replica takes over after the expiry.
"""

from __future__ import annotations

import hashlib
import logging
import re
import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from qiskit.providers import BackendV2

from collector.clock import Clock, SystemClock
from collector.lease import Lease, Leases
from collector.store import Store
from validators.drift import DivergenceConfig, DriftConfig
from validators.errors import InvalidField
from validators.runner import ProxyFactory, SuiteLike, ValidationReport, ValidationRunner
from validators.store import ValidationStore

log = logging.getLogger(__name__)

LEASE_NAME = "qsre-validation-scheduler"
BackendFactory = Callable[[], BackendV2]


class ScheduleConfigError(InvalidField):
    """A validation schedule is invalid; names the backend, field and what was expected."""


@dataclass(frozen=True)
class Schedule:
    """When one backend is validated: every ``interval_s`` or on a cron spec."""

    backend: str
    interval_s: float | None = None
    crontab: str | None = None
    cron_fields: tuple[tuple[str, str], ...] | None = None  # CronTrigger keyword fields

    def trigger(self, start: datetime | None = None) -> BaseTrigger:
        if self.interval_s is not None:
            return IntervalTrigger(seconds=self.interval_s, start_date=start, timezone=UTC)
        if self.crontab is not None:
            return CronTrigger.from_crontab(self.crontab, timezone=UTC)
        return CronTrigger(timezone=UTC, **dict(self.cron_fields or ()))

    def due(self, last_ran_at: datetime | None, now: datetime) -> bool:
        """Whether a run is due at ``now`` given the last run (several missed fire
        times coalesce into one run)."""
        if last_ran_at is None:
            return True
        if self.interval_s is not None:
            return (now - last_ran_at).total_seconds() >= self.interval_s
        nxt = self.trigger().get_next_fire_time(None, last_ran_at + timedelta(microseconds=1))
        return nxt is not None and nxt <= now


def parse_schedule(backend: str, spec: Mapping[str, Any]) -> Schedule:
    where = f"validation.schedules.{backend}"
    if not isinstance(spec, Mapping):
        raise ScheduleConfigError(where, spec, "a mapping with interval_s or cron")
    unknown = set(spec) - {"interval_s", "cron"}
    if unknown:
        raise ScheduleConfigError(f"{where}", sorted(unknown), "only the keys interval_s, cron")
    if ("interval_s" in spec) == ("cron" in spec):
        raise ScheduleConfigError(where, dict(spec), "exactly one of interval_s or cron")
    if "interval_s" in spec:
        value = spec["interval_s"]
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise ScheduleConfigError(f"{where}.interval_s", value, "a positive number of seconds")
        return Schedule(backend, interval_s=float(value))
    cron = spec["cron"]
    try:
        if isinstance(cron, str):
            schedule = Schedule(backend, crontab=cron)
        elif isinstance(cron, Mapping):
            fields = tuple(sorted((str(k), str(v)) for k, v in cron.items()))
            schedule = Schedule(backend, cron_fields=fields)
        else:
            raise ValueError("not a string or mapping")
        schedule.trigger()
    except (ValueError, TypeError) as exc:
        raise ScheduleConfigError(
            f"{where}.cron", cron, f"a crontab string or CronTrigger fields ({exc})"
        ) from exc
    return schedule


def parse_schedules(
    schedules: Mapping[str, Mapping[str, Any]], backends: list[str]
) -> dict[str, Schedule]:
    """One schedule per backend; ``"*"`` applies to backends without their own entry."""
    unknown = set(schedules) - set(backends) - {"*"}
    if unknown:
        raise ScheduleConfigError(
            "validation.schedules", sorted(unknown), f"backend names among {sorted(backends)}"
        )
    out = {}
    for name in backends:
        spec = schedules.get(name, schedules.get("*"))
        if spec is None:
            raise ScheduleConfigError(
                f"validation.schedules.{name}", None, "a schedule (or a '*' default)"
            )
        out[name] = parse_schedule(name, spec)
    return out


# holder id -> live scheduler in this process; persisted APScheduler jobs refer to
# their scheduler by holder id (a scheduler object cannot be pickled into the store).
_registry: dict[str, ValidationScheduler] = {}
_registry_lock = threading.Lock()


def _scheduled_run(holder_id: str, backend: str) -> None:
    """Entry point of persisted APScheduler jobs."""
    with _registry_lock:
        sched = _registry.get(holder_id)
    if sched is None:
        log.warning("validation job for %s fired with no scheduler %r here", backend, holder_id)
        return
    sched.run_backend(backend)


def _heartbeat(holder_id: str) -> None:
    with _registry_lock:
        sched = _registry.get(holder_id)
    if sched is not None:
        sched.holds_lease()


def jobstore_table(holder_id: str) -> str:
    """This replica's APScheduler table: readable prefix plus a hash (identifier-safe)."""
    slug = re.sub(r"[^a-z0-9]+", "_", holder_id.lower()).strip("_")[:24]
    digest = hashlib.sha256(holder_id.encode()).hexdigest()[:8]
    return f"qsre_validation_jobs_{slug}_{digest}"


class ValidationScheduler:
    """Runs validation on schedules; only the lease holder among replicas runs them."""

    def __init__(
        self,
        store: ValidationStore | Store | str,
        backends: Mapping[str, BackendFactory],
        schedules: Mapping[str, Mapping[str, Any]],
        *,
        clock: Clock | None = None,
        holder_id: str | None = None,
        suite: SuiteLike = None,
        drift_config: DriftConfig | None = None,
        divergence_config: DivergenceConfig | None = None,
        proxy_factory: ProxyFactory | None = None,
        lease_ttl_s: float = 30.0,
        runner: ValidationRunner | None = None,
        via: str | Mapping[str, str] = "auto",
        jobs: str = "per_suite",
        lease_holder: str | None = None,
    ) -> None:
        self.vstore = store if isinstance(store, ValidationStore) else ValidationStore(store)
        self.clock = clock or SystemClock()
        self.holder_id = holder_id or socket.gethostname()
        # Who holds the lease: the daemon's per-process replica id when given (two
        # processes must never share a holder), else the stable holder_id.
        self.lease_holder = lease_holder or self.holder_id
        self.lease_ttl_s = float(lease_ttl_s)
        if self.lease_ttl_s <= 0:
            raise ScheduleConfigError("lease_ttl_s", lease_ttl_s, "a positive number of seconds")
        self._factories = dict(backends)
        self.schedules = parse_schedules(schedules, list(self._factories))
        self.runner = runner or ValidationRunner(
            self.vstore,
            suite,
            clock=self.clock,
            drift_config=drift_config,
            divergence_config=divergence_config,
            proxy_factory=proxy_factory,
            via=via,
            jobs=jobs,
        )
        self.leases = Leases(self.vstore.store)
        self._lease: Lease | None = None
        self._backends: dict[str, BackendV2] = {}
        self._run_lock = threading.Lock()
        self._scheduler: BackgroundScheduler | None = None
        # Diagnostics: scheduled ticks seen here, and how many ran (held the lease).
        self.ticks = 0
        self.runs = 0

    # ------------------------------------------------------------ running
    def holds_lease(self, now: datetime | None = None) -> bool:
        """Take or renew the lease; True when this replica holds it."""
        try:
            lease = self.leases.acquire(
                LEASE_NAME, self.lease_holder, now or self.clock.now(), self.lease_ttl_s
            )
        except Exception:  # noqa: BLE001 - a store outage must not kill the scheduler
            log.exception("could not renew the validation lease")
            return False
        if lease is not None and (self._lease is None or lease.epoch != self._lease.epoch):
            log.info("validation lease taken by %s (epoch %d)", self.lease_holder, lease.epoch)
        self._lease = lease
        return lease is not None

    def backend(self, name: str) -> BackendV2:
        if name not in self._backends:
            try:
                factory = self._factories[name]
            except KeyError:
                raise ScheduleConfigError(
                    "backend", name, f"one of {sorted(self._factories)}"
                ) from None
            self._backends[name] = factory()
        return self._backends[name]

    def run_backend(self, name: str, now: datetime | None = None) -> ValidationReport | None:
        """Validate one backend now if this replica holds the lease (None otherwise,
        or if the run could not even start; job failures are error rows)."""
        self.ticks += 1
        if not self.holds_lease(now):
            return None
        with self._run_lock:  # max one suite run at a time per replica
            try:
                report = self.runner.run(self.backend(name))
                self.runs += 1
                return report
            except Exception:  # noqa: BLE001 - never crash the scheduler
                log.exception("validation of %s failed", name)
                return None

    def run_due(self, now: datetime | None = None) -> list[ValidationReport]:
        """Run every backend whose schedule is due at ``now`` (virtual-time driver)."""
        now = now or self.clock.now()
        if not self.holds_lease(now):
            return []
        reports = []
        for name, schedule in self.schedules.items():
            try:
                stored_as = self.backend(name).name  # rows carry the backend's own name
            except Exception:  # noqa: BLE001 - a backend that cannot be built is skipped
                log.exception("cannot build backend %s", name)
                continue
            if schedule.due(self.vstore.last_ran_at(stored_as), now):
                report = self.run_backend(name, now)
                if report is not None:
                    reports.append(report)
        return reports

    # ------------------------------------------------------------ daemon
    def start(self) -> None:
        """Start the background scheduler (real time)."""
        if self._scheduler is not None:
            return
        with _registry_lock:
            _registry[self.holder_id] = self
        sched = BackgroundScheduler(
            jobstores={
                "default": SQLAlchemyJobStore(
                    url=self.vstore.url, tablename=jobstore_table(self.holder_id)
                ),
                "lease": MemoryJobStore(),
            },
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone=UTC,
        )
        sched.add_job(
            _heartbeat,
            IntervalTrigger(seconds=self.lease_ttl_s / 3, timezone=UTC),
            args=[self.holder_id],
            id="lease-heartbeat",
            jobstore="lease",
            next_run_time=datetime.now(UTC),
        )
        sched.start(paused=True)
        for name, schedule in self.schedules.items():
            job_id = f"validate:{name}"
            trigger = schedule.trigger()
            existing = sched.get_job(job_id, jobstore="default")
            # Keep a persisted job whose schedule is unchanged, so its next run time
            # (and any misfire to coalesce) survives the restart.
            if existing is not None and str(existing.trigger) == str(trigger):
                continue
            sched.add_job(
                _scheduled_run,
                trigger,
                args=[self.holder_id, name],
                id=job_id,
                name=f"validate {name}",
                jobstore="default",
                replace_existing=True,
            )
        for job in sched.get_jobs(jobstore="default"):
            if job.id.removeprefix("validate:") not in self.schedules:
                job.remove()
        sched.resume()
        self._scheduler = sched

    def shutdown(self, wait: bool = True) -> None:
        """Stop the scheduler and hand the lease over."""
        sched, self._scheduler = self._scheduler, None
        if sched is not None:
            sched.shutdown(wait=wait)
        with _registry_lock:
            if _registry.get(self.holder_id) is self:
                del _registry[self.holder_id]
        lease, self._lease = self._lease, None
        try:
            if lease is not None:
                self.leases.release(LEASE_NAME, self.lease_holder, lease.epoch)
        except Exception:  # noqa: BLE001
            log.exception("could not release the validation lease")
