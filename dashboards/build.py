"""Build every qsre dashboard as schema-valid Grafana JSON, and write them to disk."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from grafanalib._gen import DashboardEncoder
from grafanalib.core import Dashboard

from dashboards import debug, executive, oncall, slo_detail
from dashboards.errors import DashboardSpecError
from dashboards.schema_fix import modernize
from dashboards.slo_detail import DEFAULT_POLICIES, BurnPolicy, SLOLike, policy_for_slo
from dashboards.sql import SqlSource
from slo.policy import builtin_policies

Policies = Mapping[str, BurnPolicy] | Callable[[SLOLike], BurnPolicy | None]


def to_json(dash: Dashboard) -> dict[str, Any]:
    """grafanalib object -> plain dict Grafana's schema accepts."""
    raw = json.loads(json.dumps(dash.to_json_data(), cls=DashboardEncoder))
    return modernize(raw)


def build_dashboards(
    slos: Iterable[SLOLike],
    *,
    datasource_uid: str = "prometheus",
    policies: Policies = policy_for_slo,
    postgres_datasource_uid: str | None = None,
    trace_url_template: str = "",
) -> dict[str, dict[str, Any]]:
    """Return {file name: dashboard JSON} for the fixed dashboards and one per SLO.

    `postgres_datasource_uid`: pass it only when the store is PostgreSQL; the
    on-call and debug dashboards then get table panels querying the store through
    that Grafana datasource (rows linking to `trace_url_template`, a URL with
    `{trace_id}`). None (a SQLite store): text panels point at `qsre jobs` instead.

    `policies` maps an SLO's `policy` name to the burn windows drawn, or is a function
    SLO -> BurnPolicy. The default derives them from each SLO's model exactly as the
    generated Prometheus rules do (see `policy_for_slo`). SLO names must be unique.
    """
    if not datasource_uid:
        raise DashboardSpecError("datasource_uid", datasource_uid, "a non-empty datasource uid")
    sql = (
        SqlSource(postgres_datasource_uid, trace_url_template)
        if postgres_datasource_uid is not None
        else None
    )
    out: dict[str, dict[str, Any]] = {
        "executive.json": to_json(executive.build(datasource_uid)),
        "oncall.json": to_json(oncall.build(datasource_uid, sql)),
        "debug.json": to_json(debug.build(datasource_uid, sql)),
    }
    for slo in slos:
        policy = policies(slo) if callable(policies) else policies.get(slo.policy)
        if policy is None:
            raise DashboardSpecError(
                f"slo[{slo.name}].policy",
                slo.policy,
                "a policy known to the dashboards"
                + (_known_policies() if policies is policy_for_slo else "")
                + ("" if callable(policies) else f": one of {sorted(policies)}"),
            )
        file_name = f"slo-{slo.name}.json"
        if file_name in out:
            raise DashboardSpecError("slo.name", slo.name, "a name used by only one SLO")
        out[file_name] = to_json(slo_detail.build(slo, policy, datasource_uid))
    return out


def _known_policies() -> str:
    names = sorted({*builtin_policies(), *DEFAULT_POLICIES})
    return f": one of {names}"


def write_dashboards(
    slos: Iterable[SLOLike],
    out_dir: Path,
    *,
    datasource_uid: str = "prometheus",
    policies: Policies = policy_for_slo,
    postgres_datasource_uid: str | None = None,
    trace_url_template: str = "",
) -> list[Path]:
    """Build the dashboards and write one pretty-printed JSON file each into `out_dir`
    (arguments as for `build_dashboards`)."""
    dashboards = build_dashboards(
        slos,
        datasource_uid=datasource_uid,
        policies=policies,
        postgres_datasource_uid=postgres_datasource_uid,
        trace_url_template=trace_url_template,
    )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, body in dashboards.items():
        path = out_dir / name
        path.write_text(json.dumps(body, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        paths.append(path)
    return paths
