"""`qsre demo`: the whole story on a virtual clock, on the embedded default config or
the user's own (``qsre demo -c qsre.yaml``).

A simulated week (ISO week 2026-W47) on three simulated backends, with every failure
mode F1..F8 (``runbooks.FAILURE_MODES``) injected once (``qsre.sim.world``): a burst
of transient errors, a queue spike, reported calibration drift, a backend out of
memory, an auth outage, corrupt results, an unreported firmware bug and a billing
spike. A workload from several projects runs every 15 simulated minutes, the
validation suite hourly, SLO evaluation, failure-mode signals and alert routing every
5. At the end: a scorecard (each injected fault: detected? when? by the alert of its
own kind? which runbook?) and the paths of what was written (dashboards, Prometheus
rules, weekly report, alert log).

What "runs the user's config" means: the config's SLOs, alert signal thresholds,
routes (grouping, inhibition, maintenance windows), validation settings (circuits,
shots, drift and divergence tests), backend pricing and links are used as the
daemon would use them. Three things are the demo's own, so that running it is
always safe and its answer key always holds:

- Backends: the simulated world's sim-stable, sim-drifting and sim-firmware, under
  those names; the user's backends are never built or contacted. A configured
  backend of the same name lends its pricing; the others pay the first configured
  price (no price anywhere: no spend, and no billing spike to detect). Quotas are
  not applied (the injected billing spike would hit them).
- Receivers: every configured receiver (and fallback receiver) is replaced by a
  console receiver of the same name that writes to ``<out>/alerts.log``: the log
  shows who would have been notified, and no Slack, PagerDuty, webhook or
  Alertmanager is ever called.
- Store and outputs: everything is written under ``--out`` (``qsre.db``,
  dashboards, rules, report), never to the config's store, Grafana or Slack.
"""

from __future__ import annotations

import contextlib
import json
import random
import shutil
import sys
import time
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from qiskit import QuantumCircuit, transpile
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from collector.clock import VirtualClock
from collector.proxy import ExecutionProxy
from collector.recorder import spool_recorder
from collector.retry import RetryPolicy
from collector.store import Store
from qsre.cli_tables import Column, fit_table, print_table
from qsre.config import EMBEDDED_DEFAULT, Config, load_config
from qsre.cycle import EvaluationCycle
from qsre.sim.world import InjectedFault, demo_world
from qsre.wiring import dashboard_options
from runbooks.catalog import FAILURE_MODES, failure_mode_id
from slo.alert_state import AlertStateStore
from slo.notify.console import ConsoleNotifier
from slo.routing import Router

DEMO_START = datetime(2026, 11, 16, tzinfo=UTC)  # Monday of ISO week 2026-W47
PROJECTS = ("chem-team", "finance-opt", "ml-research")
STEP_MINUTES = 5
WORKLOAD_EVERY_MINUTES = 15
VALIDATE_EVERY_MINUTES = 60
# Grace after a fault ends within which a first alert still counts as detecting it.
DETECTION_GRACE = timedelta(hours=2)
# Alert kinds on a backend that an injected fault explains: its own kind, and only
# that, except that a firmware bug also moves the backend away from its own baseline,
# so DRIFT may rightly accompany DIVERGED.
EXPLAINED_KINDS: dict[str, frozenset[str]] = {
    "queue_overload": frozenset({"queue_overload"}),
    "calibration_drift": frozenset({"calibration_drift"}),
    "network_blips": frozenset({"network_blips"}),
    "auth_failure": frozenset({"auth_failure"}),
    "simulator_divergence": frozenset({"simulator_divergence", "calibration_drift"}),
    "billing_spike": frozenset({"billing_spike"}),
    "result_corruption": frozenset({"result_corruption"}),
    "resource_exhaustion": frozenset({"resource_exhaustion"}),
}


@dataclass(frozen=True)
class FiredAlert:
    fingerprint: str
    kind: str
    severity: str
    backend: str | None
    labels: dict[str, str]
    runbook_url: str
    started_at: datetime
    resolved_at: datetime | None = None


@dataclass(frozen=True)
class ScorecardRow:
    failure_mode: str | None  # "F1".."F8"; None for a fault outside FAILURE_MODES
    fault: str
    backend: str | None
    injected_at: str
    detected: bool
    detected_at: str | None
    alert: str | None
    severity: str | None
    runbook: str | None
    delay_minutes: float | None


def _workload_circuits(backend: Any) -> list[QuantumCircuit]:
    circuits = []
    for n in (2, 3):
        qc = QuantumCircuit(n, name=f"ghz{n}")
        qc.h(0)
        for q in range(1, n):
            qc.cx(q - 1, q)
        qc.measure_all()
        circuits.append(qc)
    qc = QuantumCircuit(3, name="ansatz")
    for q in range(3):
        qc.ry(0.3 + q, q)
    qc.cx(0, 1)
    qc.cx(1, 2)
    qc.measure_all()
    circuits.append(qc)
    return transpile(circuits, backend, optimization_level=1, seed_transpiler=1)


class DemoRun:
    def __init__(
        self, out: Path, days: float, config: Config | None = None, seed: int = 47
    ) -> None:
        self.out = out
        self.days = days
        self.config = config or load_config(EMBEDDED_DEFAULT)
        self.rng = random.Random(seed)
        self.clock = VirtualClock(DEMO_START)
        if out.exists():
            for name in ("qsre.db", "qsre.db-wal", "qsre.db-shm", "qsre.db.spool", "alerts.log"):
                p = out / name
                if p.is_dir():
                    shutil.rmtree(p)
                else:
                    p.unlink(missing_ok=True)
        out.mkdir(parents=True, exist_ok=True)
        self.store = Store(f"sqlite:///{out / 'qsre.db'}")
        self.recorder = spool_recorder(self.store)
        self.world = demo_world(self.clock, DEMO_START)
        self.alert_log_path = out / "alerts.log"
        self._alert_stream = open(self.alert_log_path, "w")  # noqa: SIM115 - closed in finish()
        self.router = demo_router(self.config, self.store, self.clock, self._alert_stream)
        self.cycle = EvaluationCycle(self.config, self.store, self.router, self.clock)
        pricing = {b.name: b.pricing for b in self.config.backends}
        default_pricing = next((p for p in pricing.values() if p is not None), None)
        # Validation jobs pay what the workload pays on the same backend.
        self._pricing_of = lambda name: pricing.get(name) or default_pricing
        retry = RetryPolicy(max_attempts=3, base_delay_s=1.0, max_delay_s=10.0, budget_s=30.0)
        self.proxies: dict[tuple[str, str], ExecutionProxy] = {}
        self.circuits: dict[str, list[QuantumCircuit]] = {}
        for backend in self.world.backends:
            self.circuits[backend.name] = _workload_circuits(backend)
            for project in PROJECTS:
                self.proxies[(backend.name, project)] = ExecutionProxy(
                    backend,
                    store=self.store,
                    project=project,
                    tags={"team": project.split("-")[0], "workload": "demo"},
                    pricing=pricing.get(backend.name) or default_pricing,
                    retry=retry,
                    clock=self.clock,
                )
        self.validator = self._validation_runner()
        self.fired: list[FiredAlert] = []
        self._open: dict[str, int] = {}
        self.jobs_submitted = 0
        self.jobs_failed = 0
        self.validation_runs = 0

    def _validation_runner(self) -> Any:
        from validators.drift import DivergenceConfig, DriftConfig
        from validators.runner import ValidationRunner

        v = self.config.file.validation
        return ValidationRunner(
            self.store,
            {
                "circuits": v.circuits,
                "shots": v.shots,
                "seed": v.seed,
                **({"layout": v.layout} if v.layout else {}),
            },
            clock=self.clock,
            drift_config=DriftConfig(**v.drift),
            divergence_config=DivergenceConfig(**v.divergence),
            proxy_factory=self._validation_proxy,
        )

    def _validation_proxy(self, backend: Any, tags: dict[str, Any]) -> ExecutionProxy:
        from validators.runner import VALIDATION_PROJECT

        return ExecutionProxy(
            backend,
            store=self.store,
            project=VALIDATION_PROJECT,
            tags=tags,
            pricing=self._pricing_of(backend.name),
            clock=self.clock,
        )

    # ------------------------------------------------------------ the week
    def _shots_multiplier(self, project: str, now: datetime) -> float:
        for f in self.world.faults:
            if (
                f.project == project
                and f.shots_multiplier
                and f.injected_at <= now < (f.ended_at or now)
            ):
                return f.shots_multiplier
        return 1.0

    def _workload_due(self, backend: str, minute: int, now: datetime) -> bool:
        """Every WORKLOAD_EVERY_MINUTES; more often on a backend while a fault with
        ``workload_every_minutes`` lasts there."""
        if minute % WORKLOAD_EVERY_MINUTES == 0:
            return True
        return any(
            f.workload_every_minutes
            and f.backend == backend
            and f.injected_at <= now < (f.ended_at or now)
            and minute % f.workload_every_minutes == 0
            for f in self.world.faults
        )

    def _workload(self, now: datetime, minute: int) -> None:
        for (backend, project), proxy in self.proxies.items():
            if not self._workload_due(backend, minute, now):
                continue
            circuit = self.rng.choice(self.circuits[backend])
            shots = int(self.rng.choice((500, 1000, 2000)) * self._shots_multiplier(project, now))
            self.jobs_submitted += 1
            try:
                proxy.run(circuit, shots=shots).result()
            except Exception:  # noqa: BLE001 - failures are the point; they are recorded
                self.jobs_failed += 1

    def _validate(self) -> None:
        for backend in self.world.backends:
            self.validator.run(backend)
            self.validation_runs += 1

    def _track_alerts(self, now: datetime, sent: list[Any]) -> None:
        """Alert episodes as a human saw them: opened by the first notification that
        carries the alert firing, closed by one carrying it resolved. An alert that
        fired and cleared before any receiver was told does not count as detection."""
        for note in sent:
            for a in note.firing:
                fp = a.fingerprint
                if fp in self._open:
                    continue
                episode = FiredAlert(
                    fingerprint=fp,
                    kind=a.labels.get("kind", ""),
                    severity=a.labels.get("severity", ""),
                    backend=a.labels.get("backend"),
                    labels=dict(a.labels),
                    runbook_url=a.annotations.get("runbook_url", ""),
                    started_at=now,
                )
                self._open[fp] = len(self.fired)
                self.fired.append(episode)
            for a in note.resolved:
                index = self._open.pop(a.fingerprint, None)
                if index is not None:
                    self.fired[index] = replace(self.fired[index], resolved_at=now)

    def run(self, progress: Progress | None = None) -> None:
        total_steps = int(self.days * 24 * 60 / STEP_MINUTES)
        task = progress.add_task("simulating", total=total_steps) if progress else None
        for step in range(total_steps):
            now = DEMO_START + timedelta(minutes=step * STEP_MINUTES)
            self.clock.set(now)
            minute = step * STEP_MINUTES
            if minute % VALIDATE_EVERY_MINUTES == 0 and self.config.file.validation.enabled:
                self._validate()
            self._workload(now, minute)
            self.recorder.flush()
            result = self.cycle.tick(now)
            self._track_alerts(now, result.flush.sent)
            if progress is not None and task is not None:
                progress.update(task, advance=1, description=f"simulating {now:%a %H:%M}")
        self.clock.set(DEMO_START + timedelta(minutes=total_steps * STEP_MINUTES))

    # ------------------------------------------------------------ results
    def scorecard(self) -> list[ScorecardRow]:
        rows = []
        alerts = sorted(self.fired, key=lambda a: a.started_at)
        end = self.clock.now()
        for fault in sorted(self.world.faults, key=_mode_order):
            if fault.injected_at >= end:
                continue
            match = _first_match(fault, alerts, end)
            rows.append(
                ScorecardRow(
                    failure_mode=failure_mode_id(fault.fault),
                    fault=fault.fault,
                    backend=fault.backend,
                    injected_at=fault.injected_at.isoformat(),
                    detected=match is not None,
                    detected_at=match.started_at.isoformat() if match else None,
                    alert=match.labels.get("alertname") if match else None,
                    severity=match.severity if match else None,
                    runbook=match.runbook_url if match else None,
                    delay_minutes=(match.started_at - fault.injected_at).total_seconds() / 60
                    if match
                    else None,
                )
            )
        return rows

    def unexpected_alerts(self) -> list[FiredAlert]:
        """Alerts on a backend that no injected fault explains (false alarms): a fault
        explains an alert of a kind in its EXPLAINED_KINDS, on its backend (or any, for
        an account-wide fault), starting while it lasts or within DETECTION_GRACE."""
        out = []
        for a in self.fired:
            if a.backend is None:
                continue
            explained = any(
                a.kind in EXPLAINED_KINDS.get(f.fault, frozenset({f.fault}))
                and (f.backend in (None, a.backend))
                and f.injected_at
                <= a.started_at
                <= (f.ended_at or self.clock.now()) + DETECTION_GRACE
                for f in self.world.faults
            )
            if not explained:
                out.append(a)
        return out

    def write_outputs(self) -> dict[str, str]:
        from dashboards import write_dashboards
        from slo.report import build_weekly_report
        from slo.rules import write_rules

        links = self.config.file.links
        dash_paths = write_dashboards(
            self.config.slos,
            self.out / "dashboards",
            **dashboard_options(self.config, self.store.url),  # SQLite: no SQL panels
        )
        rules_path = write_rules(
            self.config.slos,
            self.out / "rules",
            runbook_base_url=links.runbook_base_url,
            dashboard_base_url=links.dashboard_base_url,
        )
        report = build_weekly_report(
            self.store,
            self.config.slos,
            week=DEMO_START.strftime("%G-W%V"),
            clock=self.clock,
            out_dir=self.out / "report",
        )
        return {
            "dashboards": str(self.out / "dashboards"),
            "dashboard_files": ", ".join(p.name for p in dash_paths),
            "prometheus_rules": str(rules_path),
            "weekly_report_html": str(report.html),
            "weekly_report_markdown": str(report.markdown),
            "alert_log": str(self.alert_log_path),
            "store": self.store.url,
        }

    def finish(self) -> None:
        self.recorder.flush()
        self._alert_stream.flush()


def _first_match(
    fault: InjectedFault, alerts: list[FiredAlert], end: datetime
) -> FiredAlert | None:
    deadline = (fault.ended_at or end) + DETECTION_GRACE
    for a in alerts:
        if a.kind != fault.fault:
            continue
        if fault.backend is not None and a.backend != fault.backend:
            continue
        if fault.injected_at <= a.started_at <= deadline:
            return a
    return None


def demo_router(config: Config, store: Store, clock: VirtualClock, stream: Any) -> Router:
    """The config's routing (routes, grouping, inhibition, maintenance windows) with
    every receiver, fallback ones included, replaced by a console receiver of the same
    name writing to ``stream``: a demo shows who would be notified and notifies no one."""
    names = [r.name for r in config.file.alerting.receivers]
    names += [n for n in config.routing.fallback_receivers if n not in names]
    notifiers = [ConsoleNotifier(name, stream=stream) for name in names]
    return Router(config.routing, notifiers, state=AlertStateStore(store), clock=clock)


def _mode_order(fault: InjectedFault) -> tuple[int, datetime]:
    """F1..F8 first, in their order; other faults after them, by time."""
    rank = FAILURE_MODES.index(fault.fault) if fault.fault in FAILURE_MODES else len(FAILURE_MODES)
    return rank, fault.injected_at


SCORECARD_COLUMNS = (
    Column("F", 0),
    Column("fault", 1),
    Column("detected", 2),
    Column("backend", 3),
    Column("injected", 4),
    Column("after", 5, justify="right"),
    Column("severity", 6),
    Column("alert", 7),
)


def scorecard_table(rows: list[ScorecardRow], title: str, *, width: int, wide: bool) -> Table:
    """The scorecard as a table that fits ``width`` (lowest-priority columns hidden and
    named in the caption, never folded mid-word)."""
    cells = [
        [
            r.failure_mode or "-",
            r.fault,
            "yes" if r.detected else "NO",
            r.backend or "(all)",
            f"{datetime.fromisoformat(r.injected_at):%a %H:%M}",
            f"{r.delay_minutes:.0f} min" if r.delay_minutes is not None else "",
            r.severity or "",
            r.alert or "",
        ]
        for r in rows
    ]
    return fit_table(title, SCORECARD_COLUMNS, cells, width=width, wide=wide)


def run_demo(
    *,
    out: Path,
    days: float,
    as_json: bool,
    serve: bool,
    port: int,
    config_path: Path | None = None,
    wide: bool = False,
) -> int:
    """Run the demo and print its scorecard (JSON rows with ``as_json``); 0 when every
    injected fault was detected and nothing else alerted on a backend, else 1.

    ``config_path``: the user's qsre.yaml (see the module docstring for what of it is
    used); None runs the embedded default. ``wide`` shows every scorecard column
    whatever the terminal's width. Raises ConfigError for a bad config file.
    """
    config = load_config(config_path) if config_path is not None else None
    # Rich measures the terminal (COLUMNS, else the tty's size) and assumes 80 columns
    # when there is none (a pipe, CI): the scorecard is laid out to fit that width.
    console = Console(stderr=as_json)
    t0 = time.monotonic()
    demo = DemoRun(out, days, config=config)
    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as progress:
        demo.run(progress)
    demo.finish()
    paths = demo.write_outputs()
    card = demo.scorecard()
    unexpected = demo.unexpected_alerts()
    elapsed = time.monotonic() - t0
    (out / "scorecard.json").write_text(json.dumps([asdict(r) for r in card], indent=2))
    if as_json:
        sys.stdout.write(
            json.dumps(
                [{k: v for k, v in asdict(r).items() if k != "delay_minutes"} for r in card],
                indent=2,
            )
            + "\n"
        )
    else:
        title = f"qsre demo scorecard: {days:g} simulated days in {elapsed:.0f} s"
        if card:
            table = scorecard_table(card, title, width=console.width, wide=wide)
            print_table(console, table, wide=wide)
        else:
            first = min(f.injected_at for f in demo.world.faults)
            console.print(
                f"{title}: no fault is injected this early (the first starts "
                f"{first:%a %H:%M}, after {(first - DEMO_START).total_seconds() / 86400:.1f} "
                "simulated days)"
            )
        for r in card:
            if r.runbook:
                # soft_wrap: a link is never cut by an inserted line break.
                console.print(f"{r.failure_mode or r.fault} runbook: {r.runbook}", soft_wrap=True)
        console.print(
            f"{demo.jobs_submitted} workload jobs ({demo.jobs_failed} failed as injected), "
            f"{demo.validation_runs} validation suite runs, {len(demo.fired)} alerts fired, "
            f"{len(unexpected)} unexpected (false alarms)"
        )
        for a in unexpected:
            console.print(f"  [yellow]unexpected:[/] {a.labels} at {a.started_at.isoformat()}")
        names = [n.name for n in demo.router.notifiers.values()]
        receivers = ("receiver " if len(names) == 1 else "receivers ") + ", ".join(names)
        console.print(
            f"notifications for {receivers} went to the alert log only "
            "(a demo contacts no receiver)"
        )
        console.print(f"config: {demo.config.source}")
        for key, value in paths.items():
            console.print(f"{key}: {value}", soft_wrap=key != "dashboard_files")
    if serve:
        _serve(demo, port, console)
    return 0 if all(r.detected for r in card) and not unexpected else 1


def _serve(demo: DemoRun, port: int, console: Console) -> None:
    import threading

    from collector.exporter import serve_metrics
    from qsre.daemon import metrics_exporter

    exporter = metrics_exporter(demo.store, demo.clock, demo.cycle)
    _, _, bound = serve_metrics(exporter, "127.0.0.1", port)
    console.print(f"serving /metrics on http://127.0.0.1:{bound}/metrics (Ctrl-C to stop)")
    with contextlib.suppress(KeyboardInterrupt):
        threading.Event().wait()
