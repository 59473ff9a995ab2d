"""Routing configuration: routes, inhibition rules, maintenance windows, timings.

Parsed once from the ``alerting.routing:`` section of qsre.yaml into frozen
dataclasses; the router (slo.routing) only reads them.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.triggers.cron import CronTrigger

from slo.alerts import InvalidAlert, Matcher

ALL_LABELS = "..."
DEFAULT_GROUP_WAIT_S = 30.0
DEFAULT_GROUP_INTERVAL_S = 300.0
DEFAULT_REPEAT_INTERVAL_S = 4 * 3600.0
DEFAULT_FALLBACK_RECEIVERS = ("console",)
# Alerts that are consequences of a backend being down (inhibited by backend_down).
BACKEND_SYMPTOM_KINDS = (
    "queue_overload",
    "network_blips",
    "calibration_drift",
    "simulator_divergence",
    "auth_failure",
    "result_corruption",
)


def _matchers(value: Any, where: str) -> tuple[Matcher, ...]:
    """Matchers from a mapping {name: value} (equality) or a list of 'name=~re' strings."""
    if value is None:
        return ()
    if isinstance(value, Mapping):
        return tuple(Matcher(str(k), str(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        out = []
        for item in value:
            if isinstance(item, Matcher):
                out.append(item)
            elif isinstance(item, str):
                out.append(Matcher.parse(item))
            else:
                raise InvalidAlert(where, item, "a matcher string like 'severity=page'")
        return tuple(out)
    raise InvalidAlert(where, value, "a mapping of label: value or a list of matcher strings")


@dataclass(frozen=True)
class Route:
    """Alerts matching every matcher go to ``receivers``; ``continue_`` keeps matching
    later routes. Unset timings/group_by inherit from RoutingConfig."""

    receivers: tuple[str, ...]
    matchers: tuple[Matcher, ...] = ()
    continue_: bool = False
    group_by: tuple[str, ...] | None = None
    group_wait_s: float | None = None
    group_interval_s: float | None = None
    repeat_interval_s: float | None = None


@dataclass(frozen=True)
class InhibitRule:
    """A firing alert matching ``source`` mutes alerts matching ``target`` whose ``equal``
    labels have the same values."""

    name: str
    source: tuple[Matcher, ...]
    target: tuple[Matcher, ...]
    equal: tuple[str, ...]


DEFAULT_INHIBIT_RULES: tuple[InhibitRule, ...] = (
    InhibitRule(
        "page-over-ticket",
        source=(Matcher("severity", "page"), Matcher("slo", ".+", "=~")),
        target=(Matcher("severity", "ticket"), Matcher("slo", ".+", "=~")),
        equal=("slo",),
    ),
    InhibitRule(
        "backend-down",
        source=(Matcher("kind", "backend_down"), Matcher("backend", ".+", "=~")),
        target=(
            Matcher("kind", "|".join(BACKEND_SYMPTOM_KINDS), "=~"),
            Matcher("backend", ".+", "=~"),
        ),
        equal=("backend",),
    ),
)


@dataclass(frozen=True)
class MaintenanceWindow:
    """A recurring window (cron start + duration, UTC) during which a backend's alerts are
    muted. ``backend`` '*' covers every backend."""

    name: str
    backend: str
    cron: str
    duration_s: float

    def __post_init__(self) -> None:
        if self.duration_s <= 0:
            raise InvalidAlert(f"maintenance.{self.name}.duration_s", self.duration_s, "> 0")
        try:
            CronTrigger.from_crontab(self.cron, timezone=UTC)
        except ValueError as exc:
            raise InvalidAlert(
                f"maintenance.{self.name}.cron", self.cron, f"a 5-field crontab ({exc})"
            ) from None

    def _trigger(self) -> CronTrigger:
        return CronTrigger.from_crontab(self.cron, timezone=UTC)

    def active_at(self, now: datetime) -> tuple[datetime, datetime] | None:
        """(start, end) of the window covering ``now``, if any."""
        # The last start <= now lies in (now - duration, now] if the window is open: ask
        # the cron trigger for the first fire time at or after now - duration.
        earliest = now - timedelta(seconds=self.duration_s) + timedelta(microseconds=1)
        start = self._trigger().get_next_fire_time(None, earliest)
        if start is None or start > now:
            return None
        return start, start + timedelta(seconds=self.duration_s)

    def covers(self, labels: Mapping[str, str]) -> bool:
        return self.backend == "*" or labels.get("backend") == self.backend

    def note(self, start: datetime, end: datetime) -> str:
        return (
            f"suppressed: maintenance window {self.name} "
            f"{start.astimezone(UTC):%H:%M}\u2013{end.astimezone(UTC):%H:%M} UTC"
        )


@dataclass(frozen=True)
class RoutingConfig:
    routes: tuple[Route, ...] = ()
    default_receivers: tuple[str, ...] = ("console",)
    group_by: tuple[str, ...] = ("alertname", "slo", "backend")
    group_wait_s: float = DEFAULT_GROUP_WAIT_S
    group_interval_s: float = DEFAULT_GROUP_INTERVAL_S
    repeat_interval_s: float = DEFAULT_REPEAT_INTERVAL_S
    inhibit_rules: tuple[InhibitRule, ...] = DEFAULT_INHIBIT_RULES
    maintenance_windows: tuple[MaintenanceWindow, ...] = ()
    external_url: str = ""
    # Where QsreNotificationsFailing goes (never through the routes: the failing
    # receiver could be on them). "console" prints and writes the alert log; the
    # router provides one if the config defines no receiver of that name.
    fallback_receivers: tuple[str, ...] = DEFAULT_FALLBACK_RECEIVERS
    # Where the router's own alerts (QsreNotificationsFailing) link their runbook:
    # qsre.yaml's links.runbook_base_url (empty: the installed runbook file).
    runbook_base_url: str = ""

    def receiver_names(self) -> set[str]:
        names = set(self.default_receivers)
        for r in self.routes:
            names.update(r.receivers)
        return names

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], where: str = "alerting") -> RoutingConfig:
        """From the ``alerting:`` section of qsre.yaml (already parsed YAML)."""

        def num(m: Mapping[str, Any], key: str, path: str) -> float | None:
            if key not in m or m[key] is None:
                return None
            v = m[key]
            if not isinstance(v, (int, float)) or v < 0:
                raise InvalidAlert(f"{path}.{key}", v, "a number of seconds >= 0")
            return float(v)

        def names(v: Any, path: str) -> tuple[str, ...]:
            if isinstance(v, str):
                return (v,)
            if isinstance(v, (list, tuple)) and all(isinstance(x, str) for x in v):
                return tuple(v)
            raise InvalidAlert(path, v, "a name or a list of names")

        _known_keys(data, _ROUTING_KEYS, where)
        routes = []
        for i, r in enumerate(data.get("routes") or ()):
            path = f"{where}.routes[{i}]"
            if not isinstance(r, Mapping) or "receivers" not in r:
                raise InvalidAlert(path, r, "a mapping with 'receivers' and optional 'match'")
            _known_keys(r, _ROUTE_KEYS, path)
            routes.append(
                Route(
                    receivers=names(r["receivers"], f"{path}.receivers"),
                    matchers=_matchers(r.get("match"), f"{path}.match"),
                    continue_=bool(r.get("continue", False)),
                    group_by=names(r["group_by"], f"{path}.group_by") if "group_by" in r else None,
                    group_wait_s=num(r, "group_wait_s", path),
                    group_interval_s=num(r, "group_interval_s", path),
                    repeat_interval_s=num(r, "repeat_interval_s", path),
                )
            )
        windows = []
        for i, w in enumerate(data.get("maintenance_windows") or ()):
            path = f"{where}.maintenance_windows[{i}]"
            if isinstance(w, Mapping):
                _known_keys(w, ("name", "backend", "cron", "duration_s"), path)
            try:
                windows.append(
                    MaintenanceWindow(
                        name=str(w["name"]),
                        backend=str(w.get("backend", "*")),
                        cron=str(w["cron"]),
                        duration_s=float(w["duration_s"]),
                    )
                )
            except (KeyError, TypeError) as exc:
                raise InvalidAlert(path, w, f"name, cron, duration_s (missing {exc})") from None
        inhibit = DEFAULT_INHIBIT_RULES
        if "inhibit_rules" in data:
            for i, r in enumerate(data["inhibit_rules"] or ()):
                if not isinstance(r, Mapping):
                    raise InvalidAlert(f"{where}.inhibit_rules[{i}]", r, "a mapping")
                _known_keys(r, ("name", "source", "target", "equal"), f"{where}.inhibit_rules[{i}]")
            inhibit = tuple(
                InhibitRule(
                    name=str(r.get("name", f"rule{i}")),
                    source=_matchers(r.get("source"), f"{where}.inhibit_rules[{i}].source"),
                    target=_matchers(r.get("target"), f"{where}.inhibit_rules[{i}].target"),
                    equal=tuple(r.get("equal") or ()),
                )
                for i, r in enumerate(data["inhibit_rules"] or ())
            )
        base = cls()

        def or_base(value: float | None, default: float) -> float:
            # 0 is a valid setting (group_wait_s: 0 sends at once), not "unset".
            return default if value is None else value

        return cls(
            routes=tuple(routes),
            default_receivers=names(
                data.get("default_receiver", base.default_receivers), f"{where}.default_receiver"
            ),
            group_by=names(data.get("group_by", base.group_by), f"{where}.group_by"),
            group_wait_s=or_base(num(data, "group_wait_s", where), base.group_wait_s),
            group_interval_s=or_base(num(data, "group_interval_s", where), base.group_interval_s),
            repeat_interval_s=or_base(
                num(data, "repeat_interval_s", where), base.repeat_interval_s
            ),
            inhibit_rules=inhibit,
            maintenance_windows=tuple(windows),
            external_url=str(data.get("external_url", "")),
            fallback_receivers=names(
                data.get("fallback_receivers", base.fallback_receivers),
                f"{where}.fallback_receivers",
            ),
        )


_ROUTE_KEYS = (
    "receivers",
    "match",
    "continue",
    "group_by",
    "group_wait_s",
    "group_interval_s",
    "repeat_interval_s",
)
_ROUTING_KEYS = (
    "routes",
    "default_receiver",
    "group_by",
    "group_wait_s",
    "group_interval_s",
    "repeat_interval_s",
    "inhibit_rules",
    "maintenance_windows",
    "external_url",
    "fallback_receivers",
)


def _known_keys(m: Mapping[str, Any], allowed: tuple[str, ...], path: str) -> None:
    """A misspelt key (``recievers``, ``group_wait``) is an error, not silently ignored."""
    for key in m:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            expected = f"{close[0]!r}" if close else f"one of {', '.join(allowed)}"
            raise InvalidAlert(path, key, f"a known key: {expected}")
