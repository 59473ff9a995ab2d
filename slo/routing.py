"""The alert router: dedup, routes, groups, inhibition, silences, maintenance, repeats.

Driven by explicit calls, Alertmanager-style:

- ``process(alerts, now, source=...)`` each evaluation cycle with the full set of alerts a
  source currently sees firing; anything that source reported before and no longer
  reports is resolved. Alerts are deduplicated by fingerprint.
- ``flush(now)`` sends what is due: a new group waits ``group_wait``, later changes go
  out on ``group_interval`` ticks, an unchanged firing group is re-sent after
  ``repeat_interval``, and resolutions are sent to every receiver that was told the
  alert fired. A failed receiver is retried on the next flush and never blocks others.

Each receiver call is one delivery attempt (slo.delivery): fenced, journalled (intent
before, outcome after) and counted; a failed delivery raises QsreNotificationsFailing
to the fallback receivers in the same flush.

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
from datetime import datetime, timedelta

from collector.clock import Clock, SystemClock
from slo.alert_state import (
    ActiveAlert,
    AlertStateStore,
    Changes,
    GroupState,
    ReceiverState,
)
from slo.alerts import Alert, InvalidAlert, Matcher, Silence, matches_all
from slo.delivery import failing
from slo.delivery.attempt import Deliverer
from slo.delivery.hooks import Fence, Fenced
from slo.delivery.ledger import DeliveryLedger
from slo.delivery.metrics import NotificationMetrics
from slo.muting import Inhibitors, inhibitors_of, mute_notes
from slo.notify.base import Notification, Notifier
from slo.notify.console import ConsoleNotifier
from slo.route_config import (
    ALL_LABELS,
    BACKEND_SYMPTOM_KINDS,
    DEFAULT_GROUP_INTERVAL_S,
    DEFAULT_GROUP_WAIT_S,
    DEFAULT_INHIBIT_RULES,
    DEFAULT_REPEAT_INTERVAL_S,
    InhibitRule,
    MaintenanceWindow,
    Route,
    RoutingConfig,
    _matchers,
)

__all__ = [
    "ALL_LABELS",
    "BACKEND_SYMPTOM_KINDS",
    "DEFAULT_GROUP_INTERVAL_S",
    "DEFAULT_GROUP_WAIT_S",
    "DEFAULT_INHIBIT_RULES",
    "DEFAULT_REPEAT_INTERVAL_S",
    "AlertStatus",
    "FlushReport",
    "InhibitRule",
    "MaintenanceWindow",
    "Route",
    "Router",
    "RoutingConfig",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AlertStatus:
    alert: Alert
    state: str  # firing | suppressed | resolved
    notes: tuple[str, ...] = ()


@dataclass
class FlushReport:
    sent: list[Notification] = field(default_factory=list)
    failed: list[tuple[Notification, str]] = field(default_factory=list)
    # The fence answered False: the flush stopped and sent nothing more.
    fenced: bool = False


# Finished ledger attempts are kept this long (for inspection), then pruned.
LEDGER_RETENTION_S = 7 * 86400.0
_DEFAULT_ROUTE = -1
_FALLBACK_ROUTE = -2


class Router:
    """See the module docstring. One router per store."""

    def __init__(
        self,
        config: RoutingConfig,
        notifiers: Mapping[str, Notifier] | Sequence[Notifier],
        *,
        state: AlertStateStore | None = None,
        clock: Clock | None = None,
        fence: Fence | None = None,
    ) -> None:
        """``fence`` is asked right before every receiver call (retries included); a False
        answer aborts the flush: a router that lost the routing duty sends nothing."""
        self.config = config
        if not isinstance(notifiers, Mapping):
            notifiers = {n.name: n for n in notifiers}
        self.notifiers: dict[str, Notifier] = dict(notifiers)
        if "console" in config.fallback_receivers and "console" not in self.notifiers:
            self.notifiers["console"] = ConsoleNotifier("console")
        missing = (config.receiver_names() | set(config.fallback_receivers)) - set(self.notifiers)
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
        ledger = DeliveryLedger(state.engine) if state is not None else None
        self._ledger = ledger
        self._pruned_at: datetime | None = None
        self._delivery = Deliverer(ledger, secrets=self._secrets, fence=fence)
        if state is not None:
            loaded = state.load()
            self._alerts = loaded.alerts
            self._groups = loaded.groups
            self._receivers = loaded.receivers
            self._silences = loaded.silences
        else:
            self._alerts, self._groups, self._receivers, self._silences = {}, {}, {}, {}
        # (receiver, group) whose last call may have reached the far end unseen.
        self._in_doubt: set[tuple[str, str]] = set()
        for attempt in ledger.open_intents() if ledger is not None else ():
            key = (attempt.receiver, attempt.group_key)
            st = self._receivers.get(key)
            if st is not None:
                # A crash between intent and outcome: finish it on the next flush.
                st.retry_pending = True
                self._in_doubt.add(key)
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
        if labels.get("kind") == failing.KIND:
            return [_FALLBACK_ROUTE]
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
        if index == _FALLBACK_ROUTE:
            # Failure and recovery go out in the flush that saw them (within one
            # evaluation interval), not on a group_wait/group_interval tick.
            # One group per failing receiver: each failure is its own notification.
            return Route(
                receivers=self.config.fallback_receivers,
                group_by=("alertname", "receiver"),
                group_wait_s=0.0,
                group_interval_s=0.0,
            )
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
    def _inhibited_by(self, firing: list[Alert]) -> Inhibitors:
        return inhibitors_of(self.config.inhibit_rules, firing)

    def _mute_notes(self, alert: Alert, now: datetime, inhibitors: Inhibitors) -> list[str]:
        return mute_notes(
            alert, now, self.config.maintenance_windows, self._silences.values(), inhibitors
        )

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
        try:
            self._flush_groups(
                [g for g in self._groups.values() if g.route_index != _FALLBACK_ROUTE],
                now,
                report,
                changes,
            )
            self._save(changes, now)
            # Failed deliveries raise QsreNotificationsFailing to the fallback receivers,
            # in this same flush; recovered ones resolve it.
            self.process(
                failing.failing_alerts(
                    self._receivers.values(),
                    exclude=self.config.fallback_receivers,
                    runbook_base_url=self.config.runbook_base_url,
                ),
                now,
                source=failing.SOURCE,
            )
            changes = Changes()
            self._flush_groups(
                [g for g in self._groups.values() if g.route_index == _FALLBACK_ROUTE],
                now,
                report,
                changes,
            )
        except Fenced as exc:
            # Another replica holds the routing duty now: it owns the state too.
            log.warning("alert router: %s", exc)
            report.fenced = True
            return report
        self._save(changes, now)
        self._prune_ledger(now)
        return report

    def _prune_ledger(self, now: datetime) -> None:
        # Hourly at most: the ledger is only needed until an attempt's outcome is known.
        if self._ledger is None or (
            self._pruned_at is not None and now - self._pruned_at < timedelta(hours=1)
        ):
            return
        self._pruned_at = now
        self._ledger.prune(now - timedelta(seconds=LEDGER_RETENTION_S))

    def _flush_groups(
        self, groups: list[GroupState], now: datetime, report: FlushReport, changes: Changes
    ) -> None:
        inhibitors: Inhibitors | None = None
        mute_cache: dict[str, bool] = {}
        for group in groups:
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
            repeat_s = _first(route.repeat_interval_s, self.config.repeat_interval_s)
            for receiver, st in zip(receivers, states, strict=True):
                if not due and not st.retry_pending:
                    continue
                self._notify_one(
                    group, receiver, st, firing, resolved, repeat_s, now, report, changes
                )
            if due:
                interval = _first(route.group_interval_s, self.config.group_interval_s)
                group.next_flush_at = now + timedelta(seconds=interval)
                changes.groups[group.group_key] = group
            self._collect(group, resolved, states, changes)

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
        key = (receiver, group.group_key)
        in_doubt = key in self._in_doubt or st.retry_pending
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
            incident_id=self._delivery.ensure_incident(st),
            in_doubt=in_doubt,
        )
        status = "repeat" if notification.is_repeat else notification.status
        result = self._delivery.attempt(notifier, notification, st, status=status, now=now)
        self._in_doubt.discard(key)
        if result.ok:
            self.sent[receiver] += 1
            report.sent.append(notification)
        else:
            self.failed[receiver] += 1
            report.failed.append((notification, result.error or ""))
        changes.receivers[key] = st
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

    def metrics_source(self) -> NotificationMetrics:
        """``qsre_notifications_total{receiver, outcome}`` for the exporter."""
        return NotificationMetrics(self.notifiers, lambda: dict(self._delivery.counts))

    def _save(self, changes: Changes, now: datetime) -> None:
        if self._state is not None and changes:
            self._state.save(changes, now)

    # ------------------------------------------------------------- inspection
    def receiver_states(self) -> list[ReceiverState]:
        return list(self._receivers.values())

    def groups(self) -> list[GroupState]:
        return list(self._groups.values())


def _first(value: float | None, default: float) -> float:
    """A route's own timing if it sets one (0 included), else the config's."""
    return default if value is None else value
