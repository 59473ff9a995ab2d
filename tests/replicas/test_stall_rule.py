"""QsreEvaluationStalled in the real promtool: fires when the daemon is killed (its
gauge goes stale, then absent) or wedged (still scraped, timestamp frozen), not while
it evaluates every interval."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from slo.rules import STALL_ALERT_NAME, build_rules, write_rules

PROMTOOL = shutil.which("promtool")
METRIC = "qsre_last_evaluation_timestamp_seconds"
RUNBOOKS = "https://rb.example/runbooks/"


def _run_promtool(
    tmp_path: Path, series: str, checks: list[tuple[str, bool]], *, per_instance: bool = False
) -> None:
    if PROMTOOL is None:
        pytest.skip("SKIPPED LOUDLY: promtool not found (apt-get install prometheus)")
    rules = build_rules([], RUNBOOKS, evaluation_interval_s=60)
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rules, sort_keys=False))
    (rule,) = rules["groups"][-1]["rules"]
    # A wedged process is named by its own series' labels; a dead fleet by none.
    labels = {**rule["labels"], **({"instance": "q1"} if per_instance else {})}
    tests = []
    for at, firing in checks:
        exp = []
        if firing:
            exp = [{"exp_labels": labels, "exp_annotations": rule["annotations"]}]
        tests.append({"eval_time": at, "alertname": STALL_ALERT_NAME, "exp_alerts": exp})
    spec = {
        "rule_files": ["rules.yaml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [{"series": f'{METRIC}{{instance="q1"}}', "values": series}]
                if series
                else [],
                "alert_rule_test": tests,
            }
        ],
    }
    (tmp_path / "test.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    proc = subprocess.run(
        [PROMTOOL, "test", "rules", "test.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


def test_healthy_daemon_never_stalls(tmp_path):
    # The gauge is Unix time of the last cycle: one cycle per minute, from t=0.
    _run_promtool(tmp_path, "0+60x30", [("5m", False), ("20m", False), ("30m", False)])


def test_killed_daemon_fires(tmp_path):
    # Scraped for 10 minutes, then the process dies: a stale marker, then nothing.
    _run_promtool(tmp_path, "0+60x10 stale", [("10m", False), ("11m", False), ("13m", True)])


def test_wedged_daemon_fires_after_three_intervals(tmp_path):
    # Still scraped (the HTTP thread lives) but the last cycle finished at t=300 s:
    # stalled once time() - 300 > 180, i.e. from 9 m; firing after the 1 m ``for``.
    _run_promtool(
        tmp_path,
        "0+60x5 300x30",
        [("8m", False), ("9m", False), ("10m", True), ("30m", True)],
        per_instance=True,
    )


def test_never_started_fires(tmp_path):
    _run_promtool(tmp_path, "", [("0m", False), ("2m", True)])


def test_rule_file_passes_promtool_check_and_is_opt_in(tmp_path):
    if PROMTOOL is None:
        pytest.skip("SKIPPED LOUDLY: promtool not found (apt-get install prometheus)")
    assert all(g["name"] != "qsre-daemon" for g in build_rules([], RUNBOOKS)["groups"])
    path = write_rules([], tmp_path, RUNBOOKS, evaluation_interval_s=30)
    proc = subprocess.run([PROMTOOL, "check", "rules", str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (group,) = yaml.safe_load(path.read_text())["groups"]
    (rule,) = group["rules"]
    assert "> 90" in rule["expr"] and rule["for"] == "30s"
    assert rule["annotations"]["runbook_url"] == RUNBOOKS + "evaluation_stalled.md"
