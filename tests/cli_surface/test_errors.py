"""Every command answers bad input and unreachable dependencies with one error line.

Table-driven: each row is a command line a user could type, the exit code it must
give (2: the user asked for something wrong, 1: something it depends on failed) and a
fragment of the one ``error:`` line. No row may print a traceback or more than two
stderr lines (the error and at most one hint).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from tests.cli_surface.conftest import Run

USAGE, RUNTIME = 2, 1
DB = "sqlite:///store.db"  # relative to the test's working directory
UNREACHABLE_PG = "postgresql+psycopg://postgres@127.0.0.1:9/test"
MISSING_CFG = "missing.yaml"

CASES: list[tuple[tuple[str, ...], int, str]] = [
    # jobs
    (("jobs", "--db", DB, "--since", "bogus"), USAGE, "--since: expected"),
    (("jobs", "--db", DB, "--since", "-1h"), USAGE, "--since: expected"),
    (("jobs", "--db", DB, "--limit", "x"), USAGE, "--limit: expected an integer, got 'x'"),
    (("jobs", "--db", DB, "--limit", "0"), USAGE, "--limit: expected"),
    (("jobs", "--db", DB, "--limit", "9" * 20), USAGE, "--limit: expected an integer from 1"),
    (("jobs", "--db", DB, "--since"), USAGE, "--since: expected a value, got none"),
    (("jobs", "--db", DB, "--status", "exploded"), USAGE, "--status: expected one of"),
    (("jobs", "--db", DB, "--json", "true"), USAGE, "(flags take no value), got 'true'"),
    (("alerts", "--db", DB, "--json", "yes"), USAGE, "(flags take no value), got 'yes'"),
    (("slo", "status", "--db", DB, "--json", "1"), USAGE, "(flags take no value), got '1'"),
    (("jobs", "--db", DB, "--nope"), USAGE, "got '--nope'"),
    (("jobs", "--db", "nonsense://x"), RUNTIME, "nonsense://x"),
    (("jobs", "--db", UNREACHABLE_PG), RUNTIME, "store: expected a database that answers"),
    (("jobs", "-c", MISSING_CFG), USAGE, MISSING_CFG),
    # silences
    (
        ("silence", "add", "--db", DB, "-m", "backend=x", "--duration", "forever"),
        USAGE,
        "--duration: expected",
    ),
    (
        ("silence", "add", "--db", DB, "-m", "backend=x", "--duration", "-1h"),
        USAGE,
        "--duration: expected",
    ),
    (("silence", "add", "--db", DB, "-m", "no-operator"), USAGE, "--match: expected"),
    (("silence", "add", "--db", DB), USAGE, "--match: expected a value"),
    (
        ("silence", "add", "--db", DB, "-m", "backend=x", "--comment"),
        USAGE,
        "--comment: expected a value, got none",
    ),
    (("silence", "list", "--db", DB, "--expired", "yes"), USAGE, "got 'yes'"),
    (("silence", "expire", "nosuch", "--db", DB), USAGE, "got 'nosuch'"),
    # runbooks
    (("runbook", "show", "nosuch"), USAGE, "expected an alert kind"),
    (("runbook", "show"), USAGE, "expected a value"),
    # SLOs, alerts, reports
    (("slo", "status", "--db", DB, "--at", "yesterday"), USAGE, "--at: expected an ISO time"),
    (("slo", "status", "--db", DB, "--at", "2999-01-01"), USAGE, "--at: expected a time no later"),
    (("slo", "status", "-c", MISSING_CFG), USAGE, MISSING_CFG),
    (("alerts", "--db", DB, "--recent", "x"), USAGE, "--recent: expected an integer"),
    (("alerts", "test", "nosuch"), USAGE, "receiver: expected one of"),
    (("report", "weekly", "--db", DB, "--week", "bogus"), USAGE, "--week: expected"),
    (("rules", "build", "--out", "/dev/null"), RUNTIME, "/dev/null: expected a folder"),
    # validate
    (
        ("validate", "--db", DB, "--backend", "x", "--backend-factory", "json:loads"),
        USAGE,
        "--backend-factory: expected a callable taking no arguments",
    ),
    (
        ("validate", "--db", DB, "--backend", "x", "--backend-factory", "json:nope"),
        USAGE,
        "--backend-factory",
    ),
    (("validate", "--db", DB, "--backend", "nosuch"), USAGE, "got 'nosuch'"),
    (("validate",), USAGE, "--backend: expected a value"),
    # an unreachable store, for every command that reads one
    (("slo", "status", "--db", UNREACHABLE_PG), RUNTIME, "127.0.0.1"),
    (("alerts", "--db", UNREACHABLE_PG), RUNTIME, "127.0.0.1"),
    (("silence", "list", "--db", UNREACHABLE_PG), RUNTIME, "127.0.0.1"),
    (("jobs", "show", "abc", "--db", UNREACHABLE_PG), RUNTIME, "127.0.0.1"),
    (("report", "weekly", "--db", UNREACHABLE_PG, "--out", "reports"), RUNTIME, "127.0.0.1"),
    # rules, dashboards, demo, init, run
    (("rules", "build", "-c", MISSING_CFG), USAGE, MISSING_CFG),
    (
        ("dashboards", "push", "--grafana-url", "http://127.0.0.1:9", "--token-env", "QSRE_UNSET"),
        USAGE,
        "--token-env: expected",
    ),
    (("dashboards", "push"), USAGE, "--grafana-url: expected a Grafana URL"),
    (("demo", "--days", "-1"), USAGE, "--days: expected"),
    (("demo", "-c", MISSING_CFG), USAGE, MISSING_CFG),
    (("demo", "--days", "x"), USAGE, "--days: expected a number"),
    (("run", "--db", DB, "--port", "99999"), USAGE, "--port: expected"),
    (("nosuchcommand",), USAGE, "expected a command, got 'nosuchcommand'"),
    # the rest of the commands: a missing config, a bad value, an unwritable path
    (("doctor", "-c", MISSING_CFG), RUNTIME, "1 failing: config"),
    (("doctor", "--json", "x"), USAGE, "got 'x'"),
    (("dashboards", "build", "-c", MISSING_CFG), USAGE, MISSING_CFG),
    (("runbook", "list", "--json", "x"), USAGE, "got 'x'"),
    (("init", "/nonexistent/dir/qsre.yaml"), RUNTIME, "/nonexistent/dir"),
    (("run", "-c", MISSING_CFG), USAGE, MISSING_CFG),
    (("jobs", "show"), USAGE, "qsre jobs show ID: expected a value"),
    (("validate", "-c", MISSING_CFG, "--backend", "x"), USAGE, MISSING_CFG),
    (("alerts", "test", "console", "-c", MISSING_CFG), USAGE, MISSING_CFG),
    # the event store: retention and copies
    (("store", "prune", "--db", DB), USAGE, "store: expected an existing SQLite file"),
    (("store", "prune", "--db", DB, "--max-seconds", "x"), USAGE, "--max-seconds: expected a"),
    (("store", "prune", "--db", DB, "--max-seconds", "-1"), USAGE, "--max-seconds: expected a"),
    (("store", "prune", "--db", UNREACHABLE_PG), RUNTIME, "expected a database that answers"),
    (("store", "prune", "-c", MISSING_CFG), USAGE, MISSING_CFG),
    (("store", "prune", "--db", DB, "--json", "x"), USAGE, "got 'x'"),
    (("store", "copy"), USAGE, "--to: expected a value"),
    (("store", "copy", "--from", DB, "--to", "sqlite:///b.db"), USAGE, "expected an existing"),
    (
        ("store", "copy", "--from", DB, "--to", "sqlite:////nonexistent/dir/x.db"),
        USAGE,
        "target: expected a SQLite file in an existing folder",
    ),
    (("store", "copy", "--from", DB, "--to", DB), USAGE, "not the same store"),
    (
        ("store", "copy", "--from", UNREACHABLE_PG, "--to", "sqlite:///b.db"),
        RUNTIME,
        "expected a database that answers",
    ),
    (("store", "copy", "-c", MISSING_CFG, "--to", "sqlite:///b.db"), USAGE, MISSING_CFG),
    (("store", "nosuch"), USAGE, "expected a command (prune, copy)"),
]


def assert_one_clean_error(run: Run, code: int, fragment: str) -> None:
    everything = run.stdout + run.stderr
    assert "Traceback" not in everything, everything
    assert run.code == code, (run.args, run.code, everything)
    lines = run.stderr.strip().splitlines()
    assert 1 <= len(lines) <= 2, (run.args, run.stderr)
    assert lines[0].startswith("error: "), (run.args, run.stderr)
    assert len(lines) == 1 or lines[1].startswith("hint: "), (run.args, run.stderr)
    assert fragment in lines[0], (run.args, fragment, lines[0])


@pytest.mark.parametrize(
    ("args", "code", "fragment"), CASES, ids=lambda v: " ".join(v) if isinstance(v, tuple) else None
)
def test_bad_input_gives_one_error_line(run_qsre, args, code, fragment):
    assert_one_clean_error(run_qsre(*args), code, fragment)


def test_init_refuses_an_existing_file(run_qsre, tmp_path):
    (tmp_path / "qsre.yaml").write_text("keep me\n")
    assert_one_clean_error(run_qsre("init", "qsre.yaml"), USAGE, "(or --force)")
    assert (tmp_path / "qsre.yaml").read_text() == "keep me\n"


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_run_on_a_port_in_use(run_qsre, busy_port):
    result = run_qsre(
        "run", "--db", DB, "--host", "127.0.0.1", "--port", str(busy_port), "--no-schedules"
    )
    assert_one_clean_error(result, RUNTIME, "expected a free port")


def test_dashboards_push_with_grafana_unreachable(run_qsre):
    result = run_qsre(
        "dashboards",
        "push",
        "--grafana-url",
        "http://127.0.0.1:9",
        "--token-env",
        "QSRE_TOKEN",
        env={"QSRE_TOKEN": "secret-not-printed"},
    )
    assert_one_clean_error(result, RUNTIME, "Grafana")
    assert "secret-not-printed" not in result.stdout + result.stderr


@pytest.mark.parametrize("how", ["flag", "env"])
def test_debug_shows_the_traceback(run_qsre, how):
    args = ("jobs", "--db", DB, "--since", "bogus")
    if how == "flag":
        result = run_qsre(*args, "--debug")
    else:
        result = run_qsre(*args, env={"QSRE_DEBUG": "1"})
    assert result.code == USAGE
    assert "Traceback" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: --since: expected")


@pytest.mark.parametrize(
    "name", ["calibration_drift", "QsreCalibrationDrift", "qsrecalibrationdrift"]
)
def test_runbook_found_by_kind_or_alert_name(run_qsre, name):
    result = run_qsre("runbook", "show", name)
    assert result.code == 0, result.stderr
    assert "Calibration drift" in result.stdout


@pytest.mark.parametrize(
    "args", [("--help",), ("jobs", "--help"), ("silence", "list", "--help"), ("init", "--help")]
)
def test_flags_show_no_value_placeholder(run_qsre, args):
    result = run_qsre(*args)
    assert result.code == 0, result.stderr
    assert "<bool>" not in result.stdout
    assert "--help" in result.stdout
