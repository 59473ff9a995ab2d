"""The guard every receiver call passes through.

The router opens an ``attempt`` scope around each notifier call; notifiers call
``before_call()`` right before every request they make (each retry included) and
route their back-off sleeps through ``backoff_sleep``. That is where the leadership
fence is checked, so a router that lost its lease sends nothing more after it wakes,
even in the middle of a retry loop.

The crash points exist for the crash-matrix tests only: with ``QSRE_TEST_CRASH_AT``
unset (always, outside tests) ``crash_point`` is a dictionary lookup and nothing else.
Set to ``<point>[:<receiver>[:<status>]]`` (points: before_call, backoff, after_call,
after_outcome; status: firing, resolved, repeat) it makes the process SIGKILL itself
at that point, which is the only way to stop "exactly there" from outside.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from slo.alerts import AlertingError

CRASH_ENV = "QSRE_TEST_CRASH_AT"
CRASH_POINTS = ("before_call", "backoff", "after_call", "after_outcome")

Fence = Callable[[], bool]


class Fenced(AlertingError):
    """The fence answered False: this router no longer holds the routing duty."""

    def __init__(self, receiver: str) -> None:
        self.receiver = receiver
        super().__init__(f"fenced off before a call to receiver {receiver!r}: sending nothing more")


@dataclass(frozen=True)
class AttemptScope:
    receiver: str
    status: str
    fence: Fence | None


_current: ContextVar[AttemptScope | None] = ContextVar("qsre_delivery_attempt", default=None)


@contextmanager
def attempt_scope(receiver: str, status: str, fence: Fence | None) -> Iterator[AttemptScope]:
    scope = AttemptScope(receiver, status, fence)
    token = _current.set(scope)
    try:
        yield scope
    finally:
        _current.reset(token)


def check_fence(receiver: str, fence: Fence | None) -> None:
    if fence is not None and not fence():
        raise Fenced(receiver)


def before_call() -> None:
    """Called by notifiers right before every request to a receiver (retries included)."""
    scope = _current.get()
    if scope is not None:
        check_fence(scope.receiver, scope.fence)


def backoff_sleep(sleep: Callable[[float], None], seconds: float) -> None:
    """A notifier's back-off wait (a crash point: dying here leaves an open intent)."""
    crash_point("backoff")
    sleep(seconds)


def crash_point(point: str, receiver: str | None = None, status: str | None = None) -> None:
    """Test-only: SIGKILL this process if ``QSRE_TEST_CRASH_AT`` names this point."""
    spec = os.environ.get(CRASH_ENV)
    if not spec:
        return
    scope = _current.get()
    receiver = receiver or (scope.receiver if scope else None)
    status = status or (scope.status if scope else None)
    want = spec.split(":")
    if want[0] != point:
        return
    if len(want) > 1 and want[1] and want[1] != receiver:
        return
    if len(want) > 2 and want[2] and want[2] != status:
        return
    os.kill(os.getpid(), signal.SIGKILL)
