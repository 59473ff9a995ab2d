"""Noise parameters as a function of time: base values plus drift specs."""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from qsre.sim.config import PeriodicDrift, RampDrift, StepDrift
from qsre.sim.noise_params import NoiseParams

Drift = StepDrift | RampDrift | PeriodicDrift
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def params_at(base: NoiseParams, drifts: Iterable[Drift], when: datetime) -> NoiseParams:
    """Parameters at ``when``: drifts apply in order, each to the value left by the
    previous ones (a ramp starts from whatever the parameter was at its start)."""
    params = base
    for d in drifts:
        current = getattr(params, d.param)
        if isinstance(d, StepDrift):
            if when >= d.at:  # type: ignore[operator]
                params = params.with_value(d.param, d.to)
        elif isinstance(d, RampDrift):
            if when >= d.start:  # type: ignore[operator]
                span_s = (d.end - d.start).total_seconds()  # type: ignore[operator]
                done = 1.0 if span_s <= 0 else min(1.0, (when - d.start).total_seconds() / span_s)  # type: ignore[operator]
                params = params.with_value(d.param, current + (d.to - current) * done)
        elif when >= d.start:  # type: ignore[operator]
            phase = 2 * math.pi * (when - d.start).total_seconds() / d.period_s  # type: ignore[operator]
            params = params.with_value(d.param, current + d.amplitude * math.sin(phase))
    return params


def last_calibration(
    when: datetime,
    interval_s: float,
    offset_s: float,
    drifts: Iterable[Drift],
) -> datetime:
    """Time of the most recent recalibration at or before ``when``.

    Recalibrations happen every ``interval_s`` (aligned to the Unix epoch plus
    ``offset_s``, so the default is daily at 00:00 UTC) and at every reported step.
    """
    since_s = (when - _EPOCH).total_seconds() - offset_s
    periodic = _EPOCH + timedelta(seconds=math.floor(since_s / interval_s) * interval_s + offset_s)
    latest = periodic
    for d in drifts:
        if isinstance(d, StepDrift) and d.reported and latest < d.at <= when:  # type: ignore[operator]
            latest = d.at  # type: ignore[assignment]
    return latest
