"""The mitigation_gain SLI kind: spec validation, counts on a real store against a hand
computation (SQLite and PostgreSQL), rollups on a store not yet migrated, Prometheus
rules, the per-SLO dashboard and ``qsre slo status``."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta

import pytest
import yaml
from alembic import command

from collector import migrate
from collector.clock import VirtualClock
from collector.store import Store
from dashboards import build_dashboards, panel_queries
from slo.engine import SLOEngine
from slo.errors import SpecError
from slo.openslo import import_openslo
from slo.rules import build_rules, skip_reason, write_rules
from slo.sli import sli_key
from slo.spec import parse_slos
from validators.store import MIGRATIONS, VERSION_TABLE, ValidationRunRecord, ValidationStore


def _slo(sli, name="readout-mitigation"):
    return parse_slos([{"name": name, "objective": 0.9, "sli": sli, "window": "7d"}], "qsre.yaml")[
        0
    ]


@pytest.mark.parametrize(
    ("sli", "field", "expected"),
    [
        ({"kind": "mitigation_gain"}, "slos[0].sli.margin", "required for mitigation_gain"),
        ({"kind": "mitigation_gain", "margin": 1}, "slos[0].sli.margin", "0 <= margin < 1"),
        ({"kind": "mitigation_gain", "margin": -0.01}, "slos[0].sli.margin", "0 <= margin < 1"),
        ({"kind": "mitigation_gain", "margin": "0.01"}, "slos[0].sli.margin", "0 <= margin < 1"),
        ({"kind": "mitigation_gain", "margin": True}, "slos[0].sli.margin", "0 <= margin < 1"),
        ({"kind": "fidelity", "margin": 0.01}, "slos[0].sli.margin", "mitigation_gain only"),
        (
            {"kind": "mitigation_gain", "margin": 0.01, "threshold_seconds": 60},
            "slos[0].sli.threshold_seconds",
            "latency kinds only",
        ),
        ({"kind": "mitigation_gian", "margin": 0.01}, "slos[0].sli.kind", "mitigation_gain"),
    ],
)
def test_spec_errors_name_the_field_and_what_was_expected(sli, field, expected):
    with pytest.raises(SpecError) as err:
        _slo(sli)
    message = str(err.value)
    assert message.startswith(f"qsre.yaml: {field}:"), message
    assert expected in message


def test_margin_is_part_of_what_the_sli_counts():
    a = _slo({"kind": "mitigation_gain", "margin": 0.01}).sli
    b = _slo({"kind": "mitigation_gain", "margin": 0.02}).sli
    assert a.margin == 0.01
    # A different margin counts different events: a different rollup series.
    assert sli_key(a) != sli_key(b)


def test_openslo_source_carries_the_margin():
    source = {"type": "qsre", "spec": {"sli": "mitigation_gain", "margin": 0.02}}
    doc = {
        "apiVersion": "openslo/v1",
        "kind": "SLO",
        "metadata": {"name": "readout-mitigation"},
        "spec": {
            "service": "qsre",
            "budgetingMethod": "Occurrences",
            "timeWindow": [{"duration": "28d", "isRolling": True}],
            "objectives": [{"target": 0.9}],
            "indicator": {
                "metadata": {"name": "gain"},
                "spec": {
                    "ratioMetric": {
                        "good": {"metricSource": source},
                        "total": {"metricSource": source},
                    }
                },
            },
        },
    }
    (slo,) = import_openslo([doc], "slos.yaml")
    assert (slo.sli.kind, slo.sli.margin) == ("mitigation_gain", 0.02)


# Hand-computed: (backend, verdict, fidelity, fidelity_mitigated) -> counted as?
ROWS = [
    ("dev-a", "ok", 0.50, 0.70, "good"),  # gain 0.20
    ("dev-a", "warn", 0.80, 0.85, "good"),  # gain 0.05
    ("dev-a", "ok", 0.90, 0.905, "bad"),  # gain 0.005 < margin
    ("dev-a", "drift", 0.70, 0.66, "bad"),  # mitigation hurt
    ("dev-a", "ok", 0.95, 0.95, "bad"),  # no gain
    ("dev-a", "ok", 0.60, None, "none"),  # no readout calibration: not an event
    ("dev-a", "error", None, None, "none"),  # the job failed
    ("dev-b", "ok", 0.40, 0.90, "good"),
    ("dev-b", "not_evaluated", 0.30, 0.35, "good"),  # counted: both fidelities exist
]


def _insert(vstore, t0):
    records = [
        ValidationRunRecord(
            run_id=f"run-{i}",
            backend=backend,
            circuit="readout_1",
            family="readout",
            ran_at=t0 + timedelta(minutes=10 * i),
            shots=2000,
            verdict=verdict,
            fidelity=raw,
            fidelity_mitigated=mitigated,
        )
        for i, (backend, verdict, raw, mitigated, _) in enumerate(ROWS)
    ]
    vstore.insert_runs(records)


def test_sli_counts_match_the_hand_computation(store, t0):
    _insert(ValidationStore(store), t0)
    clock = VirtualClock(t0 + timedelta(hours=3))
    every = _slo({"kind": "mitigation_gain", "margin": 0.01})
    only_a = _slo({"kind": "mitigation_gain", "margin": 0.01, "backend": "dev-a"}, "only-a")
    strict = _slo({"kind": "mitigation_gain", "margin": 0.1}, "strict")
    engine = SLOEngine(store, [every, only_a, strict], clock=clock)
    status = {s.name: s for s in engine.evaluate(clock.now())}

    def expected(backends, margin):
        counted = [r for r in ROWS if r[0] in backends and r[4] != "none"]
        return sum(1 for r in counted if r[3] - r[2] >= margin), len(counted)

    assert (status["readout-mitigation"].good, status["readout-mitigation"].total) == (4, 7)
    assert (status["readout-mitigation"].good, status["readout-mitigation"].total) == expected(
        ("dev-a", "dev-b"), 0.01
    )
    assert (status["only-a"].good, status["only-a"].total) == (2, 5)
    assert (status["strict"].good, status["strict"].total) == expected(("dev-a", "dev-b"), 0.1)
    assert status["strict"].good == 2


def test_store_not_yet_migrated_gives_an_empty_series_then_counts(sqlite_url, t0):
    store = Store(sqlite_url)
    with store.engine.connect() as conn:  # the validators' schema as of v0001
        cfg = migrate._config(MIGRATIONS, VERSION_TABLE)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "v0001")
        conn.commit()
    clock = VirtualClock(t0 + timedelta(hours=3))
    slo = _slo({"kind": "mitigation_gain", "margin": 0.01})
    engine = SLOEngine(store, [slo], clock=clock)
    first = engine.evaluate(clock.now())[0]
    assert first.total == 0
    _insert(ValidationStore(store), t0)  # opening migrates to head
    clock.advance(60)
    again = engine.evaluate(clock.now())[0]
    assert (again.good, again.total) == (4, 7)


def test_prometheus_rules_skip_it_with_a_reason_and_its_dashboard_uses_the_engine(tmp_path):
    slo = _slo({"kind": "mitigation_gain", "margin": 0.01})
    fidelity = _slo({"kind": "fidelity"}, "fidelity")
    reason = skip_reason(slo)
    assert reason is not None and "margin" in reason
    assert skip_reason(fidelity) is None
    groups = build_rules([slo, fidelity], "https://runbooks.example/")["groups"]
    assert [g["name"] for g in groups] == ["qsre-slo-fidelity"]
    text = write_rules([slo, fidelity], tmp_path).read_text()
    assert f"# SLO {slo.name} skipped: {reason}" in text
    dash = build_dashboards([slo])[f"slo-{slo.name}.json"]
    queries = panel_queries(dash)
    assert queries and not any("slo:sli_error" in q for q in queries)
    assert any(f'slo="{slo.name}"' in q for q in queries)


def test_qsre_slo_status_shows_it(tmp_path, t0):
    db = tmp_path / "qsre.db"
    store = Store(f"sqlite:///{db}")
    _insert(ValidationStore(store), t0)
    store.close()
    config = {
        "slos": [
            {
                "name": "readout-mitigation",
                "objective": 0.9,
                "sli": {"kind": "mitigation_gain", "margin": 0.01},
                "window": "7d",
            }
        ]
    }
    path = tmp_path / "qsre.yaml"
    path.write_text(yaml.safe_dump(config))
    at = (t0 + timedelta(hours=3)).isoformat()
    out = subprocess.run(
        [sys.executable, "-m", "qsre.cli", "slo", "status", "-c", str(path)]
        + ["--db", f"sqlite:///{db}", "--at", at, "--json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    row = json.loads(out.stdout)["readout-mitigation"]  # keyed by SLO name
    assert (row["sli_kind"], row["good"], row["total"]) == ("mitigation_gain", 4, 7)
