"""qsre.yaml: bad config fails with the file, the field path and what was expected."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from qsre.config import EMBEDDED_DEFAULT, load_config, parse_config
from qsre.errors import ConfigError


def default_data() -> dict:
    return yaml.safe_load(EMBEDDED_DEFAULT.read_text())


def test_embedded_default_is_valid_and_complete():
    cfg = load_config(EMBEDDED_DEFAULT)
    assert {b.name for b in cfg.backends} >= {"sim-stable", "sim-drifting"}
    assert {s.sli.kind for s in cfg.slos} == {
        "job_success",
        "queue_latency",
        "auth_errors",
        "fidelity",
        "divergence",
        "cost_budget",
        "mitigation_gain",
    }
    assert cfg.backend("sim-stable").pricing is not None


@pytest.mark.parametrize(
    ("mutate", "field", "expected"),
    [
        (lambda d: d.update(stor={}), "stor", "one of the known keys"),
        (
            lambda d: d["backends"][1].update(kind="qpu"),
            "backends[1].kind",
            "'sim', 'aer' or 'factory'",
        ),
        (
            lambda d: d["backends"].append(dict(d["backends"][0])),
            "backends",
            "unique backend names",
        ),
        (lambda d: d["backends"][0]["pricing"].update(per_shot=-1), "backends[0].pricing", ">= 0"),
        (
            lambda d: d["backends"][0].update(noise={"sq_error": 2}),
            "backends[0].noise.sq_error",
            "",
        ),
        (
            lambda d: d["backends"][0].update(quotas={"max_shotz": 1}),
            "backends[0].quotas",
            "max_shots_per_job",
        ),
        (
            lambda d: d["slos"][0].update(objective=1.5),
            "slos[0].objective",
            "strictly between 0 and 1",
        ),
        (lambda d: d["slos"][1]["sli"].update(kind="vibes"), "slos[1].sli.kind", "job_success"),
        (
            lambda d: d["alerting"]["routing"]["routes"][0].update(receivers=["pager"]),
            "alerting.receivers",
            "pager",
        ),
        (
            lambda d: d["alerting"]["receivers"].append(
                {"name": "s", "type": "slack", "channel": "#x"}
            ),
            "alerting.receivers[1].token_env",
            "slack receiver",
        ),
        (lambda d: d["exporter"].update(port=70000), "exporter.port", "65535"),
        (
            lambda d: d["alerting"]["routing"].update(group_wait=10),
            "alerting.routing: expected a known key: 'group_wait_s', got 'group_wait'",
            "",
        ),
        (
            lambda d: d["alerting"]["routing"]["routes"][0].update(grup_by=["backend"]),
            "alerting.routing.routes[0]: expected a known key: 'group_by'",
            "",
        ),
        (
            lambda d: d["alerting"]["routing"].update(
                maintenance_windows=[{"name": "m", "cron": "0 0 * * *", "duration": 60}]
            ),
            "alerting.routing.maintenance_windows[0]",
            "got 'duration'",
        ),
        (
            lambda d: d.setdefault("validation", {}).update(divergence={"correction": "holm"}),
            "validation.divergence.correction",
            "expected one of hochberg, bh, bonferroni, none, got 'holm'",
        ),
    ],
)
def test_errors_name_file_field_and_expectation(mutate, field, expected):
    data = default_data()
    mutate(data)
    with pytest.raises(ConfigError) as err:
        parse_config(data, "team.yaml")
    message = str(err.value)
    assert message.startswith("team.yaml: "), message
    assert field in message, message
    assert expected in message, message


def test_yaml_syntax_error_names_line(tmp_path: Path):
    bad = tmp_path / "qsre.yaml"
    bad.write_text("store:\n  url: [unclosed\n")
    with pytest.raises(ConfigError) as err:
        load_config(bad)
    assert str(bad) in str(err.value) and "line" in str(err.value)


def test_missing_file_is_a_config_error(tmp_path: Path):
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path / "nope.yaml")
    assert "nope.yaml" in str(err.value)


def test_openslo_files_are_imported(tmp_path: Path):
    (tmp_path / "slo.yaml").write_text(
        """
apiVersion: openslo/v1
kind: SLO
metadata: {name: openslo-success}
spec:
  service: quantum
  budgetingMethod: Occurrences
  objectives: [{target: 0.98}]
  timeWindow: [{duration: 28d, isRolling: true}]
  indicator:
    metadata: {name: success}
    spec:
      ratioMetric:
        good: {metricSource: {type: qsre, spec: {sli: job_success}}}
        total: {metricSource: {type: qsre, spec: {sli: job_success}}}
"""
    )
    data = default_data()
    data["openslo"] = ["slo.yaml"]
    cfg = parse_config(data, str(tmp_path / "qsre.yaml"), base_dir=tmp_path)
    assert "openslo-success" in {s.name for s in cfg.slos}
