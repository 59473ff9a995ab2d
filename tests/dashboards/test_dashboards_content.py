"""Each dashboard answers the questions it exists for, with the contract's metrics."""

from __future__ import annotations

import pytest
from dash_testkit import SLOS, FakeSLO, all_panels, titles

from dashboards import (
    BurnPolicy,
    BurnWindow,
    DashboardSpecError,
    build_dashboards,
    metric_names_in,
    panel_queries,
)
from dashboards.slo_detail import dashboard_uid


def _panel(dash, title):
    matches = [p for p in all_panels(dash) if p.get("title") == title]
    assert len(matches) == 1, f"panel {title!r} not found once in {dash['title']}"
    return matches[0]


def _exprs(panel):
    return [t["expr"] for t in panel["targets"]]


def test_executive_panels(dashboards):
    dash = dashboards["executive.json"]
    assert {
        "Job success rate vs SLO",
        "Spend this week by backend",
        "Spend this month by backend",
        "Spend this week by project",
        "Spend this month by project",
        "Fidelity trend per backend",
        "Jobs in flight (backlog)",
        "Error budget remaining per SLO",
    } <= titles(dash)
    assert any("[7d]" in e for e in _exprs(_panel(dash, "Spend this week by backend")))
    assert any(
        "qsre_slo_error_budget_remaining_ratio" in e
        for e in _exprs(_panel(dash, "Error budget remaining per SLO"))
    )


def test_oncall_queue_percentiles_and_top_failing_circuits(dashboards):
    dash = dashboards["oncall.json"]
    queue = _exprs(_panel(dash, "Queue latency percentiles"))
    assert len(queue) == 3
    assert all(
        e.startswith("histogram_quantile(") and "qsre_job_queue_seconds_bucket" in e for e in queue
    )
    top = _exprs(_panel(dash, "Top failing circuits"))[0]
    assert top.startswith("topk(") and 'verdict!="ok"' in top
    assert "qsre_validation_runs_total" in top
    for title in (
        "Failing jobs by error class",
        "Auth error rate",
        "Calibration age",
        "Recalibration events",
        "Burn rate per SLO and window",
        "Firing alerts",
    ):
        _panel(dash, title)


def test_debug_panels(dashboards):
    dash = dashboards["debug.json"]
    assert _panel(dash, "Fidelity per reference circuit")["type"] == "state-timeline"
    retries = _exprs(_panel(dash, "Retries: attempts per job"))[0]
    assert "qsre_job_attempts_total" in retries and "qsre_jobs_total" in retries
    breakdown = " ".join(_exprs(_panel(dash, "Run vs queue latency (p50 / p95)")))
    assert "qsre_job_run_seconds_bucket" in breakdown
    assert "qsre_job_queue_seconds_bucket" in breakdown
    assert {"Spool events by state", "Recorder errors", "Drift statistic"} <= titles(dash)


def test_slo_dashboard_draws_each_policy_window_with_its_threshold(dashboards):
    dash = dashboards["slo-job-success.json"]
    assert dash["uid"] == "qsre-slo-job-success"
    burn = _panel(dash, "Burn rate 1h / 5m (page at 14.4×)")
    assert _exprs(burn) == [
        'slo:sli_error:ratio_rate1h{slo="job-success"} / 0.001',
        'slo:sli_error:ratio_rate5m{slo="job-success"} / 0.001',
    ]
    steps = burn["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert [s["value"] for s in steps] == [None, 14.4]
    assert burn["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"]["mode"] == "dashed"
    assert "Burn rate 3d / 6h (ticket at 1×)" in titles(dash)
    sli = _panel(dash, "SLI vs objective")
    assert 'slo:sli_error:ratio_rate30d{slo="job-success"}' in " ".join(_exprs(sli))
    assert "Error budget burn-down" in titles(dash)
    # the 28-day policy draws the 28-day factors and period window
    other = dashboards["slo-queue-latency.json"]
    assert "Burn rate 1h / 5m (page at 13.44×)" in titles(other)
    assert any("ratio_rate28d" in q for q in panel_queries(other))
    assert all('slo="queue-latency"' in q for q in panel_queries(other) if "slo:" in q)


def test_custom_policy_is_data():
    policy = BurnPolicy(period="7d", windows=(BurnWindow("page", "2h", "5m", 10.0),))
    dash = build_dashboards([FakeSLO("api", 0.95, "d", "fast")], policies={"fast": policy})[
        "slo-api.json"
    ]
    assert "Burn rate 2h / 5m (page at 10×)" in titles(dash)
    assert 'slo:sli_error:ratio_rate2h{slo="api"} / 0.05' in panel_queries(dash)


def test_bad_inputs_fail_with_the_field_named():
    with pytest.raises(DashboardSpecError, match=r"slo\[job-success\]\.policy.*'nope'"):
        build_dashboards([FakeSLO("job-success", 0.999, "", "nope")])
    with pytest.raises(DashboardSpecError, match="objective"):
        build_dashboards([FakeSLO("x", 1.5, "", "sre-workbook")])
    with pytest.raises(DashboardSpecError, match="slo.name"):
        build_dashboards([FakeSLO("Has Spaces", 0.9, "", "sre-workbook")])
    with pytest.raises(DashboardSpecError, match="only one SLO"):
        build_dashboards([SLOS[0], SLOS[0]])
    with pytest.raises(DashboardSpecError, match="long_window"):
        BurnWindow("page", "an hour", "5m", 14.4)


def test_long_slo_names_get_stable_short_uids():
    name = "a-very-long-slo-name-that-goes-on-and-on-for-a-while"
    uid = dashboard_uid(name)
    assert len(uid) <= 40 and uid == dashboard_uid(name)
    assert uid != dashboard_uid(name + "-2")


def test_policies_can_be_a_function_of_the_slo():
    def policy_for(slo):
        return BurnPolicy(period="7d", windows=(BurnWindow("page", "1h", "5m", 2.0),))

    dash = build_dashboards([FakeSLO("api", 0.9, "d", "whatever")], policies=policy_for)
    assert "Burn rate 1h / 5m (page at 2×)" in titles(dash["slo-api.json"])
    assert any("ratio_rate7d" in q for q in panel_queries(dash["slo-api.json"]))


def test_real_slo_spec_objects_are_accepted():
    spec = pytest.importorskip("slo.spec")
    slos = spec.parse_slos(
        [
            {
                "name": "ibm-jobs",
                "description": "Jobs on IBM hardware finish",
                "objective": 0.99,
                "sli": {"kind": "job_success"},
                "window": "30d",
            }
        ],
        "qsre.yaml",
    )
    dash = build_dashboards(slos)["slo-ibm-jobs.json"]
    assert dash["title"] == "qsre SLO: ibm-jobs"
    assert 'slo:sli_error:ratio_rate1h{slo="ibm-jobs"} / 0.01' in panel_queries(dash)


def test_real_slo_dashboards_follow_the_slo_window_and_the_generated_rules():
    spec = pytest.importorskip("slo.spec")
    rules_mod = pytest.importorskip("slo.rules")
    slos = spec.parse_slos(
        [
            {
                "name": "weekly-jobs",
                "objective": 0.99,
                "sli": {"kind": "job_success"},
                "window": "7d",
            },
            {
                "name": "calendar-spend",
                "objective": 0.9,
                "sli": {"kind": "cost_budget", "budget_usd": 100},
                "window": {"calendar": "week", "time_zone": "UTC"},
                "policy": "two-four",
            },
        ],
        "qsre.yaml",
    )
    dashes = build_dashboards(slos)
    recorded = {
        r["record"]
        for g in rules_mod.build_rules(slos, "https://runbooks.example/")["groups"]
        for r in g["rules"]
        if "record" in r
    }
    weekly = dashes["slo-weekly-jobs.json"]
    # 7-day period: 2 % of the budget in 1 h is a 3.36x burn, 10 % in 3 d is 0.2333x.
    assert "Burn rate 1h / 5m (page at 3.36×)" in titles(weekly)
    assert "Burn rate 3d / 6h (ticket at 0.233333×)" in titles(weekly)
    assert any('slo:sli_error:ratio_rate7d{slo="weekly-jobs"}' in q for q in panel_queries(weekly))
    spend = dashes["slo-calendar-spend.json"]
    assert "Burn rate 1h / 5m (page at 4×)" in titles(spend)
    for dash in (weekly, spend):
        names = {m for q in panel_queries(dash) for m in metric_names_in(q) if m.startswith("slo:")}
        assert names and names <= recorded
        assert not any("ratio_rate30d" in q for q in panel_queries(dash))


def test_slo_without_prometheus_rules_is_drawn_from_engine_gauges():
    spec = pytest.importorskip("slo.spec")
    slos = spec.parse_slos(
        [
            {
                "name": "tagged",
                "objective": 0.99,
                "sli": {"kind": "job_success", "tags": {"team": "chem"}},
                "window": "30d",
            }
        ],
        "qsre.yaml",
    )
    queries = panel_queries(build_dashboards(slos)["slo-tagged.json"])
    assert queries and not any("slo:" in q for q in queries)
    assert 'qsre_slo_sli_ratio{slo="tagged"}' in queries
    assert 'qsre_slo_burn_rate{slo="tagged"}' in queries
