"""Thresholds of the failure-mode signals: the ``alerting.signals`` section of qsre.yaml.

Every key is optional; an absent section means the defaults below. Durations are
seconds (``window_s: 300``) or duration strings (``window_s: 5m``). Example::

    alerting:
      signals:
        auth_failure:        {window_s: 30m, min_count: 1}
        result_corruption:   {window_s: 30m, min_count: 1}
        quota_breach:        {window_s: 30m, min_count: 1}
        network_blips:       {window_s: 15m, min_ratio: 0.2, min_count: 5}
        queue_overload:      {window_s: 15m, quantile: 0.5, threshold_seconds: 600,
                              min_jobs: 3, waiting_seconds: 1800, waiting_min_jobs: 3}
        backend_down:        {window_s: 10m, min_ratio: 0.9, min_count: 3}
        billing_spike:       {window_s: 1h, baseline_days: 7, min_baseline_days: 3,
                              factor: 3.0, min_usd: 10}
        resource_exhaustion: {window_s: 30m, min_count: 3, spool_full_ratio: 0.8,
                              recorder_errors: 10}
        calibration_drift:   {max_age_s: 3d}
        simulator_divergence: {max_age_s: 3d}

Each section also takes ``enabled: false`` and ``severity: page|ticket|info`` (default:
the alert catalogue's severity for the kind, which is also what its runbook says).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from slo.errors import SpecError
from slo.windows import parse_duration_s


class SignalConfigError(SpecError):
    """The ``alerting.signals`` section does not validate; names the field path."""


def _seconds(value: Any) -> Any:
    # Accept "5m"-style strings as well as plain numbers of seconds.
    if isinstance(value, str):
        parsed = parse_duration_s(value)
        if parsed is None:
            raise ValueError("a number of seconds or a duration like 5m, 1h, 3d")
        return float(parsed)
    return value


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = True
    severity: Literal["page", "ticket", "info"] | None = None

    @field_validator("*", mode="before")
    @classmethod
    def _durations(cls, value: Any, info: ValidationInfo) -> Any:
        name = info.field_name or ""
        return _seconds(value) if name.endswith(("_s", "_seconds")) else value


class _CountSignal(_Section):
    # 30 min: an alert must outlive the gap between jobs. With a job every 15 min (a
    # quiet backend, a nightly pipeline) a 5 min window fires and clears before the
    # router's group_wait ever notifies anyone; it then resolves 30 min after the
    # last failure.
    window_s: float = Field(gt=0)
    min_count: int = Field(default=1, ge=1)


class AuthFailureConfig(_CountSignal):
    """>= min_count jobs failing with error_class auth on a backend within window_s."""

    window_s: float = Field(default=1800.0, gt=0)


class ResultCorruptionConfig(_CountSignal):
    """>= min_count jobs failing with error_class result_corrupt on a backend."""

    window_s: float = Field(default=1800.0, gt=0)


class QuotaBreachConfig(_CountSignal):
    """>= min_count submissions rejected by a quota guard (error_class quota)."""

    window_s: float = Field(default=1800.0, gt=0)


class NetworkBlipsConfig(_Section):
    """Share of jobs hitting transient errors (failed as transient, or done only after a
    retry) among a backend's jobs in window_s; needs min_count such jobs."""

    window_s: float = Field(default=900.0, gt=0)
    min_ratio: float = Field(default=0.2, gt=0, le=1)
    min_count: int = Field(default=5, ge=1)


class QueueOverloadConfig(_Section):
    """Queue time of a backend's jobs finished in window_s: the ``quantile``
    (nearest-rank) above threshold_seconds with >= min_jobs jobs; or >= waiting_min_jobs
    jobs still queued waiting_seconds after submission (0 disables that half)."""

    window_s: float = Field(default=900.0, gt=0)
    quantile: float = Field(default=0.5, gt=0, le=1)
    threshold_seconds: float = Field(default=600.0, gt=0)
    min_jobs: int = Field(default=3, ge=1)
    waiting_seconds: float = Field(default=1800.0, gt=0)
    waiting_min_jobs: int = Field(default=3, ge=0)
    waiting_lookback_s: float = Field(default=6 * 3600.0, gt=0)


class BackendDownConfig(_Section):
    """>= min_ratio of a backend's jobs in window_s failed with one of error_classes, and
    at least min_count of them. Client-side rejections (quota, invalid_input), auth
    failures and cancellations are left out of the ratio: they say nothing about the
    backend."""

    window_s: float = Field(default=600.0, gt=0)
    min_ratio: float = Field(default=0.9, gt=0, le=1)
    min_count: int = Field(default=3, ge=1)
    error_classes: tuple[str, ...] = ("backend", "timeout", "transient")

    @field_validator("error_classes")
    @classmethod
    def _known_classes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        from collector.schema import ERROR_CLASSES

        unknown = [v for v in value if v not in ERROR_CLASSES]
        if unknown or not value:
            raise ValueError(f"a non-empty list of error classes from {list(ERROR_CLASSES)}")
        return value


class BillingSpikeConfig(_Section):
    """A project's spend in the last window_s vs the median spend of the same time window
    on each of the previous baseline_days days. Fires when spend > factor x baseline and
    > min_usd. Days before the project's first finished job are not counted; with fewer
    than min_baseline_days usable days there is no baseline and no alert (fresh
    install, new project)."""

    window_s: float = Field(default=3600.0, gt=0, le=86400)
    baseline_days: int = Field(default=7, ge=1, le=60)
    min_baseline_days: int = Field(default=3, ge=1)
    factor: float = Field(default=3.0, gt=1)
    min_usd: float = Field(default=10.0, ge=0)

    @model_validator(mode="after")
    def _enough_days(self) -> BillingSpikeConfig:
        if self.min_baseline_days > self.baseline_days:
            raise ValueError(f"min_baseline_days <= baseline_days ({self.baseline_days})")
        return self


class ResourceExhaustionConfig(_Section):
    """Two halves. A backend's: >= min_count jobs failing with error_class resource (a
    simulator without the memory for them, Aer's "Insufficient memory") within
    window_s, one alert per backend. qsre's own, from the daemon's HealthSnapshot:
    spool at >= spool_full_ratio of its limit, >= recorder_errors recent recorder
    failures, or the store unreachable."""

    window_s: float = Field(default=1800.0, gt=0)
    # One oversized circuit is its submitter's problem; a backend that keeps running
    # out of memory (a leaking host, a co-tenant) is the platform's.
    min_count: int = Field(default=3, ge=1)
    spool_full_ratio: float = Field(default=0.8, gt=0, le=1)
    recorder_errors: int = Field(default=10, ge=1)


class ValidationSignalConfig(_Section):
    """Findings of the latest evaluated validation run of each backend; a latest run
    older than max_age_s no longer raises anything (validation stopped)."""

    max_age_s: float = Field(default=3 * 86400.0, gt=0)
    # How many recent rows per backend are searched for the latest evaluated run (runs
    # made only of failed jobs are skipped, so an outage does not clear the finding).
    scan_rows: int = Field(default=256, ge=1, le=100_000)


class SignalConfig(BaseModel):
    """All signal thresholds. ``SignalConfig()`` is the documented default."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    auth_failure: AuthFailureConfig = Field(default_factory=AuthFailureConfig)
    result_corruption: ResultCorruptionConfig = Field(default_factory=ResultCorruptionConfig)
    quota_breach: QuotaBreachConfig = Field(default_factory=QuotaBreachConfig)
    network_blips: NetworkBlipsConfig = Field(default_factory=NetworkBlipsConfig)
    queue_overload: QueueOverloadConfig = Field(default_factory=QueueOverloadConfig)
    backend_down: BackendDownConfig = Field(default_factory=BackendDownConfig)
    billing_spike: BillingSpikeConfig = Field(default_factory=BillingSpikeConfig)
    resource_exhaustion: ResourceExhaustionConfig = Field(default_factory=ResourceExhaustionConfig)
    calibration_drift: ValidationSignalConfig = Field(default_factory=ValidationSignalConfig)
    simulator_divergence: ValidationSignalConfig = Field(default_factory=ValidationSignalConfig)

    @classmethod
    def from_mapping(
        cls, data: Mapping[str, Any] | None, where: str = "qsre.yaml: alerting.signals"
    ) -> SignalConfig:
        """Validate the parsed ``alerting.signals`` section (None = all defaults).

        ``where`` is ``"<file>: <path>"``; errors read
        ``qsre.yaml: alerting.signals.network_blips.min_ratio: expected ..., got 1.5``.
        """
        file, _, prefix = where.partition(": ")
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise SignalConfigError(file, prefix or "signals", "a mapping of signal sections", data)
        try:
            return cls.model_validate(dict(data))
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = ".".join(str(p) for p in err["loc"])
            path = f"{prefix}.{loc}" if prefix else loc
            if err["type"] == "extra_forbidden":
                parent = cls if len(err["loc"]) == 1 else _section_model(str(err["loc"][0]))
                expected = f"one of the keys {sorted(parent.model_fields)}"
            else:
                # pydantic says "Input should be <x>"; the message reads "expected <x>".
                expected = err["msg"].removeprefix("Value error, ")
                expected = expected.removeprefix("Input should be ")
            raise SignalConfigError(file, path, expected, err.get("input")) from None


def _section_model(name: str) -> type[BaseModel]:
    field = SignalConfig.model_fields.get(name)
    annotation = field.annotation if field is not None else None
    return annotation if isinstance(annotation, type) else SignalConfig
