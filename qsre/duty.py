"""One singleton duty of the daemon held under a lease: who this replica is, whether
it holds the duty now, and the fence its actions check.

    duty = LeaseDuty(Leases(store), ROUTER_LEASE, replica_id(), clock, ttl_s=30)
    duty.renew(healthy=True)        # every ttl_s / 3, on its own timer
    lease = duty.current()          # the hold this replica believes it has (or None)
    fence = duty.fence_for(lease)   # True only while that very hold is current

Renewal runs on its own timer, apart from the work it guards: a slow evaluation
cycle (receiver back-offs) must not let the lease lapse. The opposite failure, a
renewal timer that keeps the lease while the work is stuck, is why ``renew`` takes
``healthy``: a holder whose work has stalled stops renewing and another replica
takes over within the TTL.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable

from collector.clock import Clock
from collector.lease import Lease, Leases

log = logging.getLogger(__name__)

ROUTER_LEASE = "qsre-alert-router"


def replica_id() -> str:
    """``<host>:<pid>:<6 hex>``: unique per process, readable in logs. The random
    part tells a restarted process (pid reuse in a container) from its predecessor."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class LeaseDuty:
    """This replica's view of one lease; thread-safe."""

    def __init__(
        self, leases: Leases, name: str, holder: str, clock: Clock, *, ttl_s: float
    ) -> None:
        if not ttl_s > 0:
            raise ValueError(f"lease ttl_s={ttl_s!r}: expected a positive number of seconds")
        self.leases = leases
        self.name = name
        self.holder = holder
        self.clock = clock
        self.ttl_s = float(ttl_s)
        self._lock = threading.Lock()
        self._lease: Lease | None = None

    @property
    def renew_interval_s(self) -> float:
        # Three renewals per TTL: one lost renewal (a slow commit) does not lose it.
        return self.ttl_s / 3

    def current(self) -> Lease | None:
        """The hold this replica last took or renewed (it may have lapsed since)."""
        with self._lock:
            return self._lease

    def renew(self, *, healthy: bool = True) -> Lease | None:
        """Take or renew the lease; returns the hold (None: another replica has it, the
        store is unreachable, or ``healthy`` is False and this replica stands down)."""
        lease: Lease | None = None
        if healthy:
            try:
                lease = self.leases.acquire(self.name, self.holder, self.clock.now(), self.ttl_s)
            except Exception:  # noqa: BLE001 - a store outage: act as not holding
                log.exception("lease %s: could not take or renew", self.name)
        with self._lock:
            old, self._lease = self._lease, lease
        if lease is not None and (old is None or old.epoch != lease.epoch):
            log.info("lease %s taken (epoch %d, ttl %gs)", self.name, lease.epoch, self.ttl_s)
        elif lease is None and old is not None:
            why = "work stalled, standing down" if not healthy else "held elsewhere or store down"
            log.warning("lease %s lost (epoch %d): %s", self.name, old.epoch, why)
        return lease

    def fence_for(self, lease: Lease) -> Callable[[], bool]:
        """A check for right before an externally visible action under ``lease``: True
        only while the store still shows that very hold, unexpired. A store error
        answers False: without proof of the lease, do nothing."""

        def fence() -> bool:
            try:
                ok = self.leases.is_current(lease, self.clock.now())
            except Exception:  # noqa: BLE001
                log.exception("lease %s: fencing check failed", self.name)
                return False
            if not ok:
                log.warning("lease %s epoch %d is no longer current", self.name, lease.epoch)
            return ok

        return fence

    def release(self) -> None:
        """Hand the lease over now (clean shutdown) instead of after the TTL."""
        with self._lock:
            lease, self._lease = self._lease, None
        if lease is None:
            return
        try:
            self.leases.release(self.name, self.holder, lease.epoch)
            log.info("lease %s released (epoch %d)", self.name, lease.epoch)
        except Exception:  # noqa: BLE001
            log.exception("lease %s: could not release", self.name)


class ReplicaLogFilter(logging.Filter):
    """Stamps every log record with the replica id (``record.replica``), so the lines
    of several replicas in one log stream can be told apart."""

    def __init__(self, replica: str) -> None:
        super().__init__()
        self.replica = replica

    def filter(self, record: logging.LogRecord) -> bool:
        record.replica = self.replica
        return True
