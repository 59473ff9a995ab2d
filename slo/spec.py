"""SLO specifications: the ``slos:`` list of qsre.yaml parsed once into frozen models.

Everything downstream (burn evaluation, Prometheus rules, dashboards, reports)
consumes these models and never re-reads YAML. Native format, one list item::

    - name: ibm-job-success            # slug, unique
      description: Jobs on IBM hardware finish
      objective: 0.99                  # strictly between 0 and 1
      sli:
        kind: job_success              # see SLI_KINDS
        backend: ibm_brisbane          # optional filters: a string or a list
        project: [chem, finance]
        tags: {team: quantum}          # store-only: no Prometheus equivalent
        threshold_seconds: 300         # queue_latency / e2e_latency only
        budget_usd: 1000               # cost_budget only
        margin: 0.01                   # mitigation_gain only
      window: 30d                      # rolling, or {calendar: month, time_zone: Europe/Berlin}
      policy: sre-workbook             # default
      min_events: 10                   # low-traffic guard per long window
      labels: {team: quantum}
      runbook_url: https://...         # optional override

SLI kinds (good / total events, counted from the store by the rollups):

- ``job_success``: good = status done; total = terminal jobs except ``cancelled``
  (a cancellation is the user's decision, not a service failure) and client-side
  rejections (error_class ``quota`` / ``invalid_input``: refused before submission);
  ``error`` and ``unknown`` (outcome lost) are bad.
- ``queue_latency``: good = queue_seconds <= threshold_seconds; total = jobs with a
  measured queue time.
- ``e2e_latency``: good = e2e_seconds <= threshold_seconds.
- ``fidelity``: validation runs; good = verdict ok or warn; total = evaluated runs
  (``not_evaluated`` excluded).
- ``auth_errors``: good = terminal jobs not failing with error_class auth; total =
  all terminal jobs.
- ``divergence``: validation runs; good = not diverged; total = evaluated runs.
- ``mitigation_gain``: validation runs (one per reference circuit and suite run);
  good = readout-mitigated fidelity >= raw fidelity + ``margin``; total = runs with
  both fidelities (backends reporting no readout calibration have none). ``margin``
  (required, 0 <= margin < 1) is in fidelity units.
- ``cost_budget``: spend against ``budget_usd`` over the (nominal) period. Per
  minute, total = budget rate / (1 − objective) and bad = spend, so the error ratio
  divided by the error budget (the burn rate) is exactly spend rate / budgeted rate;
  see ``slo.burn.cost_budget_buckets``. ``min_events`` does not apply.

Latency thresholds must be one of the collector's histogram bucket bounds
(``LATENCY_BUCKETS_SECONDS``) so the Prometheus rules compute the same SLI as
the engine; other values are rejected here, at parse time, not later.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from collector.metrics import LATENCY_BUCKETS_SECONDS
from slo.errors import SpecError
from slo.policy import DEFAULT_POLICY, builtin_policies
from slo.windows import CalendarWindow, RollingWindow, Window, parse_duration_s

SLI_KINDS = (
    "job_success",
    "queue_latency",
    "e2e_latency",
    "fidelity",
    "auth_errors",
    "divergence",
    "cost_budget",
    "mitigation_gain",
)
LATENCY_KINDS = ("queue_latency", "e2e_latency")
VALIDATION_KINDS = ("fidelity", "divergence", "mitigation_gain")
DEFAULT_MIN_EVENTS = 10
_SLUG_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_LABEL_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_RESERVED_LABELS = ("slo", "sli_kind", "severity", "kind", "alertname", "window")
_MAX_WINDOW_S = 400 * 86400


@dataclass(frozen=True)
class SLISpec:
    """What to count: the kind, its filters (empty = all) and kind parameters."""

    kind: str
    backends: tuple[str, ...] = ()
    projects: tuple[str, ...] = ()
    tags: tuple[tuple[str, str], ...] = ()
    threshold_seconds: float | None = None
    budget_usd: float | None = None
    margin: float | None = None  # mitigation_gain only


@dataclass(frozen=True)
class Budgeting:
    """Occurrences (count events) or Timeslices (count good minutes/slices)."""

    method: Literal["occurrences", "timeslices"] = "occurrences"
    timeslice_target: float | None = None
    timeslice_window_s: int | None = None


@dataclass(frozen=True)
class SLO:
    name: str
    objective: float
    sli: SLISpec
    window: Window
    description: str = ""
    policy: str = DEFAULT_POLICY
    min_events: int = DEFAULT_MIN_EVENTS
    labels: tuple[tuple[str, str], ...] = ()
    runbook_url: str | None = None
    budgeting: Budgeting = field(default_factory=Budgeting)
    source: str = ""  # "qsre.yaml: slos[2]" — where it was defined, for later errors

    @property
    def error_budget(self) -> float:
        """Allowed error ratio: 1 − objective."""
        return 1.0 - self.objective


class Fields:
    """Reads one mapping and raises SpecError with the full field path."""

    def __init__(self, data: Any, file: str, path: str, what: str) -> None:
        if not isinstance(data, dict):
            raise SpecError(file, path, what, data)
        self.data, self.file, self.path = data, file, path

    def at(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def fail(self, key: str, expected: str, got: Any) -> SpecError:
        return SpecError(self.file, self.at(key), expected, got)

    def unknown(self, allowed: tuple[str, ...]) -> None:
        for key in self.data:
            if key not in allowed:
                raise self.fail(str(key), f"no such field (allowed: {', '.join(allowed)})", key)

    def string(self, key: str, *, required: bool = False, default: str = "") -> str:
        value = self.data.get(key)
        if value is None:
            if required:
                raise self.fail(key, "a non-empty string (required)", value)
            return default
        if not isinstance(value, str) or (required and not value.strip()):
            raise self.fail(key, "a non-empty string" if required else "a string", value)
        return value

    def number(self, key: str, expected: str, ok: Any, *, required: bool = True) -> float | None:
        value = self.data.get(key)
        if value is None and not required:
            return None
        if not is_number(value) or not ok(value):
            raise self.fail(key, expected, value)
        return float(value)

    def strings(self, key: str) -> tuple[str, ...]:
        value = self.data.get(key)
        if value is None:
            return ()
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(v, str) and v for v in items):
            raise self.fail(key, "a non-empty string or a list of them", value)
        return tuple(items)

    def str_map(self, key: str, *, label_keys: bool) -> tuple[tuple[str, str], ...]:
        value = self.data.get(key)
        if value is None:
            return ()
        if not isinstance(value, dict):
            raise self.fail(key, "a mapping of strings to strings", value)
        out = []
        for k, v in value.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise self.fail(f"{key}.{k}", "a string key with a string value", v)
            if label_keys and (not _LABEL_RE.match(k) or k in _RESERVED_LABELS):
                raise self.fail(
                    f"{key}.{k}",
                    f"a Prometheus label name [a-zA-Z_][a-zA-Z0-9_]* other than "
                    f"{', '.join(_RESERVED_LABELS)}",
                    k,
                )
            out.append((k, v))
        return tuple(sorted(out))


def is_number(value: Any) -> bool:
    """A real, finite int/float (bools and NaN are not numbers here)."""
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and value == value
        and value not in (float("inf"), float("-inf"))
    )


def parse_slos(items: Any, file: str, path: str = "slos") -> tuple[SLO, ...]:
    """Validate the ``slos:`` list of a config file into frozen SLO models.

    Raises SpecError naming ``file``, the field path (``slos[2].objective``) and
    what was expected. Names must be unique.
    """
    if items is None:
        return ()
    if not isinstance(items, list):
        raise SpecError(file, path, "a list of SLO definitions", items)
    slos = [parse_slo(item, file, f"{path}[{i}]") for i, item in enumerate(items)]
    check_unique(slos, file, path)
    return tuple(slos)


def check_unique(slos: list[SLO], file: str, path: str) -> None:
    seen: set[str] = set()
    for i, slo in enumerate(slos):
        if slo.name in seen:
            raise SpecError(file, f"{path}[{i}].name", "a name not used by another SLO", slo.name)
        seen.add(slo.name)


def parse_slo(item: Any, file: str, path: str) -> SLO:
    """Validate one native SLO mapping."""
    f = Fields(item, file, path, "a mapping describing one SLO")
    f.unknown(
        (
            "name",
            "description",
            "objective",
            "sli",
            "window",
            "policy",
            "min_events",
            "labels",
            "runbook_url",
        )
    )
    name = parse_name(f.data.get("name"), file, f.at("name"))
    objective = parse_objective(f.data.get("objective"), file, f.at("objective"))
    sli = parse_sli(f.data.get("sli"), file, f.at("sli"))
    window = parse_window(f.data.get("window"), file, f.at("window"))
    policy = parse_policy_name(f.data.get("policy"), file, f.at("policy"))
    min_events = f.data.get("min_events", DEFAULT_MIN_EVENTS)
    if not isinstance(min_events, int) or isinstance(min_events, bool) or min_events < 0:
        raise f.fail("min_events", "a whole number >= 0", min_events)
    runbook = f.data.get("runbook_url")
    if runbook is not None and (not isinstance(runbook, str) or not runbook.strip()):
        raise f.fail("runbook_url", "a URL string", runbook)
    return SLO(
        name=name,
        objective=objective,
        sli=sli,
        window=window,
        description=f.string("description"),
        policy=policy,
        min_events=min_events,
        labels=f.str_map("labels", label_keys=True),
        runbook_url=runbook,
        source=f"{file}: {path}",
    )


def parse_name(value: Any, file: str, path: str) -> str:
    if not isinstance(value, str) or not _SLUG_RE.match(value):
        raise SpecError(
            file, path, "a slug: lowercase letters, digits and '-', 1-63 chars (required)", value
        )
    return value


def parse_objective(value: Any, file: str, path: str) -> float:
    if not is_number(value) or not 0 < value < 1:
        raise SpecError(file, path, "a number strictly between 0 and 1", value)
    return float(value)


def parse_policy_name(value: Any, file: str, path: str) -> str:
    if value is None:
        return DEFAULT_POLICY
    known = builtin_policies()
    if not isinstance(value, str) or value not in known:
        raise SpecError(file, path, f"a policy name, one of {', '.join(sorted(known))}", value)
    return value


def parse_sli(value: Any, file: str, path: str) -> SLISpec:
    f = Fields(value, file, path, "a mapping with kind and optional filters")
    f.unknown(("kind", "backend", "project", "tags", "threshold_seconds", "budget_usd", "margin"))
    return build_sli(f)


def build_sli(f: Fields) -> SLISpec:
    """The SLISpec from a mapping holding ``kind`` and filters (shared with OpenSLO)."""
    kind = f.data.get("kind")
    if kind not in SLI_KINDS:
        raise f.fail("kind", f"one of {', '.join(SLI_KINDS)}", kind)
    threshold = budget = None
    if kind in LATENCY_KINDS:
        allowed = ", ".join(f"{b:g}" for b in LATENCY_BUCKETS_SECONDS)
        threshold = f.number(
            "threshold_seconds",
            f"one of the latency histogram bucket bounds in seconds ({allowed})",
            lambda v: float(v) in LATENCY_BUCKETS_SECONDS,
        )
    elif "threshold_seconds" in f.data:
        raise f.fail("threshold_seconds", f"absent for kind {kind} (latency kinds only)", "set")
    if kind == "cost_budget":
        budget = f.number("budget_usd", "a positive number of USD", lambda v: v > 0)
    elif "budget_usd" in f.data:
        raise f.fail("budget_usd", f"absent for kind {kind} (cost_budget only)", "set")
    margin = None
    if kind == "mitigation_gain":
        margin = f.number(
            "margin",
            "a fidelity gain 0 <= margin < 1 (required for mitigation_gain)",
            lambda v: 0 <= v < 1,
        )
    elif "margin" in f.data:
        raise f.fail("margin", f"absent for kind {kind} (mitigation_gain only)", "set")
    return SLISpec(
        kind=kind,
        backends=f.strings("backend"),
        projects=f.strings("project"),
        tags=f.str_map("tags", label_keys=False),
        threshold_seconds=threshold,
        budget_usd=budget,
        margin=margin,
    )


def parse_window(value: Any, file: str, path: str) -> Window:
    """``30d`` / ``{rolling: 30d}`` or ``{calendar: month|week, time_zone: <IANA>}``."""
    if isinstance(value, str):
        return rolling(value, file, path)
    f = Fields(value, file, path, "a duration like 30d or {calendar: month, time_zone: UTC}")
    if "rolling" in f.data:
        f.unknown(("rolling",))
        return rolling(f.data["rolling"], file, f.at("rolling"))
    f.unknown(("calendar", "time_zone"))
    unit = f.data.get("calendar")
    if unit not in ("month", "week"):
        raise f.fail("calendar", "month or week", unit)
    zone = f.string("time_zone", default="UTC")
    check_zone(zone, file, f.at("time_zone"))
    return CalendarWindow(unit=unit, time_zone=zone)


def rolling(value: Any, file: str, path: str) -> RollingWindow:
    seconds = parse_duration_s(value)
    if seconds is None or seconds < 3600 or seconds % 60 or seconds > _MAX_WINDOW_S:
        raise SpecError(
            file,
            path,
            "a rolling duration like 7d, 28d, 30d or 4w (1h to 400d, whole minutes)",
            value,
        )
    return RollingWindow(duration_s=seconds)


def check_zone(zone: str, file: str, path: str) -> None:
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise SpecError(file, path, "an IANA time zone like Europe/Berlin", zone) from None
