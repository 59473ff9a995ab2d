"""What a job costs: per-backend pricing, estimates for quota guards, budgets, spend.

Pricing model (all parts optional, default 0):

    charge = per_job + per_circuit * circuits + per_shot * shots * circuits
             + per_second * run_seconds
    cost   = max(charge, minimum_per_job)

``shots`` is shots per circuit (what ``backend.run(circuits, shots=N)`` asks for), so a
job of 3 circuits at 1000 shots is billed for 3000 shots; ``circuits`` is at least 1.
``per_circuit`` is the per-task fee of providers that bill each circuit as a task.
``run_seconds`` is the execution ("quantum") time the provider reports.

Currency: prices are written in ``currency`` (default ``USD``). Any other currency
needs ``usd_per_unit`` (how many US dollars one unit is worth, e.g. ``1.08`` for EUR);
a non-USD price without a rate is rejected rather than silently taken as dollars.
``Pricing`` holds the converted US-dollar prices, so every cost qsre records, exports
and reports is in USD.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import and_, func, or_, select

from collector.clock import as_utc
from collector.errors import CollectorError, InvalidInput
from collector.schema import TERMINAL_STATUSES, JobRow

Period = Literal["day", "week", "month"]
PERIODS: tuple[str, ...] = ("day", "week", "month")

# Statuses whose recorded cost counts as spend: every terminal one. A provider may bill
# a job that failed or was cancelled after it ran; the proxy records cost_usd from what
# actually ran (0 when nothing did), so summing terminal rows counts exactly what was
# recorded. Queued/running rows are left out: their cost is not final, and quota
# guards add their own estimate for in-flight work.
SPEND_STATUSES: tuple[str, ...] = TERMINAL_STATUSES

_PRICE_KEYS = ("per_shot", "per_job", "per_circuit", "per_second", "minimum_per_job")
_CONFIG_KEYS = (*_PRICE_KEYS, "currency", "usd_per_unit", "seconds_per_shot")


class PricingError(CollectorError, ValueError):
    """A pricing or budget configuration is invalid; the message names where and why."""


def _number(config: Mapping[str, Any], key: str, where: str, default: float) -> float:
    value = config.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PricingError(f"{where}.{key}={value!r}: expected a non-negative number")
    value = float(value)
    if not math.isfinite(value) or value < 0:
        raise PricingError(f"{where}.{key}={value!r}: expected a finite number >= 0")
    return value


def _check_unknown(config: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
    if not isinstance(config, Mapping):
        raise PricingError(f"{where}={config!r}: expected a mapping")
    unknown = sorted(set(config) - set(allowed))
    if unknown:
        raise PricingError(f"{where}: unknown field(s) {unknown}; expected some of {list(allowed)}")


def _count(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInput(field, value, "an integer >= 0")
    return value


@dataclass(frozen=True, slots=True)
class Pricing:
    """A backend's prices, already converted to US dollars (see module doc)."""

    per_shot_usd: float = 0.0
    per_job_usd: float = 0.0
    per_circuit_usd: float = 0.0
    per_second_usd: float = 0.0
    minimum_job_usd: float = 0.0
    seconds_per_shot: float = 0.0
    currency: str = "USD"
    usd_per_unit: float = 1.0

    def __post_init__(self) -> None:
        for name in (
            "per_shot_usd",
            "per_job_usd",
            "per_circuit_usd",
            "per_second_usd",
            "minimum_job_usd",
            "seconds_per_shot",
            "usd_per_unit",
        ):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise PricingError(f"Pricing.{name}={value!r}: expected a finite number >= 0")

    @property
    def free(self) -> bool:
        return not any(
            (
                self.per_shot_usd,
                self.per_job_usd,
                self.per_circuit_usd,
                self.per_second_usd,
                self.minimum_job_usd,
            )
        )

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None, where: str) -> Pricing:
        """Parse ``{per_shot, per_job, per_circuit, per_second, minimum_per_job, currency,
        usd_per_unit, seconds_per_shot}``; ``where`` is the config path used in errors
        (e.g. ``"qsre.yaml: backends.ibm_brisbane.pricing"``)."""
        if config is None:
            return cls()
        _check_unknown(config, _CONFIG_KEYS, where)
        currency = config.get("currency", "USD")
        if not isinstance(currency, str) or len(currency.strip()) != 3:
            raise PricingError(
                f"{where}.currency={currency!r}: expected a 3-letter currency code such as USD"
            )
        currency = currency.strip().upper()
        if currency == "USD":
            rate = _number(config, "usd_per_unit", where, 1.0)
            if rate != 1.0:
                raise PricingError(
                    f"{where}.usd_per_unit={config['usd_per_unit']!r}: expected 1 (or nothing) "
                    "when currency is USD"
                )
        else:
            if "usd_per_unit" not in config:
                raise PricingError(
                    f"{where}.usd_per_unit: missing; currency {currency} needs a conversion "
                    "rate (US dollars per 1 unit), since qsre records every cost in USD"
                )
            rate = _number(config, "usd_per_unit", where, 0.0)
            if rate == 0:
                raise PricingError(f"{where}.usd_per_unit=0: expected a rate > 0")
        prices = {key: _number(config, key, where, 0.0) * rate for key in _PRICE_KEYS}
        return cls(
            per_shot_usd=prices["per_shot"],
            per_job_usd=prices["per_job"],
            per_circuit_usd=prices["per_circuit"],
            per_second_usd=prices["per_second"],
            minimum_job_usd=prices["minimum_per_job"],
            seconds_per_shot=_number(config, "seconds_per_shot", where, 0.0),
            currency=currency,
            usd_per_unit=rate,
        )


def actual_cost_usd(
    pricing: Pricing, shots: int | None, num_circuits: int, run_seconds: float | None
) -> float:
    """The cost of a job that ran (``run_seconds`` None or unknown counts as 0 s)."""
    shots = _count(shots or 0, "shots")
    circuits = max(1, _count(num_circuits, "num_circuits"))
    seconds = 0.0 if run_seconds is None else float(run_seconds)
    if not math.isfinite(seconds) or seconds < 0:
        raise InvalidInput("run_seconds", run_seconds, "a finite number of seconds >= 0")
    charge = (
        pricing.per_job_usd
        + pricing.per_circuit_usd * circuits
        + pricing.per_shot_usd * shots * circuits
        + pricing.per_second_usd * seconds
    )
    return max(charge, pricing.minimum_job_usd)


def estimate_cost_usd(pricing: Pricing, shots: int | None, num_circuits: int) -> float:
    """The expected cost before submission (for quota and budget guards).

    Execution time is not known yet: it is estimated as ``seconds_per_shot`` times
    the shots billed (``shots * circuits``), 0 by default.
    """
    shots = _count(shots or 0, "shots")
    circuits = max(1, _count(num_circuits, "num_circuits"))
    return actual_cost_usd(pricing, shots, circuits, pricing.seconds_per_shot * shots * circuits)


# ------------------------------------------------------------------------------ budgets
@dataclass(frozen=True, slots=True)
class Budget:
    """A spend limit per calendar period (UTC): ``scope`` is ``"all"``,
    ``"project:NAME"`` or ``"backend:NAME"``."""

    scope: str
    limit_usd: float
    period: Period = "month"

    def __post_init__(self) -> None:
        if self.period not in PERIODS:
            raise PricingError(f"Budget.period={self.period!r}: expected one of {list(PERIODS)}")
        if not math.isfinite(self.limit_usd) or self.limit_usd < 0:
            raise PricingError(f"Budget.limit_usd={self.limit_usd!r}: expected a number >= 0")
        kind, _, name = self.scope.partition(":")
        if self.scope != "all" and (kind not in ("project", "backend") or not name):
            raise PricingError(
                f"Budget.scope={self.scope!r}: expected 'all', 'project:NAME' or 'backend:NAME'"
            )

    @classmethod
    def from_config(cls, config: Mapping[str, Any], where: str) -> Budget:
        """Parse ``{scope, limit_usd, period}``; errors name ``where`` and the field."""
        _check_unknown(config, ("scope", "limit_usd", "period"), where)
        scope = config.get("scope", "all")
        if not isinstance(scope, str):
            raise PricingError(f"{where}.scope={scope!r}: expected a string")
        if "limit_usd" not in config:
            raise PricingError(f"{where}.limit_usd: missing; expected a number of US dollars")
        limit = _number(config, "limit_usd", where, 0.0)
        period = config.get("period", "month")
        if period not in PERIODS:
            raise PricingError(f"{where}.period={period!r}: expected one of {list(PERIODS)}")
        try:
            return cls(scope=scope, limit_usd=limit, period=period)
        except PricingError as exc:
            raise PricingError(f"{where}: {exc}") from exc

    @property
    def project(self) -> str | None:
        kind, _, name = self.scope.partition(":")
        return name if kind == "project" else None

    @property
    def backend(self) -> str | None:
        kind, _, name = self.scope.partition(":")
        return name if kind == "backend" else None

    def period_bounds(self, now: datetime) -> tuple[datetime, datetime]:
        """[start, end) of the calendar period containing ``now`` (UTC; weeks start Monday)."""
        now = as_utc(now)  # type: ignore[assignment]
        day = now.replace(hour=0, minute=0, second=0, microsecond=0)
        if self.period == "day":
            return day, day + timedelta(days=1)
        if self.period == "week":
            start = day - timedelta(days=day.weekday())
            return start, start + timedelta(days=7)
        start = day.replace(day=1)
        end = (
            start.replace(year=start.year + 1, month=1)
            if start.month == 12
            else start.replace(month=start.month + 1)
        )
        return start, end

    def spent_usd(self, store: Any, now: datetime) -> float:
        start, end = self.period_bounds(now)
        return spend_usd(store, since=start, until=end, project=self.project, backend=self.backend)

    def remaining_usd(self, store: Any, now: datetime) -> float:
        """Budget left in the current period (negative when overspent)."""
        return self.limit_usd - self.spent_usd(store, now)


def spend_usd(
    store: Any,
    *,
    since: datetime,
    until: datetime | None = None,
    project: str | None = None,
    backend: str | None = None,
) -> float:
    """SUM(cost_usd) of jobs in ``SPEND_STATUSES`` that finished in [since, until).

    A terminal job with no ``finished_at`` (status ``unknown``) is placed at its
    ``submitted_at``. Runs one aggregate query on the store (indexes on
    ``(backend|project|status, finished_at)``).
    """
    t = JobRow.__table__
    finished_in = t.c.finished_at >= since
    submitted_in = t.c.submitted_at >= since
    if until is not None:
        finished_in = and_(finished_in, t.c.finished_at < until)
        submitted_in = and_(submitted_in, t.c.submitted_at < until)
    q = select(func.coalesce(func.sum(t.c.cost_usd), 0.0)).where(
        t.c.status.in_(SPEND_STATUSES),
        or_(finished_in, and_(t.c.finished_at.is_(None), submitted_in)),
    )
    if project is not None:
        q = q.where(t.c.project == project)
    if backend is not None:
        q = q.where(t.c.backend == backend)
    with store.engine.connect() as conn:
        total = conn.execute(q).scalar_one()
        conn.commit()
    return float(total or 0.0)
