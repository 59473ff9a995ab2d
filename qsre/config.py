"""qsre.yaml: one file for backends, validation, SLOs, alerting, runbooks and reports.

The file is validated once, up front, into frozen values; downstream code never
re-reads YAML. Every error names the file, the field path and what was expected.
Secrets are never in the file: receivers and backends name environment variables.
"""

from __future__ import annotations

import dataclasses
import importlib
import re
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from collector.clock import Clock
from collector.cost import Pricing
from collector.quotas import Quotas
from qsre.errors import ConfigError
from runbooks.catalog import InvalidRunbook, runbook_base
from slo.alerts import InvalidAlert
from slo.errors import SLOError, SpecError
from slo.notify.pagerduty import events_base_url
from slo.notify.slack import api_base_url
from slo.openslo import import_openslo
from slo.routing import RoutingConfig
from slo.spec import SLO, parse_slos
from slo.windows import parse_duration_s

DEFAULT_CONFIG_NAME = "qsre.yaml"
EMBEDDED_DEFAULT = Path(__file__).with_name("default_config.yaml")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_RETENTION_EXPECTED = (
    "a duration like '400d' (a whole number then s, m, h, d or w), or null to keep forever"
)


class RetentionSection(_Model):
    """How long raw rows are kept (``store.retention``); null keeps them forever.

    The defaults keep every SLO window (rollups outlive raw rows anyway) and a year
    of weekly reports answerable from raw rows; counts (the largest rows) only as
    long as a monthly look back needs them.
    """

    enabled: bool = True
    jobs: str | None = "400d"
    job_results: str | None = "35d"
    validation_runs: str | None = "400d"
    notification_log: str | None = "90d"
    # The daemon's leased duty: how often it runs, and how long one run may delete.
    interval_s: float = Field(default=300.0, gt=0)
    max_run_s: float = Field(default=10.0, gt=0)
    batch_rows: int = Field(default=5000, ge=1)

    @field_validator("jobs", "job_results", "validation_runs", "notification_log")
    @classmethod
    def _duration(cls, v: str | None) -> str | None:
        if v is not None and parse_duration_s(v) is None:
            raise ValueError(f"not a duration; expected {_RETENTION_EXPECTED}")
        return v

    @model_validator(mode="after")
    def _counts_within_jobs(self) -> RetentionSection:
        jobs, counts = self.seconds("jobs"), self.seconds("job_results")
        if jobs is not None and (counts is None or counts > jobs):
            raise ValueError(
                f"job_results={self.job_results!r} outlives jobs={self.jobs!r} (counts go "
                "before their job); expected job_results no longer than jobs"
            )
        return self

    def seconds(self, table: str) -> int | None:
        """The retention of ``table`` in seconds (None: kept forever)."""
        value = getattr(self, table)
        return None if value is None else parse_duration_s(value)


class StoreSection(_Model):
    url: str = "sqlite:///qsre.db"
    spool_dir: str | None = None
    retention: RetentionSection = Field(default_factory=RetentionSection)


class ExporterSection(_Model):
    host: str = "127.0.0.1"
    port: int = Field(default=9464, ge=0, le=65535)


class ScheduleSection(_Model):
    interval_minutes: float | None = Field(default=60, gt=0)
    cron: str | None = None


class ValidationSection(_Model):
    enabled: bool = True
    circuits: list[Any] = Field(
        default_factory=lambda: [
            "bell",
            "ghz",
            "mirror",
            "readout_0",
            "readout_1",
            "bv",
            "idle",
            "qv",
        ]
    )
    layout: list[int] | None = None
    shots: int = Field(default=2000, gt=0)
    seed: int = 1234
    schedule: ScheduleSection = Field(default_factory=ScheduleSection)
    drift: dict[str, Any] = Field(default_factory=dict)
    divergence: dict[str, Any] = Field(default_factory=dict)
    # How the suite runs: backend.run through the proxy, or a SamplerV2 (primitive-only
    # hardware: IBM devices removed backend.run); auto asks the provider adapter.
    via: Literal["auto", "backend", "sampler"] = "auto"
    # One job per suite run (queue wait and per-task fees are paid once) or per circuit.
    jobs: Literal["per_suite", "per_circuit"] = "per_suite"

    def suite(self) -> dict[str, Any]:
        """The reference suite in ``validators.circuits.SuiteConfig`` form."""
        out: dict[str, Any] = {"circuits": self.circuits, "shots": self.shots, "seed": self.seed}
        if self.layout:
            out["layout"] = self.layout
        return out

    def detector_configs(self) -> tuple[Any, Any]:
        """(DriftConfig, DivergenceConfig) for the validators."""
        from validators.detector_config import DivergenceConfig, DriftConfig

        return DriftConfig(**self.drift), DivergenceConfig(**self.divergence)

    def schedule_spec(self) -> dict[str, Any]:
        if self.schedule.cron:
            return {"cron": self.schedule.cron}
        return {"interval_s": float(self.schedule.interval_minutes or 60) * 60}


class BackendSection(BaseModel):
    """A ``backends:`` entry. ``kind: sim`` entries carry the simulator's own keys
    (noise, drift, faults, ...), validated by ``qsre.sim``."""

    model_config = ConfigDict(extra="allow", frozen=True)

    name: str = Field(min_length=1)
    kind: Literal["sim", "aer", "factory"]
    factory: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    pricing: dict[str, Any] | None = None
    quotas: dict[str, Any] | None = None
    validation: ValidationSection | None = None
    projects: list[str] = Field(default_factory=list)


class ReceiverSection(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    type: Literal["slack", "pagerduty", "webhook", "alertmanager", "console"]
    channel: str | None = None
    token_env: str | None = None
    routing_key_env: str | None = None
    bearer_token_env: str | None = None
    api_url: str | None = None
    events_url: str | None = None
    url: str | None = None
    log_path: str | None = None
    resend_interval_s: float | None = None

    @field_validator("events_url")
    @classmethod
    def _events_base(cls, v: str | None) -> str | None:
        # PagerDuty documents the full endpoint; qsre appends /v2/enqueue itself.
        return events_base_url(v) if v else v

    @field_validator("api_url")
    @classmethod
    def _api_base(cls, v: str | None, info: Any) -> str | None:
        # Slack's base needs its /api/ (Alertmanager's api_url shares the field).
        if v and info.data.get("type") == "slack":
            return api_base_url(v)
        return v


class WatchdogSection(_Model):
    """Dead man's switch: proof, sent from outside-facing channels every evaluation
    cycle by the replica that routes alerts, that qsre is alive and routing.

    ``alertmanager``: an always-firing ``QsreWatchdog`` alert to every Alertmanager
    receiver (pair it with a receiver that pages when it stops arriving).
    ``heartbeat_url`` / ``heartbeat_env`` (the name of an environment variable holding
    the URL, for ping URLs that embed a secret check id): an HTTP request each cycle.
    """

    alertmanager: bool = False
    heartbeat_url: str | None = None
    heartbeat_env: str | None = None
    heartbeat_method: Literal["GET", "POST"] = "GET"
    timeout_s: float = Field(default=5, gt=0)


class AlertingSection(_Model):
    evaluation_interval_s: float = Field(default=60, gt=0)
    # The alert router runs on one replica at a time, under this lease (collector.lease);
    # a dead or paused holder is replaced within 2 x lease_ttl_s.
    lease_ttl_s: float = Field(default=30, gt=0)
    watchdog: WatchdogSection = Field(default_factory=WatchdogSection)
    routing: dict[str, Any] = Field(default_factory=dict)
    receivers: list[ReceiverSection] = Field(
        default_factory=lambda: [ReceiverSection(name="console", type="console")]
    )
    signals: dict[str, Any] = Field(default_factory=dict)
    # Where QsreNotificationsFailing goes; "console" (stdout + the alert log) exists
    # even when no receiver of that name is configured.
    fallback_receivers: list[str] = Field(default_factory=lambda: ["console"])


class SlackPost(_Model):
    channel: str
    token_env: str
    api_url: str | None = None


class WeeklyReportSection(_Model):
    enabled: bool = True
    cron: str = "0 8 * * MON"
    out_dir: str = "reports"
    timezone: str = "UTC"
    slack: SlackPost | None = None


class ReportsSection(_Model):
    weekly: WeeklyReportSection = Field(default_factory=WeeklyReportSection)


class LinksSection(_Model):
    # Empty (or null): alerts link the runbook files installed with qsre (file://
    # URIs), which work offline; set it to where the team publishes its runbooks.
    runbook_base_url: str = ""
    dashboard_base_url: str = ""
    # Where a job's trace opens, with {trace_id} (32 hex digits), e.g.
    # https://jaeger.example/trace/{trace_id}; empty: dashboards show no trace links.
    trace_url_template: str = ""

    @field_validator("trace_url_template", mode="before")
    @classmethod
    def _trace_template(cls, v: Any) -> Any:
        if v is None:
            return ""
        if isinstance(v, str) and v and "{trace_id}" not in v:
            raise ValueError("a URL containing {trace_id}, or empty for no trace links")
        return v

    @field_validator("runbook_base_url", mode="before")
    @classmethod
    def _runbook_base(cls, v: Any) -> Any:
        if v is None:
            return ""
        if isinstance(v, str) and v:
            try:
                runbook_base(v)
            except InvalidRunbook:
                raise ValueError(
                    "an http(s) or file URL without query or fragment, or empty for the "
                    "installed runbook files"
                ) from None
        return v


class DashboardsSection(_Model):
    datasource_uid: str = "prometheus"
    # Grafana PostgreSQL datasource on the store (docs/grafana-postgres.md); used only
    # when store.url is PostgreSQL, for the per-job table panels.
    postgres_datasource_uid: str = "postgres"
    grafana_url: str | None = None
    token_env: str | None = None
    folder_uid: str | None = None


class TracingSection(_Model):
    otlp_endpoint: str | None = None
    console: bool = False


class ConfigFile(_Model):
    store: StoreSection = Field(default_factory=StoreSection)
    exporter: ExporterSection = Field(default_factory=ExporterSection)
    links: LinksSection = Field(default_factory=LinksSection)
    dashboards: DashboardsSection = Field(default_factory=DashboardsSection)
    tracing: TracingSection = Field(default_factory=TracingSection)
    backends: list[BackendSection] = Field(default_factory=list)
    validation: ValidationSection = Field(default_factory=ValidationSection)
    slos: list[Any] = Field(default_factory=list)
    openslo: list[str] = Field(default_factory=list)
    alerting: AlertingSection = Field(default_factory=AlertingSection)
    reports: ReportsSection = Field(default_factory=ReportsSection)


@dataclass(frozen=True)
class BackendSpec:
    """A configured backend, validated; ``build()`` constructs it."""

    name: str
    kind: str
    section: BackendSection
    pricing: Pricing | None
    quotas: Quotas | None
    validation: ValidationSection
    source: str

    def build(self, clock: Clock, start: datetime | None = None) -> Any:
        return build_backend(self, clock, start)


@dataclass(frozen=True)
class Config:
    """The whole validated configuration."""

    source: str
    file: ConfigFile
    backends: tuple[BackendSpec, ...]
    slos: tuple[SLO, ...]
    routing: RoutingConfig
    raw: dict[str, Any] = field(repr=False, default_factory=dict)

    @property
    def store_url(self) -> str:
        return self.file.store.url

    def backend(self, name: str) -> BackendSpec:
        for b in self.backends:
            if b.name == name:
                return b
        raise ConfigError(
            self.source,
            "backends",
            f"a backend named one of {[b.name for b in self.backends]}",
            name,
        )


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


# pydantic's message openings, and what they become after "expected".
_PYDANTIC_OPENINGS = (
    ("Input should be ", ""),
    ("String should have ", "a string with "),
    ("List should have ", "a list with "),
    ("Dictionary should have ", "a mapping with "),
    ("Value error, ", ""),
    ("Assertion failed, ", ""),
)


def _model_at(root: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model under ``root`` that holds the last key of ``loc`` (to list its keys)."""
    model = root
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        info = model.model_fields.get(str(part))
        if info is None:
            return None
        inner = _model_in(info.annotation)
        if inner is None:
            return None
        model = inner
    return model


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _expected_from_pydantic(err: Mapping[str, Any], root: type[BaseModel] | None) -> str:
    """pydantic's error, said the way every other qsre config error is said."""
    kind = err.get("type", "")
    loc = tuple(err.get("loc", ()))
    if kind == "extra_forbidden":
        model = _model_at(root, loc) if root is not None else None
        if model is not None:
            return f"one of the known keys {sorted(model.model_fields)} (not {loc[-1]!r})"
        return f"a known key (not {loc[-1]!r})"
    if kind == "missing":
        return "a value (this key is required)"
    msg = str(err.get("msg", ""))
    for opening, replacement in _PYDANTIC_OPENINGS:
        if msg.startswith(opening):
            msg = replacement + msg.removeprefix(opening)
            break
    # Our own validators say "<what is wrong>; expected <x>": keep the expectation
    # (the value itself is printed as "got").
    _, sep, expectation = msg.partition("; expected ")
    if sep:
        return expectation
    return msg[:1].lower() + msg[1:]


def _from_validation_error(
    source: str, exc: ValidationError, prefix: str = "", root: type[BaseModel] | None = None
) -> ConfigError:
    err = exc.errors()[0]
    path = _loc(tuple(err["loc"]))
    if prefix:
        path = f"{prefix}.{path}" if path != "(top level)" else prefix
    got = err.get("input")
    if err.get("type") == "missing":
        got = None  # pydantic's "input" is the enclosing mapping, not a value
    return ConfigError(source, path, _expected_from_pydantic(err, root), got)


# "<where>.<key>=<value>: expected <what>" or "<where>: <what>" (collector.cost's errors,
# which repeat the config path qsre already names).
_COST_ERROR = re.compile(
    r"^(?P<field>[^=:\s]+)(?:=(?P<got>.*?))?: (?:expected )?(?P<what>.*)$", re.S
)


class _Raw(str):
    """A value already in its printed form (kept as is in ``got``)."""

    def __repr__(self) -> str:
        return str(self)


def _from_cost_error(source: str, where: str, exc: ValueError) -> ConfigError:
    m = _COST_ERROR.match(str(exc))
    if m is None or not m["field"].startswith(where):
        return ConfigError(source, where, str(exc))
    got = _Raw(m["got"]) if m["got"] is not None else None
    what = m["what"]
    if what.startswith("missing; "):
        what = "a value: " + what.removeprefix("missing; ")
    return ConfigError(source, m["field"], what, got)


def _resolve_paths(file: ConfigFile, base_dir: Path) -> ConfigFile:
    """Relative paths of the file (store, spool, outputs) made relative to its folder,
    so that the same file means the same store whatever the working directory."""

    def under(path: str | None) -> str | None:
        if not path or Path(path).expanduser().is_absolute():
            return path
        return str((base_dir / path).resolve())

    store = file.store.model_copy(
        update={
            "url": _sqlite_under(file.store.url, base_dir),
            "spool_dir": under(file.store.spool_dir),
        }
    )
    weekly = file.reports.weekly.model_copy(update={"out_dir": under(file.reports.weekly.out_dir)})
    receivers = [
        r.model_copy(update={"log_path": under(r.log_path)}) for r in file.alerting.receivers
    ]
    return file.model_copy(
        update={
            "store": store,
            "reports": file.reports.model_copy(update={"weekly": weekly}),
            "alerting": file.alerting.model_copy(update={"receivers": receivers}),
        }
    )


def _sqlite_under(url: str, base_dir: Path) -> str:
    """``sqlite:///qsre.db`` -> ``sqlite:////<folder of the file>/qsre.db``; other URLs,
    absolute and in-memory SQLite as they are."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        return url  # reported by the store, with its own message
    db = parsed.database
    if (
        parsed.get_backend_name() != "sqlite"
        or not db
        or db == ":memory:"
        or db.startswith("file:")
        or Path(db).expanduser().is_absolute()
    ):
        return url
    return parsed.set(database=str((base_dir / db).resolve())).render_as_string(hide_password=False)


def parse_config(data: Any, source: str, *, base_dir: Path | None = None) -> Config:
    """Validate a parsed YAML document into a ``Config`` (raises ``ConfigError``)."""
    if data is None or data == {}:
        # An empty file is a mistake (wrong file, truncated write), not "no backends".
        raise ConfigError(
            source,
            "(top level)",
            f"sections such as {sorted(ConfigFile.model_fields)}",
            _Raw("an empty file"),
        )
    if not isinstance(data, Mapping):
        raise ConfigError(source, "(top level)", "a mapping of sections", type(data).__name__)
    try:
        file = ConfigFile.model_validate(dict(data))
    except ValidationError as exc:
        raise _from_validation_error(source, exc, root=ConfigFile) from None
    if base_dir is not None:
        file = _resolve_paths(file, base_dir)
    _validate_suite(file.validation, source, "validation")
    names = [b.name for b in file.backends]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(source, "backends", "unique backend names", dupes)
    backends = []
    for i, b in enumerate(file.backends):
        where = f"backends[{i}]"
        if b.kind == "factory" and not b.factory:
            raise ConfigError(source, f"{where}.factory", "'module:callable' for kind factory")
        if b.kind == "sim":
            _validate_sim(b, source, where)
        try:
            pricing = Pricing.from_config(b.pricing, f"{where}.pricing") if b.pricing else None
        except ValueError as exc:
            raise _from_cost_error(source, f"{where}.pricing", exc) from None
        try:
            quotas = Quotas(**b.quotas) if b.quotas else None
        except (TypeError, ValueError) as exc:
            raise ConfigError(
                source,
                f"{where}.quotas",
                "max_shots_per_job, project_daily_spend_usd, backend_budget_usd, backend_budget_period",
                b.quotas,
            ) from exc
        if b.validation is not None:
            _validate_suite(b.validation, source, f"{where}.validation")
        backends.append(
            BackendSpec(
                name=b.name,
                kind=b.kind,
                section=b,
                pricing=pricing,
                quotas=quotas,
                validation=_backend_validation(file.validation, b.validation),
                source=source,
            )
        )
    _validate_detectors(file.validation, source, "validation")
    for i, spec in enumerate(backends):
        if spec.section.validation is not None:
            _validate_detectors(spec.validation, source, f"backends[{i}].validation")
    try:
        slos = parse_slos(file.slos, source) if file.slos else ()
        base_dir = base_dir or Path(".")
        for path in file.openslo:
            p = (base_dir / path) if not Path(path).is_absolute() else Path(path)
            try:
                docs = list(yaml.safe_load_all(p.read_text()))
            except OSError as exc:
                raise ConfigError(
                    source, "openslo", "a readable OpenSLO YAML file", str(p)
                ) from exc
            slos = (*slos, *import_openslo(docs, str(p)))
    except SLOError as exc:
        raise _from_slo_error(source, "slos", exc) from None
    slo_names = [s.name for s in slos]
    if len(set(slo_names)) != len(slo_names):
        raise ConfigError(source, "slos", "unique SLO names", slo_names)
    try:
        routing = RoutingConfig.from_mapping(file.alerting.routing, where="alerting.routing")
    except InvalidAlert as exc:
        raise ConfigError(source, exc.field, exc.expected, exc.value) from None
    except ValueError as exc:
        raise ConfigError(source, "alerting.routing", str(exc)) from None
    receivers = {r.name for r in file.alerting.receivers}
    missing = routing.receiver_names() - receivers
    if missing:
        raise ConfigError(
            source, "alerting.receivers", f"receivers named {sorted(missing)} (used by routes)"
        )
    fallback = tuple(file.alerting.fallback_receivers)
    unknown = set(fallback) - receivers - {"console"}
    if not fallback or unknown:
        raise ConfigError(
            source,
            "alerting.fallback_receivers",
            "one or more receiver names defined in alerting.receivers (or console)",
            sorted(unknown) or list(fallback),
        )
    routing = replace(
        routing, fallback_receivers=fallback, runbook_base_url=file.links.runbook_base_url
    )
    for i, r in enumerate(file.alerting.receivers):
        _validate_receiver(r, source, f"alerting.receivers[{i}]")
    _validate_watchdog(file.alerting, source)
    _validate_signals(file.alerting, source)
    return Config(source, file, tuple(backends), tuple(slos), routing, dict(data))


_QSRE_BACKEND_KEYS = {"kind", "factory", "options", "pricing", "quotas", "validation", "projects"}


def sim_section(b: BackendSection) -> dict[str, Any]:
    data = b.model_dump(exclude_none=True)
    return {k: v for k, v in data.items() if k not in _QSRE_BACKEND_KEYS or k == "kind"}


def _backend_validation(
    default: ValidationSection, own: ValidationSection | None
) -> ValidationSection:
    """A backend's ``validation:`` overrides the keys it sets; the rest come from the
    top-level section (a backend that only sets ``via`` keeps the file's thresholds)."""
    if own is None:
        return default
    return default.model_copy(update={k: getattr(own, k) for k in own.model_fields_set})


def _validate_sim(b: BackendSection, source: str, where: str) -> None:
    from qsre.sim.config import SimBackendConfig

    try:
        SimBackendConfig.model_validate(sim_section(b))
    except ValidationError as exc:
        raise _from_validation_error(source, exc, where, root=SimBackendConfig) from None


def _validate_suite(v: ValidationSection, source: str, where: str) -> None:
    """Circuit names and suite keys, checked when the file is read: a typo such as
    ``bel`` fails here, not at the first validation run hours later. Layouts are
    checked per backend (they depend on its qubit count) by ``qsre doctor``."""
    from validators.suite_config import SuiteConfig

    try:
        SuiteConfig.model_validate(v.suite())
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        # A circuit given by name ("bell") is validated as {kind: bell}: report the name.
        if (
            len(loc) == 3
            and loc[0] == "circuits"
            and loc[2] == "kind"
            and isinstance(v.circuits[loc[1]], str)
        ):
            loc = loc[:2]
        raise ConfigError(
            source, f"{where}.{_loc(loc)}", _expected_from_pydantic(err, None), err.get("input")
        ) from None


def _from_slo_error(source: str, field: str, exc: SLOError) -> ConfigError:
    """The slo package's errors already name file and field: keep them, once."""
    if isinstance(exc, SpecError):
        return ConfigError(exc.file, exc.field_path, exc.expected, exc.got)
    return ConfigError(source, field, str(exc))


def _validate_signals(alerting: AlertingSection, source: str) -> None:
    """What the evaluation cycle of ``qsre run`` parses first, checked when the file is read."""
    from slo.signals import SignalConfig

    try:
        SignalConfig.from_mapping(alerting.signals, where=f"{source}: alerting.signals")
    except SLOError as exc:
        raise _from_slo_error(source, "alerting.signals", exc) from None


def _validate_detectors(v: ValidationSection, source: str, where: str) -> None:
    """``drift:`` and ``divergence:`` as ``qsre validate`` and the schedules build them."""
    from validators.detector_config import DivergenceConfig, DriftConfig

    for key, cls, values in (
        ("drift", DriftConfig, v.drift),
        ("divergence", DivergenceConfig, v.divergence),
    ):
        known = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ConfigError(
                source, f"{where}.{key}", f"keys among {known}", _Raw(", ".join(unknown))
            )
        try:
            cls(**values)
        except (TypeError, ValueError) as exc:
            raise _from_detector_error(source, f"{where}.{key}", exc, values) from None


# validators' range errors: "DriftConfig.arl0_runs = -1 is out of range",
# "DivergenceConfig.alpha must be in (0, 1), got 2".
_DETECTOR_ERROR = re.compile(r"^\w+Config\.(?P<field>\w+)\s*(?P<rest>.*)$", re.S)


def _from_detector_error(
    source: str, where: str, exc: Exception, values: Mapping[str, Any]
) -> ConfigError:
    m = _DETECTOR_ERROR.match(str(exc))
    if m is None:
        return ConfigError(source, where, str(exc), dict(values))
    field, rest = m["field"], m["rest"]
    expected, _, _ = rest.removeprefix("must be ").partition(", got ")
    if rest.startswith("must be ") and not expected.startswith("one of "):
        expected = f"a value {expected}"
    elif "out of range" in rest:
        expected = "a value in its allowed range"
    return ConfigError(source, f"{where}.{field}", expected, values.get(field))


def _validate_receiver(r: ReceiverSection, source: str, where: str) -> None:
    need = {
        "slack": ("channel", "token_env"),
        "pagerduty": ("routing_key_env",),
        "webhook": ("url",),
        "alertmanager": ("api_url",),
        "console": (),
    }[r.type]
    for key in need:
        if not getattr(r, key):
            raise ConfigError(source, f"{where}.{key}", f"a value for a {r.type} receiver")


def _validate_watchdog(alerting: AlertingSection, source: str) -> None:
    wd = alerting.watchdog
    if wd.heartbeat_url and wd.heartbeat_env:
        raise ConfigError(
            source, "alerting.watchdog", "one of heartbeat_url or heartbeat_env, not both"
        )
    if wd.heartbeat_url and not wd.heartbeat_url.startswith(("http://", "https://")):
        raise ConfigError(
            source, "alerting.watchdog.heartbeat_url", "an http(s) URL", wd.heartbeat_url
        )
    if wd.alertmanager and not any(r.type == "alertmanager" for r in alerting.receivers):
        raise ConfigError(
            source,
            "alerting.watchdog.alertmanager",
            "an alertmanager receiver in alerting.receivers to send QsreWatchdog to",
            True,
        )


def load_config(path: str | Path | None = None) -> Config:
    """Load ``path``; with no path, ``./qsre.yaml`` if present, else the embedded default.

    Relative paths in a file (store URL, spool dir, report and alert-log outputs,
    OpenSLO files) are relative to the file's folder. The embedded default has no
    folder of the user's: its paths stay relative to the working directory, so that
    ``qsre jobs`` with no file sees the ``./qsre.db`` that ``qsre.yaml``-less code wrote.
    """
    if path is None:
        local = Path(DEFAULT_CONFIG_NAME)
        path = local if local.exists() else EMBEDDED_DEFAULT
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(str(path), "(file)", "a readable YAML file", str(exc)) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(file)"
        raise ConfigError(
            str(path), where, "valid YAML", getattr(exc, "problem", str(exc))
        ) from None
    base_dir = None if path.resolve() == EMBEDDED_DEFAULT.resolve() else path.parent
    return parse_config(data, str(path), base_dir=base_dir)


def load_factory(spec: str) -> Any:
    """Import ``module:callable`` (for ``--backend-factory`` and ``kind: factory``)."""
    module, _, attr = spec.partition(":")
    if not module or not attr:
        raise ConfigError("--backend-factory", "factory", "'module:callable'", spec)
    try:
        obj = importlib.import_module(module)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(
            "--backend-factory", "factory", f"an importable {spec}", str(exc)
        ) from None
    if not callable(obj):
        raise ConfigError("--backend-factory", "factory", "a callable", spec)
    return obj


def build_backend(spec: BackendSpec, clock: Clock, start: datetime | None = None) -> Any:
    section = spec.section
    if spec.kind == "sim":
        from qsre.sim.config import SimBackendConfig, build_sim_backend

        return build_sim_backend(
            SimBackendConfig.model_validate(sim_section(section)), clock, start
        )
    if spec.kind == "aer":
        from qiskit_aer import AerSimulator

        options = dict(section.options)
        generic = options.pop("generic_noise_qubits", None)
        if generic:
            from qiskit.providers.fake_provider import GenericBackendV2

            aer = AerSimulator.from_backend(
                GenericBackendV2(num_qubits=int(generic), seed=options.pop("seed", 7))
            )
        else:
            aer = AerSimulator(**options)
        # The config name is the backend's name everywhere (jobs, validation results,
        # sampler records). Aer's own name is only a label (nothing is addressed by it),
        # so it is safe to replace; a factory backend's name may address a device.
        aer.name = spec.name
        return aer
    return load_factory(section.factory or "")(**section.options)
