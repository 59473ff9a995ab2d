"""PromQL extraction, metric-name tokenizing, and every query parses in real promtool."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from dashboards import metric_names_in, panel_queries


@pytest.mark.parametrize(
    ("promql", "expected"),
    [
        ("qsre_jobs_total", {"qsre_jobs_total"}),
        (
            'sum by (backend, error_class) (rate(qsre_jobs_total{status="error", '
            'backend=~"ibm_.*|rate"}[5m]))',
            {"qsre_jobs_total"},
        ),
        (
            "histogram_quantile(0.95, sum by (le) (rate(qsre_job_queue_seconds_bucket[5m])))",
            {"qsre_job_queue_seconds_bucket"},
        ),
        (
            "sum without (instance) (rate(qsre_shots_total[1h])) / on(backend) group_left(project) "
            "sum(rate(qsre_jobs_total[1h]))",
            {"qsre_shots_total", "qsre_jobs_total"},
        ),
        ('slo:sli_error:ratio_rate1h{slo="a"} / 0.001 > bool 14.4', {"slo:sli_error:ratio_rate1h"}),
        ("topk(10, x_total offset 1h) and on() vector(1)", {"x_total"}),
        ('{__name__="qsre_alerts_firing", kind="auth_failure"}', {"qsre_alerts_firing"}),
        ("count(up) - 1e3 + Inf", {"up"}),
        ('label_replace(a_total, "dst", "$1", "src", "(sum|rate)")', {"a_total"}),
        ("avg_over_time(qsre_validation_fidelity[1h:5m]) @ end()", {"qsre_validation_fidelity"}),
    ],
)
def test_metric_names_in(promql, expected):
    assert metric_names_in(promql) == expected


def test_panel_queries_covers_targets_annotations_and_variables(dashboards):
    dash = dashboards["oncall.json"]
    queries = panel_queries(dash)
    n_targets = sum(len(p.get("targets", [])) for p in dash["panels"])
    # 2 annotation queries + the backend variable's series selector
    assert len(queries) == n_targets + 2 + 1
    assert "qsre_jobs_total" in queries  # from label_values(qsre_jobs_total, backend)
    assert any(q.startswith("resets(qsre_backend_calibration_age_seconds") for q in queries)
    assert not any("$" in q for q in queries)
    raw = panel_queries(dash, variables=None)
    assert any('backend=~"$backend"' in q for q in raw)


def test_every_referenced_metric_is_in_the_catalogue(dashboards, catalogue):
    unknown = {
        (name, metric)
        for name, dash in dashboards.items()
        for q in panel_queries(dash)
        for metric in metric_names_in(q)
        if metric not in catalogue
    }
    assert unknown == set()


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed")
def test_every_query_parses_in_promtool(dashboards, tmp_path):
    # promtool check rules parses each rule's expr with Prometheus's own PromQL parser.
    queries = sorted({q for dash in dashboards.values() for q in panel_queries(dash)})
    rules = [{"record": f"qsre:dashboard_check:{i}", "expr": q} for i, q in enumerate(queries)]
    path = tmp_path / "rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    proc = subprocess.run(
        ["promtool", "check", "rules", str(path)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"{len(queries)} rules found" in proc.stdout
