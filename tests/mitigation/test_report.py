"""The weekly report's readout-mitigation line: per backend, runs with both fidelities,
share improved by the margin, mean fidelity raw -> mitigated (real store, both dialects)."""

from __future__ import annotations

import json
import statistics
from datetime import UTC, datetime, timedelta

import pytest

from collector.clock import VirtualClock
from slo.report import build_weekly_report
from slo.spec import parse_slos
from validators.store import ValidationRunRecord, ValidationStore

WEEK = "2026-W47"
WEEK_START = datetime(2026, 11, 16, tzinfo=UTC)

# (backend, day offset, raw, mitigated); margin 0.02 from the SLO below.
ROWS = [
    ("ibm_manila", 0, 0.80, 0.95),
    ("ibm_manila", 1, 0.85, 0.86),  # +0.01 < 0.02
    ("ibm_manila", 2, 0.75, 0.90),
    ("ibm_manila", 3, 0.90, 0.88),  # worse
    ("ibm_manila", 8, 0.10, 0.90),  # next week: not in this report
    ("ibm_manila", -1, 0.10, 0.90),  # previous week
    ("sim-blind", 1, 0.70, None),  # no readout calibration: left out
]


@pytest.fixture
def report(store, tmp_path):
    ValidationStore(store).insert_runs(
        [
            ValidationRunRecord(
                run_id=f"run-{i}",
                backend=backend,
                circuit="ghz",
                family="ghz",
                ran_at=WEEK_START + timedelta(days=day, hours=6),
                shots=2000,
                verdict="ok",
                fidelity=raw,
                fidelity_mitigated=mitigated,
            )
            for i, (backend, day, raw, mitigated) in enumerate(ROWS)
        ]
    )
    slos = parse_slos(
        [
            {
                "name": "readout-mitigation",
                "objective": 0.5,
                "sli": {"kind": "mitigation_gain", "margin": 0.02},
                "window": "7d",
            }
        ],
        "qsre.yaml",
    )
    clock = VirtualClock(WEEK_START + timedelta(days=9))
    return build_weekly_report(store, slos, week=WEEK, clock=clock, out_dir=tmp_path)


def test_report_has_a_mitigation_line_per_backend(report):
    week = [r for r in ROWS if r[0] == "ibm_manila" and 0 <= r[1] < 7]
    raw = statistics.fmean(r[2] for r in week)
    mitigated = statistics.fmean(r[3] for r in week)
    data = json.loads(report.data_json.read_text())
    (gain,) = data["fidelity"]["mitigation"]
    assert gain["backend"] == "ibm_manila"
    assert (gain["runs"], gain["improved"], gain["margin"]) == (4, 2, 0.02)
    assert gain["mean_fidelity_raw"] == pytest.approx(raw)
    assert gain["mean_fidelity_mitigated"] == pytest.approx(mitigated)

    markdown = report.markdown.read_text()
    line = next(x for x in markdown.splitlines() if x.startswith("Readout mitigation:"))
    # Backend names are Markdown-escaped like everywhere in the summary.
    assert "ibm\\_manila 2/4 runs improved by ≥ 0.020 (50 %)" in line
    assert f"fidelity {raw:.3f} → {mitigated:.3f}" in line
    assert "sim-blind" not in line

    html = report.html.read_text()
    assert "<h3>Readout mitigation</h3>" in html
    assert f"{raw:.4f} → {mitigated:.4f}" in html
