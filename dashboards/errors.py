"""The dashboards package's exception hierarchy. Messages say what, where, and what was expected."""

from __future__ import annotations


class DashboardError(Exception):
    """Base class for every error the dashboards package raises on purpose."""


class DashboardSpecError(DashboardError, ValueError):
    """An input (SLO, policy, datasource) cannot be turned into a dashboard."""

    def __init__(self, field: str, value: object, expected: str) -> None:
        self.field = field
        self.value = value
        self.expected = expected
        super().__init__(f"invalid {field}={value!r}: expected {expected}")


class PushError(DashboardError):
    """Grafana refused (4xx) or kept failing (5xx/429/network) for one dashboard."""

    def __init__(self, dashboard_uid: str, status: int | None, detail: str) -> None:
        self.dashboard_uid = dashboard_uid
        self.status = status
        self.detail = detail
        where = f"HTTP {status}" if status is not None else "no HTTP response"
        super().__init__(
            f"pushing dashboard {dashboard_uid!r} to Grafana failed ({where}): {detail}"
        )
