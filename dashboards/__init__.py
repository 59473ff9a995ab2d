"""Generated Grafana dashboards for qsre (executive, on-call, debug, one per SLO)."""

from __future__ import annotations

from dashboards.build import build_dashboards, write_dashboards
from dashboards.errors import DashboardError, DashboardSpecError, PushError
from dashboards.push import PushResult, push_dashboards
from dashboards.queries import metric_names_in, panel_queries
from dashboards.slo_detail import (
    DEFAULT_POLICIES,
    BurnPolicy,
    BurnWindow,
    SLOLike,
    policy_for_slo,
)

__all__ = [
    "DEFAULT_POLICIES",
    "BurnPolicy",
    "BurnWindow",
    "DashboardError",
    "DashboardSpecError",
    "PushError",
    "PushResult",
    "SLOLike",
    "build_dashboards",
    "metric_names_in",
    "panel_queries",
    "policy_for_slo",
    "push_dashboards",
    "write_dashboards",
]
