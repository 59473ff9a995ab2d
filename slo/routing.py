"""The alert router: dedup, routes, groups, inhibition, silences, maintenance, repeats.

Driven by explicit calls, Alertmanager-style:

- ``process(alerts, now, source=...)`` each evaluation cycle with the full set of alerts a
  source currently sees firing; anything that source reported before and no longer
  reports is resolved. Alerts are deduplicated by fingerprint.
- ``flush(now)`` sends what is due: a new group waits ``group_wait``, later changes go
  out on ``group_interval`` ticks, an unchanged firing group is re-sent after
  ``repeat_interval``, and resolutions are sent to every receiver that was told the
  alert fired. A failed receiver is retried on the next flush and never blocks others.

Muting (silences, maintenance windows, inhibition) is applied at flush time, as in
Alertmanager; a muted alert that was already notified is still resolved when it ends.
State lives in memory and is written through (changes only) to ``AlertStateStore``.
"""

from __future__ import annotations

import logging
import math
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.triggers.cron import CronTrigger

from collector.clock import Clock, SystemClock
from slo.alert_state import (
    ActiveAlert,
    AlertStateStore,
    Changes,
    GroupState,
    LogEntry,
    ReceiverState,
)
from slo.alerts import Alert, InvalidAlert, Matcher, Silence, matches_all
from slo.notify.base import Notification, Notifier, NotifyError, redact

log = logging.getLogger(__name__)

ALL_LABELS = "..."
DEFAULT_GROUP_WAIT_S = 30.0
DEFAULT_GROUP_INTERVAL_S = 300.0
DEFAULT_REPEAT_INTERVAL_S = 4 * 3600.0
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

        routes = []
        for i, r in enumerate(data.get("routes") or ()):
            path = f"{where}.routes[{i}]"
            if not isinstance(r, Mapping) or "receivers" not in r:
                raise InvalidAlert(path, r, "a mapping with 'receivers' and optional 'match'")
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
        return cls(
            routes=tuple(routes),
            default_receivers=names(
                data.get("default_receiver", base.default_receivers), f"{where}.default_receiver"
            ),
            group_by=names(data.get("group_by", base.group_by), f"{where}.group_by"),
            group_wait_s=num(data, "group_wait_s", where) or base.group_wait_s,
            group_interval_s=num(data, "group_interval_s", where) or base.group_interval_s,
            repeat_interval_s=num(data, "repeat_interval_s", where) or base.repeat_interval_s,
            inhibit_rules=inhibit,
            maintenance_windows=tuple(windows),
            external_url=str(data.get("external_url", "")),
        )


@dataclass(frozen=True)
class AlertStatus:
    alert: Alert
    state: str  # firing | suppressed | resolved
    notes: tuple[str, ...] = ()


@dataclass
class FlushReport:
    sent: list[Notification] = field(default_factory=list)
    failed: list[tuple[Notification, str]] = field(default_factory=list)


_DEFAULT_ROUTE = -1


class Router:
    """See the module docstring. One router per store."""

    def __init__(
        self,
        config: RoutingConfig,
        notifiers: Mapping[str, Notifier] | Sequence[Notifier],
        *,
        state: AlertStateStore | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.config = config
        if not isinstance(notifiers, Mapping):
            notifiers = {n.name: n for n in notifiers}
        self.notifiers: dict[str, Notifier] = dict(notifiers)
        missing = config.receiver_names() - set(self.notifiers)
        if missing:
            raise InvalidAlert(
                "alerting.receivers",
                sorted(missing),
                f"defined receivers ({sorted(self.notifiers)})",
            )
        self.clock = clock or SystemClock()
        self._state = state
        self.sent: Counter[str] = Counter()
        self.failed: Counter[str] = Counter()
        self._secrets = tuple(s for n in self.notifiers.values() for s in n.secrets())
        if state is not None:
            loaded = state.load()
            self._alerts = loaded.alerts
            self._groups = loaded.groups
            self._receivers = loaded.receivers
            self._silences = loaded.silences
        else:
            self._alerts, self._groups, self._receivers, self._silences = {}, {}, {}, {}
        self._by_source: dict[str, set[str]] = {}
        for fp, active in self._alerts.items():
            if active.alert.ends_at is None:
                for src in active.sources:
                    self._by_source.setdefault(src, set()).add(fp)

    # ------------------------------------------------------------ ingestion
    def process(
        self, alerts: Iterable[Alert], now: datetime | None = None, *, source: str = "default"
    ) -> None:
        """Take the full set of alerts ``source`` sees firing at ``now``."""
        now = now or self.clock.now()
        changes = Changes()
        seen: dict[str, Alert] = {}
        for a in alerts:
            if a.ends_at is not None and a.ends_at <= now:
                continue  # explicitly ended: treated like absent
            seen[a.fingerprint] = a
        for fp, a in seen.items():
            cur = self._alerts.get(fp)
            if cur is None or cur.alert.ends_at is not None:
                # New, or firing again before its resolution went out (a flap: receivers
                # that still hold it open hear nothing new).
                fresh = replace(a, starts_at=a.starts_at or now, ends_at=None)
                if cur is not None and cur.alert.starts_at is not None:
                    fresh = replace(fresh, starts_at=cur.alert.starts_at)
                active = ActiveAlert(fresh, {source})
                self._alerts[fp] = active
                changes.alerts[fp] = active
                self._assign(active, now, changes)
            else:
                if source not in cur.sources:
                    cur.sources.add(source)
                    changes.alerts[fp] = cur
                if a.annotations != cur.alert.annotations:
                    # Annotations (burn rates, budget) change every cycle: keep them in
                    # memory; they are persisted when something else changes.
                    cur.alert = cur.alert.with_annotations_of(a)
        for fp in self._by_source.get(source, set()) - seen.keys():
            cur = self._alerts.get(fp)
            if cur is None or cur.alert.ends_at is not None:
                continue
            cur.sources.discard(source)
            if not cur.sources:
                cur.alert = cur.alert.resolved(now)
            changes.alerts[fp] = cur
        self._by_source[source] = set(seen)
        self._save(changes, now)

    def _routes_for(self, labels: Mapping[str, str]) -> list[int]:
        out = []
        for i, route in enumerate(self.config.routes):
            if matches_all(route.matchers, labels):
                out.append(i)
                if not route.continue_:
                    break
        return out or [_DEFAULT_ROUTE]

    def _route(self, index: int) -> Route:
        if 0 <= index < len(self.config.routes):
            return self.config.routes[index]
        return Route(receivers=self.config.default_receivers)

    def _assign(self, active: ActiveAlert, now: datetime, changes: Changes) -> None:
        labels = active.alert.labels
        for index in self._routes_for(labels):
            route = self._route(index)
            group_by = route.group_by or self.config.group_by
            if ALL_LABELS in group_by:
                glabels = dict(labels)
            else:
                glabels = {k: labels[k] for k in group_by if k in labels}
            inner = ",".join(f'{k}="{v}"' for k, v in sorted(glabels.items()))
            key = f"route{index}:{{{inner}}}"
            group = self._groups.get(key)
            if group is None:
                wait = (
                    route.group_wait_s
                    if route.group_wait_s is not None
                    else self.config.group_wait_s
                )
                group = GroupState(key, index, glabels, now, now + timedelta(seconds=wait))
                self._groups[key] = group
            if active.fingerprint not in group.fingerprints:
                group.fingerprints.add(active.fingerprint)
                changes.groups[key] = group

    # -------------------------------------------------------------- muting
    def _inhibited_by(
        self, firing: list[Alert]
    ) -> list[tuple[InhibitRule, dict[tuple[str, ...], Alert]]]:
        out = []
        for rule in self.config.inhibit_rules:
            sources: dict[tuple[str, ...], Alert] = {}
            for a in firing:
                if matches_all(rule.source, a.labels):
                    sources.setdefault(tuple(a.labels.get(n, "") for n in rule.equal), a)
            if sources:
                out.append((rule, sources))
        return out

    def _mute_notes(
        self,
        alert: Alert,
        now: datetime,
        inhibitors: list[tuple[InhibitRule, dict[tuple[str, ...], Alert]]],
    ) -> list[str]:
        notes = []
        for window in self.config.maintenance_windows:
            if window.covers(alert.labels):
                span = window.active_at(now)
                if span is not None:
                    notes.append(window.note(*span))
        for silence in self._silences.values():
            if silence.active_at(now) and matches_all(silence.matchers, alert.labels):
                notes.append(silence.note())
        for rule, sources in inhibitors:
            if matches_all(rule.target, alert.labels):
                src = sources.get(tuple(alert.labels.get(n, "") for n in rule.equal))
                if src is not None and src.fingerprint != alert.fingerprint:
                    notes.append(
                        f"suppressed: inhibited by {src.name} ({rule.name}, "
                        f"fingerprint {src.fingerprint})"
                    )
        return notes

    def _firing(self) -> list[Alert]:
        return [a.alert for a in self._alerts.values() if a.alert.ends_at is None]

    def statuses(self, now: datetime | None = None) -> list[AlertStatus]:
        """Every known alert with its state and, if muted, why."""
        now = now or self.clock.now()
        inhibitors = self._inhibited_by(self._firing())
        out = []
        for active in self._alerts.values():
            a = active.alert
            if a.ends_at is not None:
                out.append(AlertStatus(a, "resolved"))
                continue
            notes = self._mute_notes(a, now, inhibitors)
            out.append(AlertStatus(a, "suppressed" if notes else "firing", tuple(notes)))
        return out

    def firing_counts(self, now: datetime | None = None) -> dict[tuple[str, str], int]:
        """Unmuted firing alerts by (kind, severity), for qsre_alerts_firing."""
        counts: Counter[tuple[str, str]] = Counter()
        for st in self.statuses(now):
            if st.state == "firing":
                counts[(st.alert.labels.get("kind", ""), st.alert.severity)] += 1
        return dict(counts)

    # ------------------------------------------------------------- silences
    def add_silence(
        self,
        matchers: Sequence[Matcher | str] | Mapping[str, str],
        *,
        ends_at: datetime,
        created_by: str,
        comment: str,
        starts_at: datetime | None = None,
        silence_id: str | None = None,
    ) -> Silence:
        parsed = _matchers(matchers, "silence.matchers")
        if not parsed:
            raise InvalidAlert("silence.matchers", matchers, "at least one matcher")
        now = self.clock.now()
        start = starts_at or now
        if ends_at <= start:
            raise InvalidAlert("silence.ends_at", ends_at, f"later than starts_at {start}")
        if not created_by or not comment:
            raise InvalidAlert(
                "silence.created_by/comment", (created_by, comment), "both non-empty"
            )
        silence = Silence(
            id=silence_id or str(uuid.uuid4()),
            matchers=parsed,
            starts_at=start,
            ends_at=ends_at,
            created_by=created_by,
            comment=comment,
            created_at=now,
        )
        self._silences[silence.id] = silence
        if self._state is not None:
            self._state.save_silence(silence)
        return silence

    def silences(
        self, now: datetime | None = None, *, include_expired: bool = False
    ) -> list[Silence]:
        now = now or self.clock.now()
        return [s for s in self._silences.values() if include_expired or s.ends_at > now]

    def expire_silence(self, silence_id: str, now: datetime | None = None) -> Silence:
        now = now or self.clock.now()
        silence = self._silences.get(silence_id)
        if silence is None:
            raise InvalidAlert("silence.id", silence_id, f"one of {sorted(self._silences)}")
        if silence.ends_at > now:
            silence = replace(silence, ends_at=max(now, silence.starts_at))
            self._silences[silence_id] = silence
            if self._state is not None:
                self._state.save_silence(silence)
        return silence

    # ---------------------------------------------------------------- flush
    def _receiver_state(self, receiver: str, group_key: str) -> ReceiverState:
        key = (receiver, group_key)
        st = self._receivers.get(key)
        if st is None:
            st = ReceiverState(receiver, group_key)
            self._receivers[key] = st
        return st

    def flush(self, now: datetime | None = None) -> FlushReport:
        """Send every due group notification. Returns what was sent and what failed."""
        now = now or self.clock.now()
        report = FlushReport()
        changes = Changes()
        inhibitors: list[tuple[InhibitRule, dict[tuple[str, ...], Alert]]] | None = None
        mute_cache: dict[str, bool] = {}
        for group in list(self._groups.values()):
            route = self._route(group.route_index)
            receivers = route.receivers
            states = [self._receiver_state(r, group.group_key) for r in receivers]
            due = now >= group.next_flush_at
            if not due and not any(s.retry_pending for s in states):
                continue
            if inhibitors is None:
                inhibitors = self._inhibited_by(self._firing())
            members = sorted(
                (self._alerts[fp].alert for fp in group.fingerprints if fp in self._alerts),
                key=lambda a: (a.starts_at or now, a.fingerprint),
            )
            firing = []
            for a in members:
                if a.ends_at is not None:
                    continue
                if a.fingerprint not in mute_cache:
                    mute_cache[a.fingerprint] = bool(self._mute_notes(a, now, inhibitors))
                if not mute_cache[a.fingerprint]:
                    firing.append(a)
            resolved = [a for a in members if a.ends_at is not None]
            repeat_s = route.repeat_interval_s or self.config.repeat_interval_s
            for receiver, st in zip(receivers, states, strict=True):
                if not due and not st.retry_pending:
                    continue
                self._notify_one(
                    group, receiver, st, firing, resolved, repeat_s, now, report, changes
                )
            if due:
                interval = route.group_interval_s or self.config.group_interval_s
                group.next_flush_at = now + timedelta(seconds=interval)
                changes.groups[group.group_key] = group
            self._collect(group, resolved, states, changes)
        self._save(changes, now)
        return report

    def _notify_one(
        self,
        group: GroupState,
        receiver: str,
        st: ReceiverState,
        firing: list[Alert],
        resolved: list[Alert],
        repeat_s: float,
        now: datetime,
        report: FlushReport,
        changes: Changes,
    ) -> None:
        notifier = self.notifiers[receiver]
        firing_fps = {a.fingerprint for a in firing}
        to_resolve = [a for a in resolved if a.fingerprint in st.open_fingerprints]
        resend_s = notifier.resend_interval_s or math.inf
        repeat_s = min(repeat_s, resend_s)
        changed = firing_fps != st.last_firing or bool(to_resolve)
        repeat_due = bool(firing_fps) and (
            st.last_sent_at is None or (now - st.last_sent_at).total_seconds() >= repeat_s
        )
        if not (changed or repeat_due or st.retry_pending):
            return
        if not firing and not to_resolve:
            # Everything left is muted (or resolved unseen): nothing to tell this receiver.
            st.last_firing, st.retry_pending = firing_fps, False
            changes.receivers[(receiver, group.group_key)] = st
            return
        notification = Notification(
            receiver=receiver,
            group_key=group.group_key,
            group_labels=dict(group.labels),
            firing=tuple(firing),
            resolved=tuple(to_resolve),
            new_firing=tuple(a for a in firing if a.fingerprint not in st.open_fingerprints),
            now=now,
            external_url=self.config.external_url,
            is_repeat=not changed,
        )
        resolved_fps = {a.fingerprint for a in to_resolve}
        status = "repeat" if notification.is_repeat else notification.status
        try:
            notifier.notify(notification, st.memo)
        except Exception as exc:  # noqa: BLE001 - one receiver never blocks the others
            kind = "" if isinstance(exc, NotifyError) else f"{type(exc).__name__}: "
            error = redact(f"{kind}{exc}", self._secrets)
            log.warning("alert receiver %s failed for %s: %s", receiver, group.group_key, error)
            self.failed[receiver] += 1
            st.failures += 1
            st.retry_pending = True
            st.last_error = error
            # The far end may have acted on part of it: count the firing alerts as open,
            # so their resolution is still sent later (notifiers skip what they never sent).
            st.open_fingerprints |= firing_fps
            report.failed.append((notification, error))
            changes.log.append(
                LogEntry(
                    now,
                    receiver,
                    group.group_key,
                    status,
                    tuple(sorted(firing_fps | resolved_fps)),
                    False,
                    error,
                )
            )
        else:
            self.sent[receiver] += 1
            st.last_firing = firing_fps
            st.open_fingerprints = (st.open_fingerprints | firing_fps) - resolved_fps
            st.last_sent_at = now
            st.retry_pending = False
            st.last_error = None
            report.sent.append(notification)
            changes.log.append(
                LogEntry(
                    now,
                    receiver,
                    group.group_key,
                    status,
                    tuple(sorted(firing_fps | resolved_fps)),
                    True,
                )
            )
        changes.receivers[(receiver, group.group_key)] = st
        # Persist annotation updates of the alerts we just talked about.
        for a in notification.alerts:
            changes.alerts.setdefault(a.fingerprint, self._alerts[a.fingerprint])

    def _collect(
        self,
        group: GroupState,
        resolved: list[Alert],
        states: list[ReceiverState],
        changes: Changes,
    ) -> None:
        """Forget resolved alerts every receiver has heard about, and finished groups."""
        for a in resolved:
            if any(a.fingerprint in st.open_fingerprints for st in states):
                continue
            group.fingerprints.discard(a.fingerprint)
            changes.groups[group.group_key] = group
            if not any(a.fingerprint in g.fingerprints for g in self._groups.values()):
                self._alerts.pop(a.fingerprint, None)
                changes.alerts[a.fingerprint] = None
        if not group.fingerprints and not any(st.open_fingerprints for st in states):
            del self._groups[group.group_key]
            changes.groups[group.group_key] = None
            for st in states:
                self._receivers.pop((st.receiver, group.group_key), None)
                changes.receivers[(st.receiver, group.group_key)] = None

    def _save(self, changes: Changes, now: datetime) -> None:
        if self._state is not None and changes:
            self._state.save(changes, now)

    # ------------------------------------------------------------- inspection
    def receiver_states(self) -> list[ReceiverState]:
        return list(self._receivers.values())

    def groups(self) -> list[GroupState]:
        return list(self._groups.values())
