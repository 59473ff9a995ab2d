"""Errors the simulated backends raise, on purpose (injected faults) or for bad config.

Injected failures carry ``qsre_error_class`` so that the collector classifies them
exactly as it would classify the real provider error they imitate.
"""

from __future__ import annotations


class SimError(Exception):
    """Base class of every error raised by qsre.sim."""


class SimConfigError(SimError, ValueError):
    """A simulated-backend configuration is invalid; names the field and what was expected."""

    def __init__(self, field: str, value: object, expected: str) -> None:
        self.field = field
        self.value = value
        self.expected = expected
        super().__init__(f"invalid {field}={value!r}: expected {expected}")


class InjectedTransientError(SimError, ConnectionError):
    """A transient provider error (HTTP 503): retrying later should succeed."""

    qsre_error_class = "transient"


class InjectedAuthError(SimError, PermissionError):
    """The provider rejected the credentials (HTTP 401)."""

    qsre_error_class = "auth"


class InjectedResourceExhausted(SimError, RuntimeError):
    """The simulator had no memory for the job (Aer's "Insufficient memory")."""

    qsre_error_class = "resource"


class InjectedBackendOutage(SimError, RuntimeError):
    """The backend is down: every call fails until the outage ends."""

    qsre_error_class = "backend"
