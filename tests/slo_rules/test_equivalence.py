"""The engine (slo.burn) and Prometheus evaluating the generated rules agree on
when burn-rate alerts fire, on synthetic job streams fed to `promtool test rules`
as the cumulative counters the collector exports (1 m samples, 1 m evaluation)."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
import yaml

from slo.burn import MinuteBuckets, firing_timeline
from slo.policy import get_policy
from slo.rules import ALERT_NAMES, build_rules
from slo.spec import parse_slos

START = datetime(2026, 3, 2, tzinfo=UTC)
RUNBOOKS = "https://runbooks.example/qsre"


def _slos(min_events: int = 10):
    return parse_slos(
        [
            {
                "name": "jobs-workbook",
                "objective": 0.999,
                "sli": {"kind": "job_success", "backend": "ibm_a"},
                "window": "30d",
                "min_events": min_events,
                "labels": {"team": "qc"},
            },
            {
                "name": "jobs-two-four",
                "objective": 0.99,
                "sli": {"kind": "job_success", "backend": "ibm_a"},
                "window": "28d",
                "policy": "two-four",
                "min_events": min_events,
            },
        ],
        "test.yaml",
    )


def _stream(name: str) -> tuple[np.ndarray, np.ndarray]:
    """(total, bad) jobs per minute."""
    if name == "steady":  # 0.05% errors: half the 99.9% budget rate, never alerts
        total = np.full(1440 + 120, 2000.0)
        return total, np.ones_like(total)
    if name == "step":  # 3% failures from minute 420 for 5 h
        total = np.full(1800, 100.0)
        bad = np.zeros_like(total)
        bad[420:720] = 3.0
        return total, bad
    if name == "ramp":  # error rate grows from 0 to 0.8% over 3 days: ticket, then page
        total = np.full(3 * 1440, 1000.0)
        return total, np.round(np.linspace(0.0, 8.0, len(total)))
    if name == "blip":  # 3 minutes of total failure, then healthy
        total = np.full(600, 100.0)
        bad = np.zeros_like(total)
        bad[300:303] = 100.0
        return total, bad
    if name == "low_traffic":  # one job every 10 minutes; from minute 1500 every 3rd fails
        total = np.zeros(1440 + 240)
        total[::10] = 1.0
        bad = np.zeros_like(total)
        bad[1500::30] = 1.0
        return total, bad
    if name == "fresh_install":  # 7 h of history, 0.5% errors: the 1d and 3d tickets must wait
        total = np.full(7 * 60, 1000.0)
        return total, np.full_like(total, 5.0)
    raise ValueError(name)


# Engine facts each stream must show, so the comparison exercises what it claims:
# (slo, severity) -> (first firing minute or None for never).
STREAM_FACTS = {
    "steady": {("jobs-workbook", "page"): None, ("jobs-workbook", "ticket"): None},
    "step": {
        ("jobs-workbook", "page"): 449,
        ("jobs-two-four", "ticket"): "fires",
        ("jobs-two-four", "page"): None,
    },
    "ramp": {("jobs-workbook", "ticket"): "fires", ("jobs-workbook", "page"): "fires"},
    "blip": {("jobs-workbook", "page"): 301, ("jobs-workbook", "ticket"): None},
    "low_traffic": {
        ("jobs-workbook", "page"): None,
        ("jobs-workbook", "ticket"): "fires",
        ("jobs-two-four", "page"): None,
        ("jobs-two-four", "ticket"): None,
    },
    "fresh_install": {("jobs-workbook", "ticket"): None, ("jobs-workbook", "page"): None},
}
MIN_EVENTS = {"low_traffic": 50}


def _series(total: np.ndarray, bad: np.ndarray) -> list[dict[str, str]]:
    def cumulative(per_minute: np.ndarray) -> str:
        values = np.concatenate(([0.0], np.cumsum(per_minute)))
        return " ".join(f"{v:g}" for v in values)

    labels = 'backend="ibm_a", project="chem"'
    return [
        {
            "series": f'qsre_jobs_total{{{labels}, status="done", error_class=""}}',
            "values": cumulative(total - bad),
        },
        {
            "series": f'qsre_jobs_total{{{labels}, status="error", error_class="transient"}}',
            "values": cumulative(bad),
        },
    ]


def _probes(timeline: np.ndarray, rng: np.random.Generator, extra: int = 25) -> list[int]:
    """Instants one step away from every engine edge, plus random stable instants."""
    n = len(timeline) - 1
    edges = np.flatnonzero(timeline[1:] != timeline[:-1]) + 1
    probes = {int(t) for e in edges for t in (e - 2, e + 1) if 0 <= t <= n}
    stable = [t for t in range(1, n) if timeline[t - 1] == timeline[t] == timeline[t + 1]]
    probes |= {int(t) for t in rng.choice(stable, size=min(extra, len(stable)), replace=False)}
    return sorted(probes)


def _expected_alerts(slo, severity: str, firing: bool) -> list[dict]:
    if not firing:
        return []
    kind = f"slo_burn_{severity}"
    return [
        {
            "exp_labels": {
                **dict(slo.labels),
                "slo": slo.name,
                "sli_kind": slo.sli.kind,
                "severity": severity,
                "kind": kind,
            },
            "exp_annotations": {
                "summary": f"SLO {slo.name} is burning its error budget ({severity})",
                "description": (
                    f"{slo.name}: error ratio above the {slo.policy} {severity} "
                    f"burn-rate thresholds (objective {slo.objective:g})."
                ),
                "runbook_url": f"{RUNBOOKS}/{kind}.md",
            },
        }
    ]


@pytest.mark.prometheus
@pytest.mark.parametrize(
    "stream",
    [pytest.param(s, marks=pytest.mark.slow) if s == "ramp" else s for s in STREAM_FACTS],
)
def test_engine_and_prometheus_fire_at_the_same_instants(stream, tmp_path, promtool):
    slos = _slos(MIN_EVENTS.get(stream, 10))
    total, bad = _stream(stream)
    buckets = MinuteBuckets(START, total - bad, total)
    rng = np.random.default_rng(7)
    # alert_rule_test matches on alertname only, so each SLO gets its own rule file
    # and test file: one SLO's probe must not see the other SLO's alert.
    for slo in slos:
        rule_file = tmp_path / f"{slo.name}.yaml"
        rule_file.write_text(yaml.safe_dump(build_rules([slo], RUNBOOKS), sort_keys=False))
        timeline = firing_timeline(slo, get_policy(slo.policy), buckets)
        firing_minutes = {sev: int(tl.sum()) for sev, tl in timeline.items()}
        for severity, tl in timeline.items():
            fact = STREAM_FACTS[stream].get((slo.name, severity), "any")
            if fact is None:
                assert not tl.any(), f"{stream}: engine {slo.name} {severity} fired"
            elif fact == "fires":
                assert tl.any(), f"{stream}: engine {slo.name} {severity} never fired"
            elif fact != "any":
                assert int(np.argmax(tl)) == fact and tl.any(), (stream, slo.name, severity)
        cases = [
            {
                "eval_time": f"{t}m",
                "alertname": ALERT_NAMES[severity],
                "exp_alerts": _expected_alerts(slo, severity, bool(tl[t])),
            }
            for severity, tl in timeline.items()
            for t in _probes(tl, rng)
        ]
        test_file = tmp_path / f"test-{slo.name}.yaml"
        test_file.write_text(
            yaml.safe_dump(
                {
                    "rule_files": [rule_file.name],
                    "evaluation_interval": "1m",
                    "tests": [
                        {
                            "interval": "1m",
                            "input_series": _series(total, bad),
                            "alert_rule_test": cases,
                        }
                    ],
                },
                sort_keys=False,
                width=10**9,
            )
        )
        result = promtool("test", "rules", str(test_file))
        assert result.returncode == 0, (
            f"{stream}/{slo.name}: Prometheus disagrees with the engine "
            f"(engine firing minutes {firing_minutes}):\n{result.stdout[-4000:]}{result.stderr[-2000:]}"
        )
