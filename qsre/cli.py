"""The ``qsre`` command line."""

from __future__ import annotations

import json
import logging
import math
import os
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from qsre.cli_errors import BoundaryGroup, run_app
from qsre.cli_store import store_app
from qsre.cli_tables import Column, fit_table, print_table, short_job_ids
from qsre.errors import InputError, NotFound


def _flags_take_no_value() -> None:
    """Show no metavar for flag options (``--json``, ``--help``).

    This typer prints ``<bool>`` after every flag, which reads as if the flag took a
    value (and ``--json true`` is then rejected): a flag's help should look like a flag.
    """
    from typer.core import TyperOption

    shown = TyperOption.display_type_rich

    def display_type_rich(self: TyperOption, ctx: Any) -> str | None:
        if self.is_flag and self.metavar is None:
            return None
        return shown(self, ctx)

    TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]


_flags_take_no_value()

app = typer.Typer(
    name="qsre",
    # Docstrings are wrapped as paragraphs (the default "rich" mode keeps every
    # source line break, so help text broke mid-sentence at 80 columns).
    rich_markup_mode="markdown",
    cls=BoundaryGroup,
    help="Observability and SRE reliability for quantum backends.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
slo_app = typer.Typer(
    rich_markup_mode="markdown", help="SLOs: status, budgets, burn rates.", no_args_is_help=True
)
silence_app = typer.Typer(
    rich_markup_mode="markdown",
    help="Silences: mute matching alerts for a while.",
    no_args_is_help=True,
)
rules_app = typer.Typer(
    rich_markup_mode="markdown",
    help="Prometheus recording and alerting rules.",
    no_args_is_help=True,
)
dash_app = typer.Typer(
    rich_markup_mode="markdown", help="Grafana dashboards.", no_args_is_help=True
)
report_app = typer.Typer(
    rich_markup_mode="markdown",
    help="Reports for managers and platform teams.",
    no_args_is_help=True,
)
runbook_app = typer.Typer(
    rich_markup_mode="markdown", help="Runbooks linked from every alert.", no_args_is_help=True
)
alerts_app = typer.Typer(
    rich_markup_mode="markdown",
    help="Active alerts, recent notifications, and receiver tests.",
    invoke_without_command=True,
)
jobs_app = typer.Typer(
    rich_markup_mode="markdown",
    help="Recorded jobs: list them, or show one.",
    invoke_without_command=True,
)
app.add_typer(jobs_app, name="jobs")
app.add_typer(slo_app, name="slo")
app.add_typer(silence_app, name="silence")
app.add_typer(rules_app, name="rules")
app.add_typer(dash_app, name="dashboards")
app.add_typer(report_app, name="report")
app.add_typer(runbook_app, name="runbook")
app.add_typer(alerts_app, name="alerts")
app.add_typer(store_app, name="store")


@app.callback()
def _root(
    debug: Annotated[
        bool,
        typer.Option(
            "--debug",
            help="On an error, also print the traceback (or set QSRE_DEBUG=1); "
            "accepted after any command too",
        ),
    ] = False,
) -> None:
    """Observability and SRE reliability for quantum backends."""
    # --debug is consumed by qsre.cli_errors.run_app before parsing; this option
    # documents it (and accepts it when the app is invoked without run_app).


console = Console()
err = Console(stderr=True)

ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c", help="qsre.yaml (default: ./qsre.yaml, else the embedded example)"
    ),
]
DbOpt = Annotated[str | None, typer.Option("--db", help="Store URL (overrides store.url)")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table")]
WideOpt = Annotated[
    bool, typer.Option("--wide", help="Show every column, however wide the terminal")
]
# Help texts here (not in qsre.cli_slo) so that `qsre --help` imports no SLO code.
SLO_JSON_HELP = (
    "Print JSON keyed by SLO name. In burn_rates, a number is the window's burn rate, "
    '"incomplete" means the store\'s history is shorter than the window (not yet '
    "measurable), and null means the window is complete but held no events"
)
SLO_AT_HELP = (
    "Evaluate as of this ISO time (a time without an offset is UTC). Counts events "
    "in whole minutes before it: the minute containing --at is still open and is "
    "not counted"
)


def _config(path: Path | None):
    from qsre.config import load_config

    return load_config(path)


def _store(config_path: Path | None, db: str | None):
    from collector.store import Store

    if db:
        return Store(db)
    return Store(_config(config_path).store_url)


def _existing_store(config_path: Path | None, db: str | None):
    """The store a read-only command looks at: it must exist and be at this version's
    schema (qsre.store_access); nothing is created, migrated or written."""
    from qsre.store_access import open_existing

    return open_existing(db or _config(config_path).store_url)


def _unshipped_hint(config_path: Path | None, db: str | None) -> str | None:
    """Jobs recorded by processes that ended without shipping their spool (kill -9,
    OOM) are not in the store until `qsre run` adopts them: say so where a user
    looks for them. Read-only: the spool is only inspected."""
    from collector.spool import default_spool_dir, spool_backlog

    cfg = _config(config_path)
    url = db or cfg.store_url
    configured = cfg.file.store.spool_dir if url == cfg.store_url else None
    directory = Path(configured) if configured else default_spool_dir(url)
    backlog = spool_backlog(directory)
    if backlog.orphaned:
        return (
            f"{backlog.orphaned} recorded events of processes that ended without shipping "
            f"them wait in {directory}; `qsre run` adopts them into the store"
        )
    if backlog.pending:
        return f"{backlog.pending} events of running processes are still on their way to the store"
    return None


def _json_safe(value: Any) -> Any:
    """``value`` with every non-finite float as null: JSON has no Infinity or NaN,
    and a stored inf (older rows, a provider's) must not make the output unreadable."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def _print_json(data: Any) -> None:
    text = json.dumps(_json_safe(data), indent=2, default=str, allow_nan=False)
    sys.stdout.write(text + "\n")


def _parse_duration(option: str, value: str) -> timedelta:
    """A positive duration like ``30m``/``2h``/``7d``; InputError naming ``option`` otherwise."""
    from slo.windows import parse_duration_s

    # parse_duration_s answers None (not an exception) for anything malformed,
    # including a negative duration: the check has to be explicit.
    seconds = parse_duration_s(value)
    if seconds is None or seconds <= 0:
        raise InputError(option, "a positive duration like 30m, 2h, 7d", value)
    return timedelta(seconds=seconds)


def _positive(option: str, value: float, *, allow_zero: bool = False) -> None:
    if value < 0 or (value == 0 and not allow_zero) or not math.isfinite(value):
        expected = "a number >= 0" if allow_zero else "a number > 0"
        raise InputError(option, expected, value)


# A row count the databases can bind (SQLite and PostgreSQL integers are 64-bit).
MAX_ROWS = 2**63 - 1


def _row_count(option: str, value: int, *, allow_zero: bool = False) -> None:
    low = 0 if allow_zero else 1
    if not low <= value <= MAX_ROWS:
        raise InputError(option, f"an integer from {low} to {MAX_ROWS}", value)


def _port(option: str, port: int) -> None:
    if not 0 <= port <= 65535:
        raise InputError(option, "a TCP port 0-65535", port)


def _parse_since(value: str | None) -> datetime | None:
    if value is None:
        return None
    from slo.windows import parse_duration_s

    if parse_duration_s(value) is not None:
        return datetime.now(UTC) - _parse_duration("--since", value)
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InputError("--since", "a duration like 1h, 30m, 7d or an ISO time", value) from None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _parse_at(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InputError("--at", "an ISO time like 2026-11-22T12:00:00Z", value) from None
    dt = dt if dt.tzinfo else dt.replace(tzinfo=UTC)
    now = datetime.now(UTC)
    if dt > now:
        # The engine refuses the future too, but as a runtime failure with a traceback hint.
        raise InputError("--at", f"a time no later than now ({now:%Y-%m-%dT%H:%M}Z)", value)
    return dt


# ------------------------------------------------------------------ jobs

JOB_TABLE_COLUMNS = (
    Column("id", 0),
    Column("backend", 1),
    Column("status", 2),
    Column("submitted", 3),
    Column("e2e s", 4, "right"),
    Column("cost $", 5, "right"),
    Column("error", 6, wraps=True),
    Column("shots", 7, "right"),
    Column("project", 8),
    Column("queue s", 9, "right"),
    Column("tries", 10, "right"),
)


@jobs_app.callback()
def jobs(
    ctx: typer.Context,
    config: ConfigOpt = None,
    db: DbOpt = None,
    backend: Annotated[str | None, typer.Option(help="Only this backend")] = None,
    project: Annotated[str | None, typer.Option(help="Only this project")] = None,
    status: Annotated[
        str | None, typer.Option(help="queued|running|done|error|cancelled|unknown")
    ] = None,
    since: Annotated[str | None, typer.Option(help="Submitted within, e.g. 1h, 30m, 7d")] = None,
    limit: Annotated[int, typer.Option(help="At most this many, newest first")] = 50,
    wide: WideOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """List recorded jobs, newest first; `qsre jobs show ID` prints one job."""
    if ctx.invoked_subcommand is not None:
        return
    from collector.schema import STATUSES

    if status is not None and status not in STATUSES:
        raise InputError("--status", f"one of {', '.join(STATUSES)}", status)
    _row_count("--limit", limit)
    since_at = _parse_since(since)  # bad options are reported before the store is looked at
    store = _existing_store(config, db)
    rows = store.jobs(since=since_at, backend=backend, project=project, status=status, limit=limit)
    unshipped = _unshipped_hint(config, db)
    if as_json:
        _print_json([j.to_dict() for j in rows])
        if unshipped:
            sys.stderr.write(f"note: {unshipped}\n")
        return
    if not rows:
        filtered = any(v is not None for v in (backend, project, status, since))
        console.print("no jobs match these filters" if filtered else "no jobs recorded yet")
        if unshipped:
            console.print(f"note: {unshipped}", style="yellow")
        return
    short_ids = short_job_ids([j.id for j in rows])
    cells = [
        [
            short,
            j.backend,
            j.status,
            j.submitted_at.strftime("%m-%d %H:%M:%S"),
            "" if j.e2e_seconds is None else f"{j.e2e_seconds:.1f}",
            f"{j.cost_usd:.2f}",
            j.error_class or "",
            str(j.shots or ""),
            j.project,
            "" if j.queue_seconds is None else f"{j.queue_seconds:.1f}",
            str(j.attempts),
        ]
        for short, j in zip(short_ids, rows, strict=True)
    ]
    table = fit_table(
        f"{len(rows)} jobs, newest first",
        JOB_TABLE_COLUMNS,
        cells,
        width=console.width,
        wide=wide,
        caption="id: process.job of the qsre id (`qsre jobs show ID` takes it)",
    )
    print_table(console, table, wide=wide)
    if unshipped:
        console.print(f"note: {unshipped}", style="yellow")


def _counts_summary(counts: list[dict[str, int]]) -> list[dict[str, Any]]:
    """Per circuit: shots counted, distinct outcomes, the most frequent outcomes."""
    summary = []
    for index, circuit_counts in enumerate(counts):
        total = sum(circuit_counts.values())
        top = sorted(circuit_counts.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
        summary.append(
            {
                "circuit": index,
                "shots": total,
                "outcomes": len(circuit_counts),
                "top": [{"bitstring": b, "count": n} for b, n in top],
            }
        )
    return summary


def _seconds(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f} s"


def _when(value: datetime | None) -> str:
    return "n/a" if value is None else value.isoformat()


@jobs_app.command("show")
def jobs_show(
    job_ref: Annotated[
        str,
        typer.Argument(
            metavar="ID",
            help="A qsre id, a unique prefix or suffix of one, or a provider job id",
        ),
    ],
    config: ConfigOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Print one job's whole record: ids, timings, attempts, error, cost, counts,
    calibration."""
    store = _existing_store(config, db)
    found = store.find_jobs(job_ref, limit=6)
    if not found:
        raise NotFound(
            "job",
            "a qsre id, a unique prefix/suffix of one, or a provider job id",
            job_ref,
            hint=_unshipped_hint(config, db),
        )
    if len(found) > 1:
        shown = ", ".join(j.id for j in found[:5]) + (", ..." if len(found) > 5 else "")
        raise InputError("job", f"a reference matching one job (it matches {shown})", job_ref)
    job = found[0]
    counts = _counts_summary(store.counts(job.id))
    if as_json:
        _print_json({**job.to_dict(), "counts_summary": counts})
        return
    trace_url = _config(config).file.links.trace_url_template if job.trace_id else ""
    fields: list[tuple[str, str]] = [
        ("qsre id", job.id),
        ("provider id", job.provider_job_id or "n/a"),
        ("backend", job.backend),
        ("project", job.project),
        ("purpose", job.purpose),
        ("status", job.status),
        ("error", f"{job.error_class}: {job.error_message or ''}" if job.error_class else "none"),
        ("attempts", str(job.attempts)),
        ("submitted", _when(job.submitted_at)),
        ("started", _when(job.started_at)),
        ("finished", _when(job.finished_at)),
        ("queue", _seconds(job.queue_seconds)),
        ("run", _seconds(job.run_seconds)),
        ("end to end", _seconds(job.e2e_seconds)),
        ("cost", f"${job.cost_usd:.4f}"),
        ("circuits", f"{job.num_circuits} (max {job.max_qubits} qubits, depth {job.max_depth})"),
        ("shots", str(job.shots) if job.shots is not None else "n/a"),
        ("calibration", _when(job.calibration_at)),
        ("trace id", job.trace_id or "n/a (no spans were emitted for it)"),
        ("recorded by", job.recorder or "n/a"),
    ]
    if trace_url:
        fields.append(("trace", trace_url.replace("{trace_id}", job.trace_id or "")))
    if job.shots_discrepancy:
        fields.append(("shots missing", str(job.shots_discrepancy)))
    if job.tags:
        fields.append(("tags", ", ".join(f"{k}={v}" for k, v in sorted(job.tags.items()))))
    for c in counts:
        top = ", ".join(f"{t['bitstring']}: {t['count']}" for t in c["top"])
        fields.append(
            (f"counts #{c['circuit']}", f"{c['shots']} shots, {c['outcomes']} outcomes; {top}")
        )
    table = Table(show_header=False, box=None, title=f"job {job.id}", title_justify="left")
    table.add_column("field", no_wrap=True, style="bold")
    table.add_column("value", overflow="fold")
    for name, value in fields:
        table.add_row(name, escape(value))
    console.print(table)


# ------------------------------------------------------------------ run / demo
@app.command()
def run(
    config: ConfigOpt = None,
    db: DbOpt = None,
    port: Annotated[
        int | None, typer.Option(help="/metrics port (overrides exporter.port)")
    ] = None,
    host: Annotated[
        str | None, typer.Option(help="/metrics host (overrides exporter.host)")
    ] = None,
    no_schedules: Annotated[
        bool, typer.Option("--no-schedules", help="Do not run validation schedules")
    ] = False,
) -> None:
    """The daemon: ship and adopt spools, serve /metrics, validate, evaluate SLOs, route alerts."""
    from qsre.daemon import Daemon

    if port is not None:
        _port("--port", port)
    cfg = _config(config)
    Daemon(cfg, db=db, host=host, port=port, schedules=not no_schedules).run_forever()


@app.command()
def demo(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help=(
                "Run this qsre.yaml's SLOs, signals, routes, validation, pricing and links "
                "on the simulated backends (default: the embedded example); its receivers "
                "are never contacted"
            ),
        ),
    ] = None,
    as_json: JsonOpt = False,
    serve: Annotated[
        bool, typer.Option("--serve", help="Keep /metrics running afterwards")
    ] = False,
    out: Annotated[Path, typer.Option(help="Where the demo writes everything")] = Path("qsre-demo"),
    days: Annotated[float, typer.Option(help="Simulated days")] = 7.0,
    port: Annotated[int, typer.Option(help="/metrics port with --serve")] = 9464,
    wide: WideOpt = False,
) -> None:
    """A simulated week on three backends with every failure mode F1-F8 injected; prints
    the scorecard. Exits 1 if a fault went undetected or an alert fired without one."""
    _positive("--days", days)
    _port("--port", port)
    if config is not None:
        _config(config)  # a bad file is reported before a minute of simulation
    from qsre.demo import run_demo

    code = run_demo(
        out=out,
        days=days,
        as_json=as_json,
        serve=serve,
        port=port,
        config_path=config,
        wide=wide,
    )
    raise typer.Exit(code)


# ------------------------------------------------------------------ validate
VALIDATION_COLUMNS = (
    Column("circuit", 0),
    Column("fidelity", 2, "right"),
    Column("mitigated", 5, "right"),
    Column("TVD", 3, "right"),
    Column("p", 4, "right"),
    Column("drift stat", 6, "right"),
    Column("verdict", 1),
)


@app.command()
def validate(
    backend: Annotated[str, typer.Option(help="Backend name from the config")],
    config: ConfigOpt = None,
    db: DbOpt = None,
    backend_factory: Annotated[
        str | None, typer.Option(help="module:callable returning any BackendV2")
    ] = None,
    wide: WideOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Run the reference suite once through the proxy and print the verdicts."""
    from collector.clock import SystemClock
    from qsre.config import load_factory
    from validators.runner import run_validation

    cfg = _config(config)
    store = _store(config, db)
    clock = SystemClock()
    if backend_factory:
        factory = load_factory(backend_factory)
        try:
            target = factory()
        except TypeError as exc:
            # The factory exists but cannot be called bare: a wrong target, not a bug.
            raise InputError(
                "--backend-factory",
                "a callable taking no arguments and returning a backend",
                f"{backend_factory} ({exc})",
            ) from None
        if not hasattr(target, "run"):
            raise InputError(
                "--backend-factory",
                "a callable returning a backend with .run()",
                f"{backend_factory} -> {type(target).__name__}",
            )
        validation = cfg.file.validation
        drift_config, divergence_config = validation.detector_configs()
        report = run_validation(
            target,
            store=store,
            suite=validation.suite(),
            clock=clock,
            drift_config=drift_config,
            divergence_config=divergence_config,
            via=validation.via,
            jobs=validation.jobs,
        )
    else:
        from qsre.wiring import validate_backend

        # A config backend: recorded under its config name, at its prices (the
        # cost of watching is real spend on a QPU).
        report = validate_backend(cfg.backend(backend), store=store, clock=clock)
    data = report.to_dict()
    if as_json:
        _print_json(data)
        return

    def fmt(value: Any, spec: str = ".4f") -> str:
        return "n/a" if value is None else format(value, spec)

    cells = [
        [
            row.circuit,
            fmt(row.fidelity),
            fmt(row.fidelity_mitigated),
            fmt(row.divergence_tvd),
            fmt(row.divergence_p, ".2e"),
            fmt(row.drift_statistic, ".2f"),
            row.verdict,
        ]
        for row in report.rows
    ]
    table = fit_table(
        f"{report.backend}: {report.verdict.upper()} (run {report.run_id[:8]})",
        VALIDATION_COLUMNS,
        cells,
        width=console.width,
        wide=wide,
        caption="fidelity vs the ideal distribution, raw and readout-mitigated; "
        "TVD and p vs the backend's own calibration",
    )
    print_table(console, table, wide=wide)
    if report.likely_cause:
        console.print(f"likely cause: {report.likely_cause}")


# ------------------------------------------------------------------ SLOs
@slo_app.command("status")
def slo_status(
    config: ConfigOpt = None,
    db: DbOpt = None,
    at: Annotated[str | None, typer.Option(help=SLO_AT_HELP)] = None,
    wide: WideOpt = False,
    as_json: Annotated[bool, typer.Option("--json", help=SLO_JSON_HELP)] = False,
) -> None:
    """Per SLO: objective, SLI, budget remaining (ratio and time), burn rates, alert state."""
    from collector.clock import SystemClock
    from qsre.cli_slo import freshness_line, rollups_updated_at, status_json, status_renderable
    from slo.engine import SLOEngine

    cfg = _config(config)
    at_time = _parse_at(at)
    store = _existing_store(config, db)
    clock = SystemClock()
    engine = SLOEngine(store, cfg.slos, clock=clock, read_only=True)
    statuses = engine.evaluate(at_time)
    updated = rollups_updated_at(engine)
    if as_json:
        _print_json(status_json(statuses, updated))
        return
    if wide:
        print_table(console, status_renderable(statuses, width=10_000, wide=True), wide=True)
    else:
        console.print(status_renderable(statuses, width=console.width, wide=False))
    console.print(freshness_line(updated, clock.now()), style="dim")


# ------------------------------------------------------------------ alerts & silences
ALERT_COLUMNS = (
    Column("alertname", 0),
    Column("backend/slo", 1),
    Column("severity", 3),
    Column("since", 4),
    Column("failed", 2, wraps=True),
    Column("notified", 5),
    Column("fingerprint", 6),
)
NOTIFICATION_COLUMNS = (
    Column("at", 0),
    Column("receiver", 1),
    Column("status", 3),
    Column("alerts", 4, "right"),
    Column("ok", 2, wraps=True),
)
SILENCE_COLUMNS = (
    Column("id", 0),
    Column("matchers", 1),
    Column("until", 2),
    Column("comment", 3, wraps=True),
    Column("by", 4),
)


def _short_time(iso: str | None) -> str:
    """``MM-DD HH:MM`` UTC: the table's time; --json has the full ISO time."""
    if not iso:
        return ""
    return datetime.fromisoformat(iso).astimezone(UTC).strftime("%m-%d %H:%M")


@alerts_app.callback()
def alerts(
    ctx: typer.Context,
    config: ConfigOpt = None,
    db: DbOpt = None,
    recent: Annotated[int, typer.Option(help="Also show this many recent notifications")] = 20,
    wide: WideOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Active alerts (with fingerprints, receivers notified and failed deliveries) and
    recent notifications."""
    if ctx.invoked_subcommand is not None:
        return
    _row_count("--recent", recent, allow_zero=True)

    from slo.alert_state import AlertStateStore

    state = AlertStateStore(_existing_store(config, db), read_only=True)
    loaded = state.load()
    log_entries = state.notification_log()
    notified: dict[str, set[str]] = {}
    # The last word per (alert, receiver): a failed delivery stays visible as failed,
    # with the receiver's answer, until a later attempt succeeds.
    last: dict[tuple[str, str], Any] = {}
    for entry in log_entries:
        for fp in entry.fingerprints:
            last[(fp, entry.receiver)] = entry
            if entry.ok:
                notified.setdefault(fp, set()).add(entry.receiver)
    failed: dict[str, dict[str, str]] = {}
    for (fp, receiver), entry in last.items():
        if not entry.ok:
            failed.setdefault(fp, {})[receiver] = entry.error or ""
    active = [
        {
            "fingerprint": fp,
            "labels": dict(a.alert.labels),
            "annotations": dict(a.alert.annotations),
            "starts_at": a.alert.starts_at.isoformat() if a.alert.starts_at else None,
            "ends_at": a.alert.ends_at.isoformat() if a.alert.ends_at else None,
            "receivers_notified": sorted(notified.get(fp, ())),
            "receivers_failed": dict(sorted(failed.get(fp, {}).items())),
        }
        for fp, a in loaded.alerts.items()
    ]
    recent_rows = [
        {
            "at": e.at.isoformat(),
            "receiver": e.receiver,
            "status": e.status,
            "fingerprints": list(e.fingerprints),
            "ok": e.ok,
            "error": e.error,
        }
        for e in log_entries[-recent:]
    ]
    if as_json:
        _print_json({"active": active, "recent_notifications": recent_rows})
        return
    active_rows = [
        [
            a["labels"].get("alertname", ""),
            a["labels"].get("backend") or a["labels"].get("slo") or a["labels"].get("receiver", ""),
            a["labels"].get("severity", ""),
            _short_time(a["starts_at"]),
            "; ".join(f"{r}: {e}" for r, e in a["receivers_failed"].items()),
            ", ".join(a["receivers_notified"]),
            a["fingerprint"],
        ]
        for a in active
    ]
    # An empty table is a frame around nothing: say it in words instead.
    if active_rows:
        print_table(
            console,
            fit_table(
                f"{len(active)} active alerts",
                ALERT_COLUMNS,
                active_rows,
                width=console.width,
                wide=wide,
            ),
            wide=wide,
        )
    else:
        console.print("no active alerts")
    log_rows = [
        [
            _short_time(r["at"]),
            r["receiver"],
            r["status"],
            str(len(r["fingerprints"])),
            "yes" if r["ok"] else f"FAILED: {r['error']}",
        ]
        for r in recent_rows
    ]
    if log_rows:
        print_table(
            console,
            fit_table(
                "recent notifications",
                NOTIFICATION_COLUMNS,
                log_rows,
                width=console.width,
                wide=wide,
            ),
            wide=wide,
        )
    elif recent:
        console.print("no notifications sent yet")
    if state.empty:
        console.print(
            "no alert state in this store yet: `qsre run` evaluates, routes and records alerts",
            style="dim",
        )


@alerts_app.command("test")
def alerts_test(
    receiver: Annotated[str, typer.Argument(help="A receiver name from alerting.receivers")],
    config: ConfigOpt = None,
) -> None:
    """Send a real test notification (firing, then resolved) to RECEIVER and print what
    it answered; exits 1 if it did not accept it."""
    from qsre.wiring import build_notifier
    from slo.notify.base import NotifyError
    from slo.notify.test_message import send_test_notification

    cfg = _config(config)
    sections = {r.name: r for r in cfg.file.alerting.receivers}
    if receiver not in sections:
        raise NotFound(
            "receiver", f"one of {', '.join(sorted(sections)) or '(none configured)'}", receiver
        )
    notifier = build_notifier(sections[receiver])
    try:
        answers = send_test_notification(notifier, datetime.now(UTC))
    except NotifyError as exc:
        # Plain echo: receiver answers contain brackets that rich would read as markup.
        typer.echo(f"{receiver}: FAILED: {exc}", err=True)
        raise typer.Exit(1) from None
    for step, answer in answers:
        typer.echo(f"{receiver}: {step} accepted; answer: {answer or '(empty)'}")


@silence_app.command("add")
def silence_add(
    match: Annotated[
        list[str],
        typer.Option("--match", "-m", help="label=value, label!=value, label=~regex (repeatable)"),
    ],
    duration: Annotated[str, typer.Option(help="How long, e.g. 2h, 30m, 1d")] = "2h",
    comment: Annotated[str, typer.Option(help="Why (shown on suppressed alerts)")] = "",
    created_by: Annotated[str, typer.Option(help="Who")] = os.environ.get("USER", "qsre"),
    config: ConfigOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Mute alerts matching every --match for --duration."""
    from slo.alert_state import AlertStateStore
    from slo.alerts import Matcher, Silence

    matchers = []
    for text in match:
        try:
            matchers.append(Matcher.parse(text))
        except ValueError:
            raise InputError(
                "--match", "label=value, label!=value, label=~regex or label!~regex", text
            ) from None
    length = _parse_duration("--duration", duration)
    now = datetime.now(UTC)
    silence = Silence(
        id=uuid.uuid4().hex[:12],
        matchers=tuple(matchers),
        starts_at=now,
        ends_at=now + length,
        created_by=created_by,
        comment=comment,
        created_at=now,
    )
    AlertStateStore(_store(config, db)).save_silence(silence)
    if as_json:
        _print_json(_silence_dict(silence))
    else:
        console.print(f"silence {silence.id} until {silence.ends_at.isoformat()}")


def _silence_dict(s: Any) -> dict[str, Any]:
    return {
        "id": s.id,
        "matchers": [str(m) for m in s.matchers],
        "starts_at": s.starts_at.isoformat(),
        "ends_at": s.ends_at.isoformat(),
        "created_by": s.created_by,
        "comment": s.comment,
    }


@silence_app.command("list")
def silence_list(
    config: ConfigOpt = None,
    db: DbOpt = None,
    expired: Annotated[bool, typer.Option(help="Include expired silences")] = False,
    wide: WideOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """List silences."""
    from slo.alert_state import AlertStateStore

    now = datetime.now(UTC)
    state = AlertStateStore(_existing_store(config, db), read_only=True)
    rows = [s for s in state.silences() if expired or s.ends_at > now]
    if as_json:
        _print_json([_silence_dict(s) for s in rows])
        return
    cells = [
        [
            sil.id,
            "\n".join(str(m) for m in sil.matchers),
            _short_time(sil.ends_at.isoformat()),
            sil.comment,
            sil.created_by,
        ]
        for sil in rows
    ]
    if not rows:
        console.print("no silences" if expired else "no active silences")
        return
    table = fit_table(
        f"{len(rows)} silences", SILENCE_COLUMNS, cells, width=console.width, wide=wide
    )
    print_table(console, table, wide=wide)


@silence_app.command("expire")
def silence_expire(silence_id: str, config: ConfigOpt = None, db: DbOpt = None) -> None:
    """End a silence now."""
    from dataclasses import replace

    from slo.alert_state import AlertStateStore

    state = AlertStateStore(_store(config, db))
    found = [s for s in state.silences() if s.id == silence_id]
    if not found:
        raise NotFound("silence", "an id from `qsre silence list`", silence_id)
    now = datetime.now(UTC)
    state.save_silence(replace(found[0], ends_at=max(now, found[0].starts_at)))
    console.print(f"silence {silence_id} expired")


# ------------------------------------------------------------------ rules, dashboards
@rules_app.command("build")
def rules_build(
    out: Annotated[Path, typer.Option(help="Output directory")] = Path("rules"),
    config: ConfigOpt = None,
) -> None:
    """Write Prometheus recording + multi-window burn-rate alerting rules for the SLOs."""
    from slo.rules import write_rules

    cfg = _config(config)
    path = write_rules(
        cfg.slos,
        out,
        runbook_base_url=cfg.file.links.runbook_base_url,
        dashboard_base_url=cfg.file.links.dashboard_base_url,
        evaluation_interval_s=cfg.file.alerting.evaluation_interval_s,
    )
    console.print(f"wrote {path}")


@dash_app.command("build")
def dashboards_build(
    out: Annotated[Path, typer.Option(help="Output directory")] = Path("dashboards-json"),
    config: ConfigOpt = None,
) -> None:
    """Write one Grafana dashboard JSON per dashboard (executive, on-call, debug, per SLO)."""
    from dashboards import write_dashboards
    from qsre.wiring import dashboard_options

    cfg = _config(config)
    paths = write_dashboards(cfg.slos, out, **dashboard_options(cfg))
    for p in paths:
        console.print(f"wrote {p}")


@dash_app.command("push")
def dashboards_push(
    grafana_url: Annotated[
        str | None, typer.Option(help="Grafana base URL (default: dashboards.grafana_url)")
    ] = None,
    token_env: Annotated[
        str | None,
        typer.Option(help="Env var holding the Grafana API token (default: dashboards.token_env)"),
    ] = None,
    folder_uid: Annotated[
        str | None, typer.Option(help="Grafana folder UID (default: dashboards.folder_uid)")
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Upload the dashboards through Grafana's HTTP API (overwrite), to the Grafana
    named by the options or by the config's dashboards section."""
    from dashboards import build_dashboards, push_dashboards
    from qsre.wiring import dashboard_options

    cfg = _config(config)
    section = cfg.file.dashboards
    url = grafana_url or section.grafana_url
    if not url:
        raise InputError(
            "--grafana-url", "a Grafana URL (or dashboards.grafana_url in the config)", "none"
        )
    env = token_env or section.token_env
    if not env:
        raise InputError(
            "--token-env", "an env var name (or dashboards.token_env in the config)", "none"
        )
    token = os.environ.get(env)
    if not token:
        raise InputError("--token-env", "a set environment variable holding the token", env)
    results = push_dashboards(
        build_dashboards(cfg.slos, **dashboard_options(cfg)),
        url,
        token,
        folder_uid=folder_uid or section.folder_uid,
    )
    for r in results:
        console.print(f"pushed {r}")


# ------------------------------------------------------------------ reports
def _read_only_engine(store: Any, slos: Any, clock: Any) -> Any:
    """The report's SLO numbers, computed without writing the store."""
    from slo.engine import SLOEngine

    return SLOEngine(store, slos, clock=clock, read_only=True)


@report_app.command("weekly")
def report_weekly(
    out: Annotated[Path, typer.Option(help="Output directory")] = Path("reports"),
    week: Annotated[
        str | None, typer.Option(help="ISO week like 2026-W47 (default: last complete week)")
    ] = None,
    config: ConfigOpt = None,
    db: DbOpt = None,
    post_slack: Annotated[
        bool, typer.Option(help="Post to Slack as configured in reports.weekly.slack")
    ] = False,
) -> None:
    """Write the weekly SLO and cost report (HTML + Markdown + JSON)."""
    from collector.clock import SystemClock
    from slo.report import build_weekly_report, post_report_to_slack

    cfg = _config(config)
    if week is not None:
        from slo.report_data import ReportError, parse_week

        try:
            parse_week(week)
        except ReportError:
            # A malformed --week is the user's typo (exit 2), not a failed report.
            raise InputError("--week", "an ISO week like 2026-W47", week) from None
    store = _existing_store(config, db)
    paths = build_weekly_report(
        store,
        cfg.slos,
        week=week,
        clock=SystemClock(),
        out_dir=out,
        timezone=cfg.file.reports.weekly.timezone,
        engine_factory=_read_only_engine,
    )
    console.print(f"wrote {paths.html}\nwrote {paths.markdown}")
    slack = cfg.file.reports.weekly.slack
    if post_slack:
        if slack is None:
            raise InputError(
                "--post-slack", "reports.weekly.slack in the config", "no such section"
            )
        post_report_to_slack(
            paths, token_env=slack.token_env, channel=slack.channel, api_url=slack.api_url
        )


# ------------------------------------------------------------------ runbooks
@runbook_app.command("show")
def runbook_show(
    name: Annotated[
        str, typer.Argument(help="An alert kind or alert name (e.g. QsreCalibrationDrift)")
    ],
) -> None:
    """Render one runbook in the terminal, found by alert kind or by alert name."""
    from rich.markdown import Markdown

    from runbooks.catalog import find_runbook

    console.print(Markdown(find_runbook(name).markdown))


@runbook_app.command("list")
def runbook_list(as_json: JsonOpt = False) -> None:
    """List alert kinds and their runbooks."""
    from runbooks.catalog import all_runbooks

    books = all_runbooks()
    if as_json:
        _print_json([{"kind": b.kind, "title": b.title, "path": str(b.path)} for b in books])
        return
    table = Table(title="runbooks")
    table.add_column("kind")
    table.add_column("title")
    for b in books:
        table.add_row(b.kind, b.title)
    console.print(table)


# ------------------------------------------------------------------ init / doctor
@app.command()
def init(
    path: Annotated[Path, typer.Argument(help="Where to write the example")] = Path("qsre.yaml"),
    force: Annotated[bool, typer.Option(help="Overwrite an existing file")] = False,
) -> None:
    """Write a commented example qsre.yaml covering every section."""
    from qsre.config import EMBEDDED_DEFAULT

    if path.exists() and not force:
        raise InputError("init PATH", "a file that does not exist yet (or --force)", str(path))
    path.write_text(EMBEDDED_DEFAULT.read_text())
    console.print(f"wrote {path}")


@app.command()
def doctor(config: ConfigOpt = None, db: DbOpt = None, as_json: JsonOpt = False) -> None:
    """Check a config without writing anything: store reachable (and its schema),
    spool writable, receivers' env vars, backends constructible, validation suites."""
    from qsre.doctor import run_checks

    checks = run_checks(config, db)
    if as_json:
        _print_json([c.__dict__ for c in checks])
    else:
        table = Table(title="qsre doctor")
        for col in ("check", "ok", "detail"):
            table.add_column(col)
        for c in checks:
            table.add_row(c.name, "[green]ok[/]" if c.ok else "[red]FAIL[/]", c.detail)
        console.print(table)
    failing = [c.name for c in checks if not c.ok]
    if failing:
        # The table says why; this line is for scripts and for the eye at the bottom.
        sys.stderr.write(
            f"error: doctor: expected every check to pass, got {len(failing)} failing: "
            f"{', '.join(failing)}\n"
        )
        raise typer.Exit(1)


def main() -> None:
    # The daemon logs warnings (retries, adoptions) as its running commentary; a one-shot
    # command reports its outcome as one line, so its libraries' retries stay quiet
    # unless QSRE_LOG_LEVEL asks for them.
    default_level = "WARNING" if sys.argv[1:2] == ["run"] else "ERROR"
    logging.basicConfig(
        level=os.environ.get("QSRE_LOG_LEVEL", default_level),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    sys.exit(run_app(app))


if __name__ == "__main__":
    main()
