"""The metric catalogue is the contract dashboards, rules and exporters share."""

from __future__ import annotations

import pytest

from collector import metrics as m

CONTRACT = {
    "qsre_jobs_total": ("counter", ("backend", "project", "status", "error_class")),
    "qsre_job_attempts_total": ("counter", ("backend",)),
    "qsre_job_queue_seconds": ("histogram", ("backend",)),
    "qsre_job_run_seconds": ("histogram", ("backend",)),
    "qsre_job_e2e_seconds": ("histogram", ("backend",)),
    "qsre_jobs_in_flight": ("gauge", ("backend",)),
    "qsre_shots_total": ("counter", ("backend", "project")),
    "qsre_cost_usd_total": ("counter", ("backend", "project")),
    "qsre_backend_calibration_age_seconds": ("gauge", ("backend",)),
    "qsre_spool_events": ("gauge", ("state",)),
    "qsre_recorder_errors_total": ("counter", ("recorder",)),
    "qsre_validation_runs_total": ("counter", ("backend", "circuit", "verdict")),
    "qsre_validation_fidelity": ("gauge", ("backend", "circuit")),
    "qsre_validation_divergence_tvd": ("gauge", ("backend", "circuit")),
    "qsre_drift_statistic": ("gauge", ("backend", "circuit")),
    "qsre_backend_verdict": ("gauge", ("backend", "verdict")),
    "qsre_slo_error_budget_remaining_ratio": ("gauge", ("slo",)),
    "qsre_slo_burn_rate": ("gauge", ("slo", "window")),
    "qsre_slo_sli_ratio": ("gauge", ("slo",)),
    "qsre_alerts_firing": ("gauge", ("kind", "severity")),
    "qsre_last_evaluation_timestamp_seconds": ("gauge", ()),
    "qsre_daemon_info": ("gauge", ("replica",)),
    "qsre_lease_held": ("gauge", ("lease",)),
}


def test_catalogue_matches_the_naming_contract():
    assert {s.name: (s.type, s.labels) for s in m.CATALOGUE} == CONTRACT
    assert len({s.name for s in m.CATALOGUE}) == len(m.CATALOGUE)


def test_latency_buckets_are_the_contract_and_used_by_histograms():
    assert m.LATENCY_BUCKETS_SECONDS == (
        0.01,
        0.05,
        0.1,
        0.5,
        1,
        5,
        10,
        30,
        60,
        120,
        300,
        600,
        1800,
        3600,
        7200,
        21600,
        86400,
    )
    for name in ("qsre_job_queue_seconds", "qsre_job_run_seconds", "qsre_job_e2e_seconds"):
        assert m.spec(name).buckets == m.LATENCY_BUCKETS_SECONDS


def test_catalogue_names_include_histogram_series():
    names = m.catalogue_names()
    for suffix in ("_bucket", "_sum", "_count"):
        assert f"qsre_job_e2e_seconds{suffix}" in names
    assert "qsre_jobs_total" in names and "qsre_slo_burn_rate" in names
    assert "qsre_jobs_total_bucket" not in names


def test_no_unbounded_labels_anywhere():
    for s in m.CATALOGUE:
        assert not m.FORBIDDEN_LABELS & set(s.labels), s.name
        assert all(h.strip() for h in (s.help,)), s.name


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"name": "qsre_jobs", "type": "counter", "help": "x"}, "_total"),
        ({"name": "qsre_up_total", "type": "gauge", "help": "x"}, "reserved"),
        ({"name": "jobs_total", "type": "counter", "help": "x"}, "qsre_"),
        (
            {"name": "qsre_x_total", "type": "counter", "help": "x", "labels": ("job_id",)},
            "cardinality",
        ),
        ({"name": "qsre_x_seconds", "type": "histogram", "help": "x"}, "buckets"),
    ],
)
def test_metric_spec_rejects_bad_definitions(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        m.MetricSpec(**kwargs)


def test_unknown_spec_lookup_names_the_metric():
    with pytest.raises(KeyError, match="qsre_nope"):
        m.spec("qsre_nope")
