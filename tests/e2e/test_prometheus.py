"""A real Prometheus scrapes qsre's /metrics for the demo week and evaluates its rules.

The exporter is wired like `qsre run` wires it (store exporter + validation metrics +
the SLO engine's gauges + the alert router's qsre_alerts_firing), the generated SLO
rules are loaded, and every PromQL query of every generated dashboard panel must
return data.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from collector.exporter import StoreExporter, serve_metrics, stop_metrics_server
from dashboards import build_dashboards, panel_queries
from qsre.daemon import _AlertsSource
from slo.rules import build_rules, write_rules
from validators.metrics import ValidationMetrics
from validators.store import ValidationStore

pytestmark = pytest.mark.slow

PROMETHEUS = "/usr/bin/prometheus"
STARTUP_TIMEOUT_S = 30.0
# Rules are evaluated every second; wait for this many evaluations with two or more
# samples in every window so that rate() has something to work on.
EVALUATION_CYCLES = 4

# Queries that legitimately return nothing while nothing is happening. Only
# annotations may be event queries: a panel must always show data (or it cannot be
# told apart from a broken scrape). Each exclusion names the dashboard part and why.
EVENT_QUERIES: dict[str, str] = {
    'ALERTS{alertstate="firing", alertname=~"Qsre.*"}': (
        "annotation 'qsre alerts': Prometheus-evaluated alerts; the generated burn-rate "
        "alerts need one long window of history in Prometheus before they can fire"
    ),
    'resets(qsre_backend_calibration_age_seconds{backend=~".*"}[5m]) > 0': (
        "annotation 'Recalibrations': marks only the moments a calibration age dropped"
    ),
    "resets(qsre_backend_calibration_age_seconds[5m]) > 0": (
        "annotation 'Recalibrations' on per-SLO dashboards (no backend variable there)"
    ),
}

# Panel queries over a counter that has no series until its first increment. The
# panel is right to show it; the exporter should emit 0 for the recorders it owns
# ("exporter", "exporter_source") so that "no errors" and "no scrape" differ (change
# requested in collector/exporter.py). Until a sample exists these are not checked;
# once the metric has any sample they must return data like every other panel.
NEEDS_FIRST_INCREMENT: dict[str, str] = {
    "sum by (recorder) (rate(qsre_recorder_errors_total[5m]))": "qsre_recorder_errors_total",
}


@dataclass(frozen=True)
class PromServer:
    url: str
    rules: dict[str, Any]
    log_path: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _annotation_queries(dash: dict[str, Any]) -> set[str]:
    no_panels = {**dash, "panels": [], "templating": {"list": []}}
    return set(panel_queries(no_panels))


def _get(client: httpx.Client, path: str, **params: str) -> dict[str, Any]:
    resp = client.get(path, params=params)
    resp.raise_for_status()
    body = resp.json()
    assert body["status"] == "success", body
    return body["data"]


def _wait_until_scraped(client: httpx.Client, proc: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"prometheus exited with {proc.returncode}:\n{log_path.read_text()}")
        try:
            targets = _get(client, "/api/v1/targets")["activeTargets"]
            samples = _get(client, "/api/v1/query", query="count(qsre_jobs_total)")["result"]
        except httpx.HTTPError:
            time.sleep(0.5)
            continue
        if targets and all(t["health"] == "up" for t in targets) and samples:
            return
        time.sleep(0.5)
    pytest.fail(
        f"prometheus did not scrape qsre within {STARTUP_TIMEOUT_S:.0f} s:\n{log_path.read_text()}"
    )


def _wait_for_rule_evaluations(client: httpx.Client) -> list[dict[str, Any]]:
    # Let the first evaluation that saw a second sample pass, then a few more.
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        groups = _get(client, "/api/v1/rules")["groups"]
        ready = bool(groups) and all(
            g["lastEvaluation"] > "2000" and g["rules"] for g in groups
        )  # RFC 3339 strings; Prometheus reports 0001-01-01 before the first evaluation
        if ready:
            break
        time.sleep(0.5)
    time.sleep(EVALUATION_CYCLES * 1.0 + 1.0)
    return _get(client, "/api/v1/rules")["groups"]


@pytest.fixture(scope="module")
def prometheus(demo_week, tmp_path_factory) -> Iterator[PromServer]:
    if not Path(PROMETHEUS).is_file():
        pytest.skip(
            f"REAL PROMETHEUS END-TO-END NOT RUN: {PROMETHEUS} is missing "
            "(apt-get install -y --no-install-recommends prometheus)"
        )
    demo = demo_week.demo
    work = tmp_path_factory.mktemp("prometheus")
    spool_dir = demo.recorder.directory

    def spool_events() -> dict[str, float]:
        # What the daemon reports: bytes still waiting in spool segments.
        pending = sum(p.stat().st_size for p in spool_dir.glob("*.spool"))
        return {"pending_bytes": float(pending)}

    exporter = StoreExporter(demo.store, demo.clock, spool_events=spool_events)
    exporter.add_source(ValidationMetrics(ValidationStore(demo.store), clock=demo.clock))
    demo.cycle.engine.evaluate(demo.clock.now())
    exporter.add_source(demo.cycle.engine.metrics_source())
    exporter.add_source(_AlertsSource(demo.router, demo.clock))
    server, thread, metrics_port = serve_metrics(exporter, "127.0.0.1", 0)

    links = demo.config.file.links
    rules_path = write_rules(
        demo.config.slos,
        work / "rules",
        runbook_base_url=links.runbook_base_url,
        dashboard_base_url=links.dashboard_base_url,
    )
    config = {
        "global": {
            "scrape_interval": "1s",
            "scrape_timeout": "900ms",
            "evaluation_interval": "1s",
        },
        "rule_files": [str(rules_path)],
        "scrape_configs": [
            {"job_name": "qsre", "static_configs": [{"targets": [f"127.0.0.1:{metrics_port}"]}]}
        ],
    }
    config_path = work / "prometheus.yml"
    config_path.write_text(yaml.safe_dump(config))
    prom_port = _free_port()
    log_path = work / "prometheus.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={config_path}",
                f"--storage.tsdb.path={work / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{prom_port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{prom_port}"
    try:
        with httpx.Client(base_url=url, timeout=10.0) as client:
            _wait_until_scraped(client, proc, log_path)
        yield PromServer(
            url=url,
            rules=build_rules(demo.config.slos, links.runbook_base_url, links.dashboard_base_url),
            log_path=log_path,
        )
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        stop_metrics_server(server, thread)


def test_every_rule_group_loads_and_evaluates_without_errors(prometheus):
    with httpx.Client(base_url=prometheus.url, timeout=10.0) as client:
        groups = _wait_for_rule_evaluations(client)
    expected = {g["name"]: len(g["rules"]) for g in prometheus.rules["groups"]}
    assert expected, "the demo config's SLOs produced no rule groups"
    assert {g["name"]: len(g["rules"]) for g in groups} == expected
    bad = [
        (g["name"], r.get("name"), r.get("health"), r.get("lastError"))
        for g in groups
        for r in g["rules"]
        if r.get("health") != "ok" or r.get("lastError")
    ]
    assert bad == []


def test_every_dashboard_panel_query_returns_data(prometheus, demo_week):
    dashboards = build_dashboards(
        demo_week.demo.config.slos,
        datasource_uid=demo_week.demo.config.file.dashboards.datasource_uid,
    )
    with httpx.Client(base_url=prometheus.url, timeout=10.0) as client:
        # Recording rules must have been evaluated with enough samples for rate().
        _wait_for_rule_evaluations(client)
        checked, empty, failed = 0, [], []
        for name, dash in sorted(dashboards.items()):
            annotations = _annotation_queries(dash)
            for query in panel_queries(dash):
                if query in EVENT_QUERIES:
                    assert query in annotations, (
                        f"{name}: {query!r} is only allowed as an annotation, "
                        "but a panel or variable uses it"
                    )
                    continue
                if query in NEEDS_FIRST_INCREMENT:
                    metric = NEEDS_FIRST_INCREMENT[query]
                    if not _get(client, "/api/v1/query", query=metric)["result"]:
                        continue
                resp = client.get("/api/v1/query", params={"query": query})
                body = resp.json()
                if resp.status_code != 200 or body.get("status") != "success":
                    failed.append((name, query, body.get("error")))
                    continue
                checked += 1
                if not body["data"]["result"]:
                    empty.append((name, query))
    assert failed == []
    assert empty == [], "queries with no data:\n" + "\n".join(f"{n}: {q}" for n, q in empty)
    assert checked >= 50
