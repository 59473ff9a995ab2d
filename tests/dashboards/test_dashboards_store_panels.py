"""Store panels: PostgreSQL table panels next to the Prometheus ones, or a pointer to
`qsre jobs` on SQLite; valid Grafana JSON either way; macros expanded as Grafana does."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from dash_testkit import SLOS, all_panels

from dashboards import (
    DashboardSpecError,
    build_dashboards,
    expand_macros,
    panel_queries,
    sql_queries,
)
from dashboards.sql import POSTGRES_TYPE

PG = {"type": POSTGRES_TYPE, "uid": "qsre-store"}


@pytest.fixture(scope="module")
def pg_dashboards():
    return build_dashboards(
        SLOS,
        datasource_uid="prom-main",
        postgres_datasource_uid="qsre-store",
        trace_url_template="https://tempo.example/trace/{trace_id}",
    )


def test_postgres_dashboards_validate_and_do_not_overlap(pg_dashboards, schema_validator):
    for name, dash in pg_dashboards.items():
        errors = [
            f"{list(e.absolute_path)}: {e.message[:200]}"
            for e in schema_validator.iter_errors(dash)
        ]
        assert errors == [], name
        cells: set[tuple[int, int]] = set()
        ids = [p["id"] for p in all_panels(dash)]
        assert len(ids) == len(set(ids)), name
        for p in all_panels(dash):
            pos = p["gridPos"]
            assert pos["x"] + pos["w"] <= 24
            for x in range(pos["x"], pos["x"] + pos["w"]):
                for y in range(pos["y"], pos["y"] + pos["h"]):
                    assert (x, y) not in cells, f"{name}: {p['title']} overlaps"
                    cells.add((x, y))


def test_sql_panels_use_the_postgres_datasource_and_prometheus_panels_stay(
    pg_dashboards, dashboards
):
    for name in ("oncall.json", "debug.json"):
        sql_panels = [
            p
            for p in all_panels(pg_dashboards[name])
            if any("rawSql" in t for t in p.get("targets", []))
        ]
        assert sql_panels, name
        for panel in sql_panels:
            assert panel["type"] in ("table", "timeseries")
            fmt = "table" if panel["type"] == "table" else "time_series"
            assert panel["datasource"] == PG
            assert all(t["datasource"] == PG and t["format"] == fmt for t in panel["targets"])
        # The Prometheus panels are all still there, with the same queries.
        assert panel_queries(pg_dashboards[name]) == panel_queries(dashboards[name])
    (annotation,) = [
        a for a in pg_dashboards["debug.json"]["annotations"]["list"] if a.get("datasource") == PG
    ]
    assert annotation["name"] == "Version changes"
    # Executive and SLO dashboards have no per-job rows.
    for name in ("executive.json", "slo-job-success.json"):
        assert sql_queries(pg_dashboards[name]) == []


def test_sqlite_store_gets_a_pointer_to_qsre_jobs(dashboards):
    for name in ("oncall.json", "debug.json"):
        dash = dashboards[name]
        assert sql_queries(dash) == []
        texts = [p for p in all_panels(dash) if p["type"] == "text"]
        assert any("qsre jobs --status error" in p["options"]["content"] for p in texts), name


def test_heatmap_is_backend_by_circuit_over_time(dashboards):
    (panel,) = [
        p for p in all_panels(dashboards["debug.json"]) if p["title"].startswith("Fidelity heatmap")
    ]
    assert panel["type"] == "state-timeline"
    assert panel["fieldConfig"]["defaults"]["color"]["mode"] == "continuous-RdYlGr"
    assert (panel["fieldConfig"]["defaults"]["min"], panel["fieldConfig"]["defaults"]["max"]) == (
        0.7,
        1.0,
    )
    (target,) = panel["targets"]
    assert target["expr"].startswith("qsre_validation_fidelity{")
    assert target["legendFormat"] == "{{backend}} {{circuit}}"


FROM = datetime(2026, 11, 17, 9, 0, tzinfo=UTC)
TO = datetime(2026, 11, 17, 10, 30, 0, 250000, tzinfo=UTC)


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("WHERE $__timeFilter(j.finished_at)",
         "WHERE j.finished_at BETWEEN '2026-11-17T09:00:00Z' AND '2026-11-17T10:30:00.25Z'"),
        ("SELECT $__timeFrom(), $__timeTo()", "SELECT '2026-11-17T09:00:00Z', '2026-11-17T10:30:00.25Z'"),
        ("SELECT $__time(ran_at)", 'SELECT ran_at AS "time"'),
        ("SELECT $__timeGroupAlias(ran_at, 5m)", 'SELECT floor(extract(epoch from ran_at)/300)*300 AS "time"'),
        ("GROUP BY $__timeGroup(ran_at, '1h')", "GROUP BY floor(extract(epoch from ran_at)/3600)*3600"),
        ("WHERE $__unixEpochFilter(t)", "WHERE t >= 1794906000 AND t <= 1794911400"),
        ("WHERE backend ~ '^(${backend:regex})$'", "WHERE backend ~ '^(.*)$'"),
    ],
)  # fmt: skip
def test_macro_expansion(sql, expected):
    assert expand_macros(sql, time_from=FROM, time_to=TO, variables={"backend": ".*"}) == expected


def test_unknown_macros_and_variables_fail():
    with pytest.raises(DashboardSpecError, match=r"\$__timeEpoch"):
        expand_macros("SELECT $__timeEpoch(t)", time_from=FROM, time_to=TO)
    with pytest.raises(DashboardSpecError, match=r"\$project"):
        expand_macros("WHERE project = '$project'", time_from=FROM, time_to=TO, variables={})


def _sections(dash):
    sections: dict[str, list[str]] = {}
    current = ""
    for panel in dash["panels"]:
        if panel["type"] == "row":
            current = panel["title"]
            sections[current] = []
        else:
            sections.setdefault(current, []).append(panel["title"])
    return sections


def test_store_rows_hold_only_the_store_panels(pg_dashboards, dashboards):
    oncall = _sections(pg_dashboards["oncall.json"])
    assert oncall["Failing jobs (per job, from the store)"] == [
        "Failing jobs",
        "Top failing circuits (jobs)",
    ]
    assert "Backend verdicts" in oncall["Failures"]
    debug = _sections(pg_dashboards["debug.json"])
    assert debug["Problem jobs and their traces"] == [
        "Problem jobs (failed, retried, slower than p95)"
    ]
    # On SQLite the same rows hold one text panel each.
    assert _sections(dashboards["oncall.json"])["Failing jobs (per job, from the store)"] == [
        "Failing jobs and top failing circuits"
    ]
