"""The alert value: labels + annotations + start/end, and its Alertmanager fingerprint.

An alert's identity is its label set. The fingerprint is computed exactly as
Alertmanager (prometheus/common ``model.LabelSet.Fingerprint``) does it, so one alert
has one id in qsre, in Alertmanager, in PagerDuty (``dedup_key``) and in Slack.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cached_property, lru_cache
from types import MappingProxyType
from typing import Any

from collector.clock import as_utc


class AlertingError(Exception):
    """Base class for every error the alerting code (routing, notifiers) raises on purpose."""


class InvalidAlert(AlertingError, ValueError):
    """An alert, route, silence or receiver definition is malformed."""

    def __init__(self, field_name: str, value: object, expected: str) -> None:
        self.field = field_name
        self.value = value
        self.expected = expected
        super().__init__(f"invalid {field_name}={value!r}: expected {expected}")


@dataclass(frozen=True)
class AlertKind:
    """One entry of the alert catalogue: what the engine can raise and where its runbook is."""

    kind: str
    alertname: str
    default_severity: str
    title: str
    job_level: bool = False


# Every alert the engine can raise carries label kind=<one of these>; the runbook for a
# kind lives at runbooks/<kind>.md (runbook_path).
ALERT_KINDS: Mapping[str, AlertKind] = MappingProxyType(
    {
        k.kind: k
        for k in (
            AlertKind("slo_burn_page", "QsreSLOBurnRatePage", "page", "SLO burning fast"),
            AlertKind("slo_burn_ticket", "QsreSLOBurnRateTicket", "ticket", "SLO burning slowly"),
            AlertKind("auth_failure", "QsreAuthFailure", "page", "Authentication failures", True),
            AlertKind("result_corruption", "QsreResultCorruption", "page", "Corrupt results", True),
            AlertKind("quota_breach", "QsreQuotaBreach", "ticket", "Quota breach", True),
            AlertKind("calibration_drift", "QsreCalibrationDrift", "ticket", "Calibration drift"),
            AlertKind(
                "simulator_divergence",
                "QsreSimulatorDivergence",
                "ticket",
                "Firmware/compiler regression (simulator divergence)",
            ),
            AlertKind("queue_overload", "QsreQueueOverload", "ticket", "Queue overload"),
            AlertKind("network_blips", "QsreNetworkBlips", "ticket", "Transient error surge"),
            AlertKind("billing_spike", "QsreBillingSpike", "ticket", "Billing spike"),
            AlertKind("backend_down", "QsreBackendDown", "page", "Backend down"),
            AlertKind(
                "resource_exhaustion", "QsreResourceExhaustion", "page", "Resource exhaustion"
            ),
            # Raised by the router itself (slo.delivery.failing) and sent only to the
            # fallback receivers: a receiver that fails cannot report its own failure.
            AlertKind(
                "notifications_failing",
                "QsreNotificationsFailing",
                "page",
                "Alert notifications failing",
            ),
            # Raised by Prometheus from the generated qsre-daemon rule group
            # (slo.rules.stall_group): a stalled daemon cannot report its own stall.
            AlertKind(
                "evaluation_stalled", "QsreEvaluationStalled", "page", "qsre evaluation stalled"
            ),
        )
    }
)
JOB_LEVEL_KINDS = frozenset(k for k, v in ALERT_KINDS.items() if v.job_level)
SEVERITIES = ("page", "ticket", "info")
# Job-level alerts are deduplicated per backend + error class: these are their only labels,
# so a storm of failing jobs is one incident, never one page per job id.
JOB_LEVEL_LABELS = frozenset({"alertname", "kind", "severity", "backend", "error_class"})


def runbook_path(kind: str) -> str:
    """Relative path of the runbook for an alert kind (runbooks/<kind>.md)."""
    if kind not in ALERT_KINDS:
        raise InvalidAlert("kind", kind, f"one of {sorted(ALERT_KINDS)}")
    return f"runbooks/{kind}.md"


_FNV_OFFSET64 = 14695981039346656037
_FNV_PRIME64 = 1099511628211
_MASK64 = 0xFFFFFFFFFFFFFFFF
_SEPARATOR = 0xFF


def fingerprint(labels: Mapping[str, str]) -> str:
    """Alertmanager's fingerprint of a label set, as the 16 hex digits it prints.

    FNV-1a 64-bit over the label pairs sorted by name, each written as
    ``name 0xff value 0xff`` (prometheus/common model.labelSetToFingerprint).
    """
    h = _FNV_OFFSET64
    for name in sorted(labels):
        for chunk in (name.encode(), labels[name].encode()):
            for byte in chunk:
                h ^= byte
                h = (h * _FNV_PRIME64) & _MASK64
            h ^= _SEPARATOR
            h = (h * _FNV_PRIME64) & _MASK64
    return f"{h:016x}"


@lru_cache(maxsize=65536)
def _fingerprint_of_items(items: tuple[tuple[str, str], ...]) -> str:
    # Evaluations re-create the same alerts every cycle: hash each label set once.
    return fingerprint(dict(items))


def _frozen_str_map(value: Mapping[str, Any], field_name: str) -> Mapping[str, str]:
    out: dict[str, str] = {}
    for k, v in value.items():
        if not isinstance(k, str) or not k:
            raise InvalidAlert(field_name, k, "non-empty string keys")
        out[k] = str(v)
    return MappingProxyType(out)


@dataclass(frozen=True)
class Alert:
    """One alert. Identity = labels; annotations carry the human context.

    ``ends_at`` is None while firing. ``starts_at`` None means "now" to the router.
    """

    labels: Mapping[str, str]
    annotations: Mapping[str, str] = field(default_factory=dict)
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    generator_url: str = ""

    def __post_init__(self) -> None:
        labels = _frozen_str_map(self.labels, "labels")
        if not labels:
            raise InvalidAlert("labels", dict(self.labels), "at least one label")
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "annotations", _frozen_str_map(self.annotations, "annotations"))
        object.__setattr__(self, "starts_at", as_utc(self.starts_at))
        object.__setattr__(self, "ends_at", as_utc(self.ends_at))

    @cached_property
    def fingerprint(self) -> str:
        return _fingerprint_of_items(tuple(sorted(self.labels.items())))

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "")

    @property
    def severity(self) -> str:
        return self.labels.get("severity", "")

    def with_annotations_of(self, other: Alert) -> Alert:
        """This alert with ``other``'s annotations. Skips re-validation (both are already
        valid), because the router does this for every alert on every evaluation cycle."""
        clone = copy.copy(self)
        object.__setattr__(clone, "annotations", other.annotations)
        return clone

    def resolved(self, ends_at: datetime) -> Alert:
        return replace(self, ends_at=ends_at)

    def firing_at(self, now: datetime) -> bool:
        return self.ends_at is None or self.ends_at > now

    def to_json(self) -> dict[str, Any]:
        return {
            "labels": dict(self.labels),
            "annotations": dict(self.annotations),
            "starts_at": self.starts_at.isoformat() if self.starts_at else None,
            "ends_at": self.ends_at.isoformat() if self.ends_at else None,
            "generator_url": self.generator_url,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Alert:
        def ts(v: Any) -> datetime | None:
            return datetime.fromisoformat(v) if v else None

        return cls(
            labels=data["labels"],
            annotations=data.get("annotations") or {},
            starts_at=ts(data.get("starts_at")),
            ends_at=ts(data.get("ends_at")),
            generator_url=data.get("generator_url") or "",
        )


def make_alert(
    kind: str,
    *,
    severity: str | None = None,
    labels: Mapping[str, str] | None = None,
    summary: str = "",
    description: str = "",
    runbook_url: str = "",
    dashboard_url: str = "",
    annotations: Mapping[str, str] | None = None,
    starts_at: datetime | None = None,
) -> Alert:
    """An alert of a catalogued kind with the standard labels and annotations."""
    spec = ALERT_KINDS.get(kind)
    if spec is None:
        raise InvalidAlert("kind", kind, f"one of {sorted(ALERT_KINDS)}")
    sev = severity or spec.default_severity
    if sev not in SEVERITIES:
        raise InvalidAlert("severity", sev, f"one of {SEVERITIES}")
    all_labels = {"alertname": spec.alertname, "kind": kind, "severity": sev, **(labels or {})}
    if kind in JOB_LEVEL_KINDS:
        extra = set(all_labels) - JOB_LEVEL_LABELS
        if extra or "backend" not in all_labels or "error_class" not in all_labels:
            raise InvalidAlert(
                "labels",
                sorted(all_labels),
                f"job-level alert {kind} labelled exactly {sorted(JOB_LEVEL_LABELS)} "
                "(never job ids)",
            )
    ann = {
        "summary": summary or spec.title,
        "description": description,
        "runbook_url": runbook_url,
        "dashboard_url": dashboard_url,
        **(annotations or {}),
    }
    return Alert(
        labels=all_labels, annotations={k: v for k, v in ann.items() if v}, starts_at=starts_at
    )


def job_alert(
    kind: str,
    *,
    backend: str,
    error_class: str,
    severity: str | None = None,
    summary: str = "",
    description: str = "",
    runbook_url: str = "",
    dashboard_url: str = "",
    annotations: Mapping[str, str] | None = None,
    starts_at: datetime | None = None,
) -> Alert:
    """A job-level alert (auth failure, result corruption, quota breach): one per backend +
    error class, however many jobs failed."""
    if kind not in JOB_LEVEL_KINDS:
        raise InvalidAlert("kind", kind, f"a job-level kind, one of {sorted(JOB_LEVEL_KINDS)}")
    return make_alert(
        kind,
        severity=severity,
        labels={"backend": backend, "error_class": error_class},
        summary=summary,
        description=description,
        runbook_url=runbook_url,
        dashboard_url=dashboard_url,
        annotations=annotations,
        starts_at=starts_at,
    )


_MATCH_OPS = ("=", "!=", "=~", "!~")


@dataclass(frozen=True)
class Matcher:
    """A label matcher as in Alertmanager: ``=``, ``!=``, ``=~``, ``!~`` (regexes are
    anchored at both ends). A missing label matches as the empty string."""

    name: str
    value: str
    op: str = "="

    def __post_init__(self) -> None:
        if self.op not in _MATCH_OPS:
            raise InvalidAlert("matcher.op", self.op, f"one of {_MATCH_OPS}")
        if self.op in ("=~", "!~"):
            try:
                re.compile(self.value)
            except re.error as exc:
                raise InvalidAlert("matcher.value", self.value, f"a valid regex ({exc})") from None

    @cached_property
    def _regex(self) -> re.Pattern[str]:
        return re.compile(f"(?:{self.value})\\Z")

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.name, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        hit = self._regex.match(actual) is not None
        return hit if self.op == "=~" else not hit

    def __str__(self) -> str:
        return f'{self.name}{self.op}"{self.value}"'

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "value": self.value, "op": self.op}

    @classmethod
    def parse(cls, text: str) -> Matcher:
        """``name=value``, ``name!=value``, ``name=~regex`` or ``name!~regex``."""
        m = re.fullmatch(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"?(.*?)"?\s*', text)
        if m is None:
            raise InvalidAlert("matcher", text, "name=value, name!=value, name=~re or name!~re")
        return cls(m.group(1), m.group(3), m.group(2))


def matches_all(matchers: tuple[Matcher, ...], labels: Mapping[str, str]) -> bool:
    return all(m.matches(labels) for m in matchers)


@dataclass(frozen=True)
class Silence:
    """Mute alerts matching every matcher between starts_at and ends_at."""

    id: str
    matchers: tuple[Matcher, ...]
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str
    created_at: datetime

    def active_at(self, now: datetime) -> bool:
        return self.starts_at <= now < self.ends_at

    def note(self) -> str:
        return f"suppressed: silence {self.id} by {self.created_by}: {self.comment}"
