"""Every metric a dashboard or a generated rule reads is one qsre actually exports.

A small synthetic store holds jobs of every status and error class, a calibrated
backend and validation runs of every verdict; the exporter is wired the way
`qsre run` wires it. Names in the `slo:` namespace must come from the generated
recording rules, never from the exporter.
"""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from collector.clock import VirtualClock
from collector.exporter import StoreExporter
from collector.health import RecorderErrors
from collector.lease import Leases
from collector.records import Job
from collector.schema import ERROR_CLASSES, TERMINAL_STATUSES
from collector.store import Store
from dashboards import build_dashboards, metric_names_in, panel_queries
from qsre.config import EMBEDDED_DEFAULT, load_config
from qsre.cycle import EvaluationCycle
from qsre.daemon import _AlertsSource, _DaemonSource
from qsre.duty import ROUTER_LEASE, LeaseDuty
from qsre.wiring import build_router
from slo.alerts import Alert
from slo.rules import build_rules, skip_reason
from validators.metrics import ValidationMetrics
from validators.store import ValidationRunRecord, ValidationStore

VERDICTS = ("ok", "warn", "drift", "diverged", "not_evaluated")
# Prometheus's own series (ALERTS is synthesised by the rule manager).
PROMETHEUS_BUILTINS = {"ALERTS", "ALERTS_FOR_STATE", "up"}


@pytest.fixture(scope="module")
def exported(tmp_path_factory, t0_module):
    tmp = tmp_path_factory.mktemp("names")
    config = load_config(EMBEDDED_DEFAULT)
    clock = VirtualClock(t0_module)
    store = Store(f"sqlite:///{tmp / 'qsre.db'}")
    jobs = []
    n = 0
    for status in (*TERMINAL_STATUSES, "queued", "running"):
        classes = ERROR_CLASSES if status == "error" else (None,)
        for error_class in classes:
            n += 1
            at = t0_module + timedelta(minutes=n)
            terminal = status in TERMINAL_STATUSES
            jobs.append(
                Job(
                    id=f"job-{n}",
                    backend="sim-stable",
                    project="chem-team",
                    status=status,
                    submitted_at=at,
                    shots=1000,
                    started_at=at + timedelta(seconds=5) if status != "queued" else None,
                    finished_at=at + timedelta(seconds=9) if terminal else None,
                    queue_seconds=5.0 if status != "queued" else None,
                    run_seconds=4.0 if terminal else None,
                    e2e_seconds=9.0 if terminal else None,
                    error_class=error_class,
                    attempts=2 if error_class == "transient" else 1,
                    cost_usd=0.65,
                )
            )
    store.upsert_jobs(job.to_dict() for job in jobs)
    store.upsert_backend("sim-stable", seen_at=t0_module, num_qubits=5, calibration_at=t0_module)
    vstore = ValidationStore(store)
    vstore.record_run(
        [
            ValidationRunRecord(
                run_id="run-1",
                backend="sim-stable",
                circuit=f"c-{verdict}",
                family="bell",
                ran_at=t0_module + timedelta(minutes=30),
                shots=2000,
                verdict=verdict,
                fidelity=0.97,
                fidelity_mitigated=0.99,
                divergence_tvd=0.02,
                drift_statistic=0.5,
            )
            for verdict in VERDICTS
        ]
    )
    clock.set(t0_module + timedelta(hours=1))
    router = build_router(config, store, clock, console_stream=io.StringIO())
    cycle = EvaluationCycle(config, store, router, clock)
    cycle.tick(clock.now())
    # One alert open in the router, so qsre_alerts_firing has a sample.
    router.process(
        [
            Alert(
                labels={
                    "alertname": "QsreBackendDown",
                    "kind": "backend_down",
                    "severity": "page",
                    "backend": "sim-stable",
                }
            )
        ],
        clock.now(),
        source="test",
    )
    errors = RecorderErrors()
    errors.inc("spool")  # one recorder failure, so the counter has a sample
    exporter = StoreExporter(
        store, clock, recorder_errors=errors, spool_events=lambda: {"pending_bytes": 0.0}
    )
    exporter.add_source(ValidationMetrics(vstore, clock=clock))
    exporter.add_source(cycle.engine.metrics_source())
    exporter.add_source(_AlertsSource(router, clock))
    duty = LeaseDuty(Leases(store), ROUTER_LEASE, "host:1:abc123", clock, ttl_s=30)
    exporter.add_source(_DaemonSource(cycle, "host:1:abc123", {ROUTER_LEASE: duty}))
    exporter.add_source(router.metrics_source())
    text = generate_latest(exporter.registry).decode()
    samples = {s.name for fam in text_string_to_metric_families(text) for s in fam.samples}
    return config, samples


@pytest.fixture(scope="module")
def t0_module():
    from datetime import UTC, datetime

    return datetime(2026, 11, 16, tzinfo=UTC)


def _rule_exprs(rules):
    return [(g["name"], r) for g in rules["groups"] for r in g["rules"]]


def test_every_dashboard_and_rule_metric_is_exported_or_recorded(exported):
    config, samples = exported
    # With the qsre-daemon group: the stall alert reads the daemon's own gauge.
    rules = build_rules(config.slos, "https://runbooks.example/", evaluation_interval_s=60)
    recorded = {r["record"] for _, r in _rule_exprs(rules) if "record" in r}
    assert recorded and all(name.startswith("slo:") for name in recorded)
    # The exporter never pretends to be the rules.
    assert not {s for s in samples if s.startswith("slo:")}

    referenced: dict[str, set[str]] = {}
    for name, dash in build_dashboards(config.slos).items():
        for query in panel_queries(dash):
            for metric in metric_names_in(query):
                referenced.setdefault(metric, set()).add(name)
    for group, rule in _rule_exprs(rules):
        for metric in metric_names_in(rule["expr"]):
            referenced.setdefault(metric, set()).add(f"rules:{group}")

    missing = {
        metric: sorted(where)
        for metric, where in referenced.items()
        if metric not in samples | recorded | PROMETHEUS_BUILTINS
    }
    assert missing == {}


def test_every_per_slo_panel_names_a_rule_that_exists(exported):
    config, _ = exported
    rules = build_rules(config.slos, "https://runbooks.example/")
    recorded = {r["record"] for _, r in _rule_exprs(rules) if "record" in r}
    for slo in config.slos:
        dash = build_dashboards([slo])[f"slo-{slo.name}.json"]
        names = {m for q in panel_queries(dash) for m in metric_names_in(q)}
        slo_names = {m for m in names if m.startswith("slo:")}
        if skip_reason(slo) is not None:
            # No recording rules exist for it: its dashboard reads the engine's gauges.
            assert not slo_names, (slo.name, sorted(slo_names))
            continue
        assert slo_names, slo.name
        assert slo_names <= recorded, (slo.name, sorted(slo_names - recorded))


def test_synthetic_store_covers_the_catalogue(exported):
    # Guards the test above: it is only meaningful if every family has samples.
    _, samples = exported
    for name in (
        "qsre_jobs_total",
        "qsre_job_attempts_total",
        "qsre_job_queue_seconds_bucket",
        "qsre_job_run_seconds_count",
        "qsre_job_e2e_seconds_sum",
        "qsre_jobs_in_flight",
        "qsre_shots_total",
        "qsre_cost_usd_total",
        "qsre_backend_calibration_age_seconds",
        "qsre_spool_events",
        "qsre_recorder_errors_total",
        "qsre_validation_runs_total",
        "qsre_validation_fidelity",
        "qsre_validation_fidelity_mitigated",
        "qsre_validation_divergence_tvd",
        "qsre_drift_statistic",
        "qsre_backend_verdict",
        "qsre_slo_error_budget_remaining_ratio",
        "qsre_slo_burn_rate",
        "qsre_slo_sli_ratio",
        "qsre_alerts_firing",
        "qsre_last_evaluation_timestamp_seconds",
        "qsre_daemon_info",
        "qsre_lease_held",
        "qsre_notifications_total",
    ):
        assert name in samples, name
