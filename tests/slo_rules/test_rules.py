"""Generated rules pass `promtool check rules` and compute the right SLI values
(`promtool test rules` with promql_expr_test on collector-shaped series)."""

from __future__ import annotations

import yaml

from slo.rules import build_rules, skipped_slos, write_rules
from slo.spec import parse_slos

SLOS = [
    {
        "name": "jobs",
        "objective": 0.99,
        "sli": {"kind": "job_success", "backend": ["ibm.a", "b"]},
        "window": "28d",
    },
    {
        "name": "auth",
        "objective": 0.999,
        "sli": {"kind": "auth_errors", "project": "chem"},
        "window": "7d",
    },
    {
        "name": "queue",
        "objective": 0.9,
        "sli": {"kind": "queue_latency", "threshold_seconds": 300},
        "window": "30d",
    },
    {
        "name": "e2e",
        "objective": 0.9,
        "sli": {"kind": "e2e_latency", "threshold_seconds": 0.5},
        "window": "4w",
        "policy": "two-four",
    },
    {
        "name": "fidelity",
        "objective": 0.95,
        "sli": {"kind": "fidelity", "backend": "b"},
        "window": {"calendar": "month", "time_zone": "Europe/Berlin"},
    },
    {
        "name": "divergence",
        "objective": 0.95,
        "sli": {"kind": "divergence"},
        "window": {"calendar": "week"},
    },
    {
        "name": "spend",
        "objective": 0.9,
        "sli": {"kind": "cost_budget", "budget_usd": 4320, "project": "chem"},
        "window": "30d",
    },
    {
        "name": "tagged",
        "objective": 0.99,
        "sli": {"kind": "job_success", "tags": {"team": "x"}},
        "window": "30d",
    },
    {
        "name": "queue-by-project",
        "objective": 0.99,
        "sli": {"kind": "queue_latency", "threshold_seconds": 60, "project": "p"},
        "window": "30d",
    },
]


def _slos():
    return parse_slos(SLOS, "qsre.yaml")


def test_rules_for_every_kind_pass_promtool_check(tmp_path, promtool):
    path = write_rules(_slos(), tmp_path, "https://rb.example/runbooks")
    result = promtool("check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    text = path.read_text()
    assert "# SLO tagged skipped: tag filters" in text
    assert (
        "# SLO queue-by-project skipped: metrics behind queue_latency have no project label" in text
    )
    groups = {g["name"] for g in yaml.safe_load(text)["groups"]}
    assert groups == {f"qsre-slo-{s['name']}" for s in SLOS[:7]}
    assert 'qsre_job_queue_seconds_bucket{le="300.0"}' in text
    assert [name for name, _ in skipped_slos(_slos())] == ["tagged", "queue-by-project"]


def test_contract_rule_names_and_alert_labels():
    rules = build_rules(_slos()[:1], "https://rb.example/runbooks")["groups"][0]["rules"]
    records = {r["record"] for r in rules if "record" in r}
    for w in ("5m", "30m", "1h", "2h", "6h", "1d", "3d", "28d"):
        assert f"slo:sli_error:ratio_rate{w}" in records
    assert {
        "slo:objective:ratio",
        "slo:error_budget:ratio",
        "slo:period_error_budget_remaining:ratio",
        "slo:current_burn_rate:ratio",
    } <= records
    alerts = {r["alert"]: r for r in rules if "alert" in r}
    page = alerts["QsreSLOBurnRatePage"]
    assert page["labels"] == {"slo": "jobs", "severity": "page", "kind": "slo_burn_page"}
    assert page["annotations"]["runbook_url"] == "https://rb.example/runbooks/slo_burn_page.md"
    assert alerts["QsreSLOBurnRateTicket"]["labels"]["kind"] == "slo_burn_ticket"
    # 28 d period: workbook factors 13.44 and 5.6 for the page pairs (budget 1%).
    assert "> 0.1344" in page["expr"] and "> 0.056" in page["expr"]


def test_without_a_runbook_base_url_rules_link_the_installed_runbook_files():
    from runbooks.catalog import runbook_for

    groups = build_rules(_slos()[:1], "", evaluation_interval_s=60)["groups"]
    links = {
        r["labels"]["kind"]: r["annotations"]["runbook_url"]
        for g in groups
        for r in g["rules"]
        if "alert" in r
    }
    assert set(links) == {"slo_burn_page", "slo_burn_ticket", "evaluation_stalled"}
    for kind, url in links.items():
        assert url == runbook_for(kind).path.as_uri(), url


def test_recorded_values_match_the_sli_definitions(tmp_path, promtool):
    """1 h after start, with steady counters: job_success 2% errors (cancelled jobs
    ignored), queue latency 25% over 300 s, spend at twice the budgeted rate."""
    rule_file = tmp_path / "rules.yaml"
    rule_file.write_text(yaml.safe_dump(build_rules(_slos(), "https://rb"), sort_keys=False))
    series = [
        ('qsre_jobs_total{backend="b", project="chem", status="done", error_class=""}', "0+98x120"),
        (
            'qsre_jobs_total{backend="b", project="chem", status="error", error_class="auth"}',
            "0+2x120",
        ),
        (
            'qsre_jobs_total{backend="b", project="chem", status="cancelled", error_class=""}',
            "0+50x120",
        ),
        (
            'qsre_jobs_total{backend="other", project="x", status="error", error_class="backend"}',
            "0+100x120",
        ),
        ('qsre_job_queue_seconds_bucket{backend="b", le="300.0"}', "0+30x120"),
        ('qsre_job_queue_seconds_bucket{backend="b", le="+Inf"}', "0+40x120"),
        ('qsre_job_queue_seconds_count{backend="b"}', "0+40x120"),
        ('qsre_cost_usd_total{backend="b", project="chem"}', "0+0.2x120"),
    ]
    tests = {
        "rule_files": [rule_file.name],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [{"series": s, "values": v} for s, v in series],
                "promql_expr_test": [
                    _expr("slo:sli_error:ratio_rate1h", "jobs", "job_success", 0.02),
                    _expr("slo:current_burn_rate:ratio", "jobs", "job_success", 2.0),
                    _expr("slo:sli_error:ratio_rate1h", "auth", "auth_errors", 2 / 150),
                    _expr("slo:sli_error:ratio_rate5m", "queue", "queue_latency", 0.25),
                    _expr("slo:current_burn_rate:ratio", "spend", "cost_budget", 2.0),
                    {
                        "expr": 'slo:objective:ratio{slo="jobs"}',
                        "eval_time": "60m",
                        "exp_samples": [
                            {"labels": 'slo:objective:ratio{slo="jobs"}', "value": 0.99}
                        ],
                    },
                ],
            }
        ],
    }
    test_file = tmp_path / "test.yaml"
    test_file.write_text(yaml.safe_dump(tests, sort_keys=False))
    result = promtool("test", "rules", str(test_file))
    assert result.returncode == 0, result.stdout + result.stderr


def _expr(record: str, slo: str, kind: str, value: float) -> dict:
    return {
        "expr": f'round({record}{{slo="{slo}"}}, 0.000001)',
        "eval_time": "60m",
        "exp_samples": [
            {"labels": f'{{slo="{slo}", sli_kind="{kind}"}}', "value": round(value, 6)}
        ],
    }
