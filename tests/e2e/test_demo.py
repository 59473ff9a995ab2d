"""`qsre demo` end to end: the simulated week detects every injected fault, and only them."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from qsre.demo import run_demo
from qsre.sim.world import InjectedFault
from runbooks import RUNBOOK_KINDS, runbook_url

pytestmark = pytest.mark.slow

SCORECARD_KEYS = {
    "fault",
    "backend",
    "injected_at",
    "detected",
    "detected_at",
    "alert",
    "severity",
    "runbook",
}


def test_every_injected_fault_is_detected_with_its_runbook(demo_week):
    demo = demo_week.demo
    card = demo.scorecard()
    injected = {f.fault for f in demo.world.faults}
    # The week covers every fault the world injects, each one of a known alert kind.
    assert {row.fault for row in card} == injected
    assert injected <= set(RUNBOOK_KINDS)
    base = demo.config.file.links.runbook_base_url
    for row in card:
        assert row.detected, f"{row.fault} on {row.backend or 'all backends'} was not detected"
        alert = next(
            a
            for a in demo.fired
            if a.labels.get("alertname") == row.alert
            and a.started_at.isoformat() == row.detected_at
        )
        assert alert.kind == row.fault
        if row.backend is not None:
            assert alert.backend == row.backend
        assert row.runbook == runbook_url(row.fault, base), row
        assert row.detected_at >= row.injected_at


def test_no_alert_on_a_backend_outside_its_injected_faults(demo_week):
    unexpected = demo_week.demo.unexpected_alerts()
    assert unexpected == [], "false alarms:\n" + "\n".join(
        f"{a.labels} at {a.started_at.isoformat()}" for a in unexpected
    )


def test_every_alert_that_fired_links_its_kinds_runbook(demo_week):
    demo = demo_week.demo
    base = demo.config.file.links.runbook_base_url
    assert demo.fired, "the demo week fired no alert at all"
    for alert in demo.fired:
        assert alert.kind in RUNBOOK_KINDS, alert.labels
        assert alert.runbook_url == runbook_url(alert.kind, base), alert.labels


def test_outputs_are_written(demo_week):
    paths = demo_week.paths
    dash_dir = Path(paths["dashboards"])
    names = {p.name for p in dash_dir.glob("*.json")}
    expected = {"executive.json", "oncall.json", "debug.json"} | {
        f"slo-{s.name}.json" for s in demo_week.demo.config.slos
    }
    assert names == expected
    for path in dash_dir.glob("*.json"):
        assert json.loads(path.read_text())["panels"], path
    rules = Path(paths["prometheus_rules"])
    assert rules.is_file() and "slo:sli_error:ratio_rate5m" in rules.read_text()
    html = Path(paths["weekly_report_html"])
    markdown = Path(paths["weekly_report_markdown"])
    assert html.is_file() and "<html" in html.read_text().lower()
    assert markdown.is_file() and markdown.read_text().strip()
    log = Path(paths["alert_log"])
    assert log.is_file()
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    assert lines, "the alert log is empty"


def test_every_page_that_fired_is_in_the_alert_log(demo_week):
    """Detection means a human was told: every page episode reached the alert log
    (regression: a 5 min auth signal window cleared before group_wait ever sent it)."""
    log = Path(demo_week.paths["alert_log"])
    text = log.read_text()
    base = demo_week.demo.config.file.links.runbook_base_url
    paged = {a.kind for a in demo_week.demo.fired if a.severity == "page"}
    missing = {k for k in paged if f"runbook={runbook_url(k, base)}" not in text}
    assert missing == set(), f"pages missing from the alert log:\n{text}"


def test_run_demo_json_scorecard(tmp_path, capsys, monkeypatch):
    # A quarter day holds none of the week's faults; add one answer-key entry the
    # world never enacts (a backend outage in hour 1) so the JSON has a real row, and
    # an undetected fault must show as such and fail the exit code.
    import qsre.demo

    real_world = qsre.demo.demo_world

    def world_with_a_phantom_fault(clock, start):
        world = real_world(clock, start)
        phantom = InjectedFault(
            "backend_down", "sim-stable", start + timedelta(hours=1), "never enacted"
        )
        return replace(world, faults=(*world.faults, phantom))

    monkeypatch.setattr(qsre.demo, "demo_world", world_with_a_phantom_fault)
    code = run_demo(out=tmp_path / "demo", days=0.25, as_json=True, serve=False, port=0)
    rows = json.loads(capsys.readouterr().out)
    assert isinstance(rows, list) and rows
    assert all(isinstance(r, dict) and set(r) == SCORECARD_KEYS for r in rows)
    assert rows == [
        {
            "fault": "backend_down",
            "backend": "sim-stable",
            "injected_at": "2026-11-16T01:00:00+00:00",
            "detected": False,
            "detected_at": None,
            "alert": None,
            "severity": None,
            "runbook": None,
        }
    ]
    assert code == 1
    # the scorecard file holds the same rows, plus the detection delay
    on_disk = json.loads((tmp_path / "demo" / "scorecard.json").read_text())
    assert [{k: v for k, v in r.items() if k != "delay_minutes"} for r in on_disk] == rows
