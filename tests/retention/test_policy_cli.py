"""store.retention in qsre.yaml, the daemon's leased duty, and `qsre store prune`."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import typer
import yaml
from rich.console import Console
from typer.testing import CliRunner

from collector.clock import SystemClock, VirtualClock
from collector.store import Store
from qsre.cli_store import prune_table, store_app
from qsre.config import EMBEDDED_DEFAULT, load_config, parse_config
from qsre.errors import ConfigError
from qsre.retention import RetentionDuty, RetentionPolicy, prune_store

from .kit import JOBS, RESULTS, T0, count, fill

_SLO = {"name": "s", "objective": 0.99, "sli": {"kind": "job_success"}, "window": "28d"}


def test_default_retention_keeps_every_window_and_a_year_of_reports() -> None:
    config = load_config(EMBEDDED_DEFAULT)  # with its SLOs: the defaults must fit them
    policy = RetentionPolicy.from_config(config)
    assert (policy.jobs_s, policy.job_results_s) == (400 * 86400, 35 * 86400)
    assert (policy.validation_runs_s, policy.notification_log_s) == (400 * 86400, 90 * 86400)
    assert policy.batch_rows == 5000 and policy.interval_s == 300


@pytest.mark.parametrize(
    ("retention", "field", "expected"),
    [
        ({"jobs": "400 days"}, "store.retention.jobs", "a duration like '400d'"),
        ({"job_results": 35}, "store.retention.job_results", "string"),
        ({"job_results": "500d"}, "store.retention", "job_results no longer than jobs"),
        ({"job_results": None}, "store.retention", "job_results no longer than jobs"),
        ({"batch_rows": 0}, "store.retention.batch_rows", "greater than or equal to 1"),
    ],
)
def test_retention_errors_name_the_file_the_field_and_what_was_expected(
    retention, field, expected
) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config({"store": {"retention": retention}}, "qsre.yaml")
    assert err.value.file == "qsre.yaml"
    assert err.value.field == field
    assert expected in err.value.expected


def test_jobs_are_never_kept_shorter_than_an_slo_reads() -> None:
    short = {"store": {"retention": {"jobs": "20d", "job_results": "10d"}}, "slos": [_SLO]}
    with pytest.raises(ConfigError) as err:
        RetentionPolicy.from_config(parse_config(short, "qsre.yaml"))
    assert err.value.field == "store.retention.jobs"
    assert "at least 29d" in err.value.expected and "'s'" in err.value.expected
    short["store"]["retention"]["jobs"] = "29d"
    assert RetentionPolicy.from_config(parse_config(short, "qsre.yaml")).jobs_s == 29 * 86400


def test_only_the_lease_holder_prunes(sqlite_url) -> None:
    store = Store(sqlite_url)
    fill(store, 10, 50)
    policy = RetentionPolicy(6 * 86400, 3 * 86400, None, None, batch_rows=100)
    clock = VirtualClock(T0 + timedelta(days=10))
    first = RetentionDuty(store, policy, clock, holder="a")
    second = RetentionDuty(store, policy, clock, holder="b")
    assert sum(r.deleted for r in first.run() or []) == 4 * 50 + 7 * 50 * 2
    assert second.run() is None
    assert count(store, JOBS) == 6 * 50
    # The holder releases on shutdown; the other replica takes the duty over.
    first.release()
    assert second.run() is not None
    store.close()


def _cli() -> typer.Typer:
    app = typer.Typer()
    app.add_typer(store_app, name="store")
    return app


def test_store_prune_dry_run_says_what_would_go_and_prune_deletes_it(sqlite_url, tmp_path) -> None:
    now = SystemClock().now()
    store = Store(sqlite_url)
    fill(store, 10, 40, start=now - timedelta(days=10))
    jobs, results = count(store, JOBS), count(store, RESULTS)
    config = tmp_path / "qsre.yaml"
    retention = {"jobs": "6d", "job_results": "3d", "notification_log": "4d"}
    config.write_text(yaml.safe_dump({"store": {"url": sqlite_url, "retention": retention}}))
    runner = CliRunner()

    dry = runner.invoke(_cli(), ["store", "prune", "--dry-run", "--json", "-c", str(config)])
    assert dry.exit_code == 0, dry.output
    counted = {t["table"]: t["deleted"] for t in json.loads(dry.output)["tables"]}
    assert (count(store, JOBS), count(store, RESULTS)) == (jobs, results)
    assert counted["jobs"] == 4 * 40 and counted["job_results"] == 7 * 40 * 2
    assert counted["slo_notification_log"] == 6 * 5

    real = runner.invoke(
        _cli(), ["store", "prune", "--json", "--db", sqlite_url, "-c", str(config)]
    )
    assert real.exit_code == 0, real.output
    assert {t["table"]: t["deleted"] for t in json.loads(real.output)["tables"]} == counted
    assert count(store, JOBS) == jobs - 4 * 40
    store.close()


def test_the_prune_table_fits_80_columns(sqlite_url) -> None:
    store = Store(sqlite_url)
    fill(store, 3, 10)
    policy = RetentionPolicy.from_config(load_config(EMBEDDED_DEFAULT))
    results = prune_store(store.engine, policy, T0 + timedelta(days=500), dry_run=True)
    console = Console(width=80, record=True)
    console.print(prune_table(results, policy, dry_run=True, width=80))
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80
    for table in ("jobs", "job_results", "validation_runs", "slo_notification_log"):
        assert table in text
    assert "hidden at this width" not in text
    store.close()
