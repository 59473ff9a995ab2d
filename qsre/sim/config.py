"""YAML-shaped configuration of simulated backends: noise, drift and injected faults.

Times are either aware ISO datetimes or offsets like ``"+2d6h"`` / ``"+90m"`` /
``"+30s"`` from the world's start (``build_sim_backend(..., start=)``; default: the
clock's time when the backend is built). ``SimBackendConfig.model_validate(data)``
raises pydantic's ValidationError, whose messages carry the field path (for example
``faults.0.transient.probability``) and what was expected.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from collector.clock import Clock
from qsre.sim.errors import SimConfigError
from qsre.sim.noise_params import NoiseParam, NoiseParams

_OFFSET = re.compile(r"^\+(?:(\d+(?:\.\d+)?)([dhms]))+$")
_OFFSET_PART = re.compile(r"(\d+(?:\.\d+)?)([dhms])")
_UNIT_SECONDS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}

TimeRef = datetime | str


def _check_time_ref(value: Any) -> Any:
    if isinstance(value, str) and value.startswith("+"):
        if not _OFFSET.match(value):
            raise ValueError(f"offset {value!r} must look like '+2d6h', '+90m' or '+30s'")
        return value
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError as exc:
            raise ValueError(
                f"{value!r} is neither an ISO datetime nor a '+<n>d/h/m/s' offset"
            ) from exc
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"datetime {value.isoformat()} must be timezone-aware (e.g. end in Z)")
        return value
    raise ValueError(f"expected an aware datetime or a '+2d6h' offset, got {value!r}")


def resolve_time(value: TimeRef, start: datetime) -> datetime:
    """An absolute aware datetime for a time reference, offsets counted from ``start``."""
    if isinstance(value, datetime):
        return value
    seconds = sum(float(n) * _UNIT_SECONDS[u] for n, u in _OFFSET_PART.findall(value))
    return start + timedelta(seconds=seconds)


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("at", "start", "end", mode="before", check_fields=False)
    @classmethod
    def _time_ref(cls, value: Any) -> Any:
        return value if value is None else _check_time_ref(value)

    def resolved(self, start: datetime) -> Any:
        """A copy with every time reference made absolute."""
        updates = {
            name: resolve_time(getattr(self, name), start)
            for name in ("at", "start", "end")
            if name in type(self).model_fields and getattr(self, name) is not None
        }
        return self.model_copy(update=updates)


class StepDrift(_Spec):
    """At ``at`` the parameter jumps to ``to``. A reported step triggers a recalibration."""

    kind: Literal["step"] = "step"
    param: NoiseParam
    at: TimeRef
    to: float
    reported: bool = True


class RampDrift(_Spec):
    """From ``start`` to ``end`` the parameter moves linearly to ``to``."""

    kind: Literal["ramp"] = "ramp"
    param: NoiseParam
    start: TimeRef
    end: TimeRef
    to: float
    reported: bool = True


class PeriodicDrift(_Spec):
    """From ``start`` the parameter oscillates: + amplitude * sin(2 pi t / period)."""

    kind: Literal["periodic"] = "periodic"
    param: NoiseParam
    start: TimeRef = "+0s"
    amplitude: float
    period_s: float = Field(gt=0)
    reported: bool = False


DriftSpec = Annotated[StepDrift | RampDrift | PeriodicDrift, Field(discriminator="kind")]


class _Window(_Spec):
    start: TimeRef
    end: TimeRef | None = Field(default=None, description="exclusive; None = never ends")

    @model_validator(mode="after")
    def _end_after_start(self) -> _Window:
        s, e = self.start, self.end
        if isinstance(s, datetime) and isinstance(e, datetime) and e <= s:
            raise ValueError(f"end {e.isoformat()} must be after start {s.isoformat()}")
        return self

    def active(self, when: datetime) -> bool:
        """True inside [start, end). Only meaningful once resolved."""
        assert isinstance(self.start, datetime)
        return self.start <= when and (self.end is None or when < self.end)  # type: ignore[operator]


class QueueDelayFault(_Window):
    """Jobs submitted in the window wait ``extra_queue_seconds`` more (virtual time)."""

    kind: Literal["queue_delay"] = "queue_delay"
    extra_queue_seconds: float = Field(gt=0)


class TransientFault(_Window):
    """With ``probability``, a 503: raised by run() (``when: submit``) or by result()."""

    kind: Literal["transient"] = "transient"
    probability: float = Field(default=1.0, gt=0, le=1)
    when: Literal["submit", "result"] = "submit"


class AuthFault(_Window):
    """Every run() raises 401 Unauthorized."""

    kind: Literal["auth"] = "auth"


class OutageFault(_Window):
    """The backend is down: run(), status() and result() all fail."""

    kind: Literal["outage"] = "outage"


class FirmwareBugFault(_Window):
    """Circuits with at least ``min_gate_count`` ``gate``s get an extra coherent RX
    rotation after each of them in the actual simulation; calibration is unchanged."""

    kind: Literal["firmware_bug"] = "firmware_bug"
    gate: str = "cx"
    min_gate_count: int = Field(default=4, ge=1)
    rotation_rad: float = Field(default=0.25, gt=0, le=3.15)


class CorruptResultFault(_Window):
    """With ``probability``, counts lose shots (``drop_shots``) or gain a bit (``wrong_width``)."""

    kind: Literal["corrupt_result"] = "corrupt_result"
    probability: float = Field(default=1.0, gt=0, le=1)
    mode: Literal["drop_shots", "wrong_width"] = "drop_shots"


class OutOfMemoryFault(_Window):
    """With ``probability``, a job with a circuit of at least ``min_qubits`` qubits fails
    as Aer fails one its host has no memory for ("Insufficient memory to run circuit"):
    the job is accepted, then ends in ERROR and result() raises (error class
    resource). A leaking co-tenant on the simulator host, for instance."""

    kind: Literal["out_of_memory"] = "out_of_memory"
    probability: float = Field(default=1.0, gt=0, le=1)
    min_qubits: int = Field(default=1, ge=1)


FaultSpec = Annotated[
    QueueDelayFault
    | TransientFault
    | AuthFault
    | OutageFault
    | FirmwareBugFault
    | CorruptResultFault
    | OutOfMemoryFault,
    Field(discriminator="kind"),
]


class NoiseConfig(BaseModel):
    """Base noise of a simulated device (see ``qsre.sim.noise.NoiseParams``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sq_error: float = Field(default=5e-4, ge=0, le=0.5)
    cx_error: float = Field(default=1e-2, ge=0, le=0.75)
    readout_error: float = Field(default=2e-2, ge=0, le=0.5)
    t1_us: float = Field(default=120.0, gt=0)
    t2_us: float = Field(default=90.0, gt=0)

    def params(self) -> NoiseParams:
        return NoiseParams(**self.model_dump())


class SimBackendConfig(BaseModel):
    """One ``backends:`` entry with ``kind: sim``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    kind: Literal["sim"] = "sim"
    num_qubits: int = Field(default=5, ge=1, le=12)
    seed: int = 0
    noise: NoiseConfig = Field(default_factory=NoiseConfig)
    drift: tuple[DriftSpec, ...] = ()
    faults: tuple[FaultSpec, ...] = ()
    calibration_interval_s: float = Field(default=86400.0, gt=0)
    calibration_offset_s: float = Field(default=0.0, ge=0)
    queue_seconds: float = Field(default=2.0, ge=0)
    shot_seconds: float = Field(default=2e-4, ge=0)
    overhead_seconds: float = Field(default=1.0, ge=0)
    # Keys of a backends: entry that other parts of qsre read (cost, quotas, auth).
    pricing: dict[str, Any] | None = None
    quotas: dict[str, Any] | None = None
    token_env: str | None = None


def build_sim_backend(
    config: SimBackendConfig | dict[str, Any], clock: Clock, start: datetime | None = None
) -> Any:
    """A :class:`qsre.sim.backend.SimBackend` for a config; offsets count from ``start``."""
    from qsre.sim.backend import SimBackend  # backend imports this module's spec types

    if not isinstance(config, SimBackendConfig):
        config = SimBackendConfig.model_validate(config)
    start = start or clock.now()
    if start.tzinfo is None:
        raise SimConfigError("start", start, "a timezone-aware datetime")
    return SimBackend(
        config.name,
        num_qubits=config.num_qubits,
        clock=clock,
        seed=config.seed,
        noise=config.noise.params(),
        drift=[d.resolved(start) for d in config.drift],
        faults=[f.resolved(start) for f in config.faults],
        calibration_interval_s=config.calibration_interval_s,
        calibration_offset_s=config.calibration_offset_s,
        queue_seconds=config.queue_seconds,
        shot_seconds=config.shot_seconds,
        overhead_seconds=config.overhead_seconds,
    )
