"""Why an alert is muted at a given time: maintenance windows, silences, inhibition.

Pure functions over the routing config and the silences; the router asks them at
flush time (as Alertmanager does) and for ``statuses()``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from slo.alerts import Alert, Silence, matches_all
from slo.route_config import InhibitRule, MaintenanceWindow

# For each inhibition rule with a firing source: its sources by their ``equal`` values.
Inhibitors = list[tuple[InhibitRule, dict[tuple[str, ...], Alert]]]


def inhibitors_of(rules: Iterable[InhibitRule], firing: Iterable[Alert]) -> Inhibitors:
    """The rules that some firing alert activates, with those source alerts."""
    firing = list(firing)
    out = []
    for rule in rules:
        sources: dict[tuple[str, ...], Alert] = {}
        for a in firing:
            if matches_all(rule.source, a.labels):
                sources.setdefault(tuple(a.labels.get(n, "") for n in rule.equal), a)
        if sources:
            out.append((rule, sources))
    return out


def mute_notes(
    alert: Alert,
    now: datetime,
    windows: Iterable[MaintenanceWindow],
    silences: Iterable[Silence],
    inhibitors: Inhibitors,
) -> list[str]:
    """One human-readable note per reason ``alert`` is muted at ``now`` (empty: not)."""
    notes = []
    for window in windows:
        if window.covers(alert.labels):
            span = window.active_at(now)
            if span is not None:
                notes.append(window.note(*span))
    for silence in silences:
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
