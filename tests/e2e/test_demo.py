"""`qsre demo` end to end: the simulated week detects every failure mode F1..F8, each by
the alert of its own kind, and nothing else; the user's config runs without contacting
any of its receivers."""

from __future__ import annotations

import io
import json
import threading
from dataclasses import replace
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import yaml
from rich.console import Console

from qsre.config import EMBEDDED_DEFAULT
from qsre.demo import EXPLAINED_KINDS, run_demo, scorecard_table
from qsre.sim.world import InjectedFault
from runbooks.catalog import (
    FAILURE_MODES,
    RUNBOOK_KINDS,
    failure_mode_id,
    runbook_for,
    runbook_url,
)

pytestmark = pytest.mark.slow

SCORECARD_KEYS = {
    "failure_mode",
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
    # The week covers every fault the world injects: one per failure mode F1..F8, in
    # that order on the scorecard.
    assert {row.fault for row in card} == injected == set(FAILURE_MODES)
    assert [row.failure_mode for row in card] == [f"F{i}" for i in range(1, 9)]
    assert all(row.failure_mode == failure_mode_id(row.fault) for row in card)
    assert set(EXPLAINED_KINDS) == set(FAILURE_MODES)
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


def test_runbook_links_work_offline_by_default(demo_week):
    """No links.runbook_base_url in the default config: every alert links the installed
    runbook file, which exists and is the text `qsre runbook show KIND` renders."""
    demo = demo_week.demo
    assert demo.config.file.links.runbook_base_url == ""
    for alert in demo.fired:
        parts = urlsplit(alert.runbook_url)
        assert parts.scheme == "file", alert.runbook_url
        path = Path(unquote(parts.path))
        assert path == runbook_for(alert.kind).path and path.is_file()


def test_scorecard_fits_80_columns_without_cutting_a_word(demo_week):
    card = demo_week.demo.scorecard()
    console = Console(width=80, record=True, color_system=None, file=io.StringIO())
    console.print(scorecard_table(card, "qsre demo scorecard", width=80, wide=False))
    text = console.export_text()
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 80, text
    assert "…" not in text
    # Every fault whole, with its number, its backend and its verdict on one line.
    for row in card:
        line = next(ln for ln in lines if f" {row.failure_mode} " in ln)
        assert row.fault in line and (row.backend or "(all)") in line and "yes" in line, text


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
            "failure_mode": None,
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


class _Recorder(BaseHTTPRequestHandler):
    """Stands in for Slack and a webhook: records every request it gets."""

    requests: list[str] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        type(self).requests.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"ok": true}')

    def log_message(self, *args: object) -> None:
        pass


def test_demo_runs_the_users_config_and_contacts_none_of_its_receivers(
    tmp_path, capsys, monkeypatch
):
    """`qsre demo -c qsre.yaml`: the user's signal thresholds, routes and runbook base
    URL are used; its Slack and webhook receivers are named in the alert log, and
    never called."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setenv("QSRE_TEST_SLACK_TOKEN", "xoxb-not-a-real-token")
    data = yaml.safe_load(EMBEDDED_DEFAULT.read_text())
    data["links"]["runbook_base_url"] = "https://wiki.example/qsre/runbooks"
    data["alerting"]["receivers"] = [
        {"name": "team-hook", "type": "webhook", "url": f"{url}/hook"},
        {
            "name": "slack-oncall",
            "type": "slack",
            "channel": "#quantum-oncall",
            "token_env": "QSRE_TEST_SLACK_TOKEN",
            "api_url": f"{url}/api/",
        },
    ]
    data["alerting"]["routing"]["routes"] = []
    data["alerting"]["routing"]["default_receiver"] = ["team-hook", "slack-oncall"]
    data["alerting"]["routing"]["group_wait_s"] = 0
    # Every job waits 2 s in the simulated queue: with a 1 s threshold the user's
    # queue_overload fires within the first quarter hour on every backend.
    data["alerting"]["signals"] = {"queue_overload": {"threshold_seconds": 1, "min_jobs": 1}}
    config_path = tmp_path / "qsre.yaml"
    config_path.write_text(yaml.safe_dump(data))
    try:
        code = run_demo(
            out=tmp_path / "demo",
            days=0.1,
            as_json=False,
            serve=False,
            port=0,
            config_path=config_path,
        )
    finally:
        server.shutdown()
    out = capsys.readouterr().out
    assert _Recorder.requests == []
    log = (tmp_path / "demo" / "alerts.log").read_text()
    wiki = "runbook=https://wiki.example/qsre/runbooks/queue_overload.md"
    for receiver in ("team-hook", "slack-oncall"):
        assert f" {receiver} FIRING " in log and wiki in log, log
    assert "team-hook" in out and "slack-oncall" in out and str(config_path) in out
    # The user's thresholds alert on healthy backends: the demo says so and fails.
    assert code == 1 and "unexpected" in out
