"""Generated dashboards are valid modern Grafana JSON (Grafana's published schema)."""

from __future__ import annotations

import json

from dash_testkit import all_panels
from grafanalib._gen import DashboardEncoder

from dashboards import executive
from dashboards.schema_fix import modernize


def test_every_dashboard_validates_against_grafana_schema(dashboards, schema_validator):
    assert set(dashboards) == {
        "executive.json",
        "oncall.json",
        "debug.json",
        "slo-job-success.json",
        "slo-queue-latency.json",
    }
    for name, dash in dashboards.items():
        errors = [
            f"{list(e.absolute_path)}: {e.message[:200]}"
            for e in schema_validator.iter_errors(dash)
        ]
        assert errors == [], f"{name} rejected by Grafana's schema:\n" + "\n".join(errors)


def test_raw_grafanalib_output_is_rejected_so_the_fix_matters(schema_validator):
    raw = json.loads(json.dumps(executive.build("p").to_json_data(), cls=DashboardEncoder))
    assert len(list(schema_validator.iter_errors(raw))) >= 10
    assert list(schema_validator.iter_errors(modernize(raw))) == []
    # modernize must not mutate its input (callers may keep the raw dict)
    assert "rows" in raw and raw["schemaVersion"] == 12


def test_modern_schema_version_and_no_legacy_keys(dashboards):
    for dash in dashboards.values():
        assert dash["schemaVersion"] >= 39
        for key in ("rows", "style", "sharedCrosshair", "hideControls", "__inputs"):
            assert key not in dash


def test_datasources_are_type_uid_objects_pointing_at_the_variable(dashboards):
    for name, dash in dashboards.items():
        for panel in all_panels(dash):
            if panel["type"] in ("row", "text"):
                continue
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, name
            for target in panel["targets"]:
                assert target["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        variable = dash["templating"]["list"][0]
        assert variable["type"] == "datasource" and variable["query"] == "prometheus"
        assert variable["current"]["value"] == "prom-main"


def test_backend_variable_and_annotations(dashboards):
    for name, dash in dashboards.items():
        variables = {v["name"]: v for v in dash["templating"]["list"]}
        if not name.startswith("slo-"):
            backend = variables["backend"]
            assert backend["query"] == "label_values(qsre_jobs_total, backend)"
            assert backend["multi"] and backend["includeAll"]
        exprs = [a.get("expr", "") for a in dash["annotations"]["list"]]
        assert any('ALERTS{alertstate="firing"' in e for e in exprs), name
        assert any("qsre_backend_calibration_age_seconds" in e for e in exprs), name


def test_panel_ids_unique_and_grid_has_no_overlaps(dashboards):
    for name, dash in dashboards.items():
        panels = all_panels(dash)
        ids = [p["id"] for p in panels]
        assert len(ids) == len(set(ids)), name
        cells: set[tuple[int, int]] = set()
        for p in panels:
            pos = p["gridPos"]
            assert pos["x"] >= 0 and pos["x"] + pos["w"] <= 24, (name, p["title"])
            for x in range(pos["x"], pos["x"] + pos["w"]):
                for y in range(pos["y"], pos["y"] + pos["h"]):
                    assert (x, y) not in cells, f"{name}: {p['title']} overlaps another panel"
                    cells.add((x, y))


def test_write_dashboards_round_trips(tmp_path):
    from dash_testkit import SLOS

    from dashboards import write_dashboards

    paths = write_dashboards(SLOS[:1], tmp_path / "out", datasource_uid="x")
    assert sorted(p.name for p in paths) == [
        "debug.json",
        "executive.json",
        "oncall.json",
        "slo-job-success.json",
    ]
    loaded = json.loads((tmp_path / "out" / "oncall.json").read_text())
    assert loaded["uid"] == "qsre-oncall"
