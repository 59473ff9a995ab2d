"""Generated Grafana dashboards for qsre (executive, on-call, debug, one per SLO)."""

from __future__ import annotations

from dashboards.build import build_dashboards, write_dashboards
from dashboards.errors import DashboardError, DashboardSpecError, PushError
from dashboards.push import PushResult, push_dashboards
from dashboards.queries import metric_names_in, panel_queries, sql_queries
from dashboards.slo_detail import (
    DEFAULT_POLICIES,
    BurnPolicy,
    BurnWindow,
    SLOLike,
    policy_for_slo,
)
from dashboards.sql import SqlSource
from dashboards.sql_macros import expand_macros

__all__ = [
    "DEFAULT_POLICIES",
    "BurnPolicy",
    "BurnWindow",
    "DashboardError",
    "DashboardSpecError",
    "PushError",
    "PushResult",
    "SLOLike",
    "SqlSource",
    "build_dashboards",
    "expand_macros",
    "metric_names_in",
    "panel_queries",
    "policy_for_slo",
    "push_dashboards",
    "sql_queries",
    "write_dashboards",
]
