"""One dashboard per SLO: SLI vs objective, burn rate per alert window, budget burn-down.

Depends only on four attributes of an SLO object (duck typed, see `SLOLike`), and on
the Sloth-style recording rules slo/rules.py generates. Which burn windows and factors
to draw comes in as data (`BurnPolicy`); for slo.spec's model, `policy_for_slo` derives
it exactly as slo/rules.py does (period window named after the SLO's window, factors
from the SLO's policy file), so every panel names a recording rule that exists.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from grafanalib.core import Dashboard

from dashboards.errors import DashboardSpecError
from dashboards.panels import GREEN, RED, YELLOW, Layout, Query, dashboard, stat, text, timeseries
from slo.errors import PolicyError
from slo.policy import get_policy
from slo.rules import skip_reason
from slo.spec import SLO
from slo.windows import factor_period_s, prom_duration

_SLUG = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
_WINDOW = re.compile(r"^[0-9]+[smhdw]$")
# Grafana's dashboard uid is limited to 40 characters.
_MAX_UID = 40


class SLOLike(Protocol):
    """What this module needs from an SLO (slo.spec's model satisfies it)."""

    @property
    def name(self) -> str: ...
    @property
    def objective(self) -> float: ...
    @property
    def description(self) -> str: ...
    @property
    def policy(self) -> str: ...


@dataclass(frozen=True)
class BurnWindow:
    """One multi-window alert: fire when both windows burn faster than `factor`."""

    severity: str
    long_window: str
    short_window: str
    factor: float

    def __post_init__(self) -> None:
        for name in ("long_window", "short_window"):
            value = getattr(self, name)
            if not _WINDOW.match(value):
                raise DashboardSpecError(f"BurnWindow.{name}", value, "a duration like 5m, 1h, 3d")
        if not self.factor > 0:
            raise DashboardSpecError("BurnWindow.factor", self.factor, "a positive burn factor")


@dataclass(frozen=True)
class BurnPolicy:
    """The SLO period (recording-rule suffix, e.g. 30d) and the alert windows drawn."""

    period: str
    windows: tuple[BurnWindow, ...]

    def __post_init__(self) -> None:
        if not _WINDOW.match(self.period):
            raise DashboardSpecError("BurnPolicy.period", self.period, "a duration like 30d or 28d")


# Burn factors for a 30-day period, matching slo/policies/*.yaml by name (sre-workbook:
# Google SRE Workbook / Sloth; two-four: fixed 4x page, 2x ticket). Used only for SLO
# objects without a `window` (duck-typed stand-ins); slo.spec's SLOs go through
# `policy_for_slo`, which knows their period.
DEFAULT_POLICIES: Mapping[str, BurnPolicy] = {
    "sre-workbook": BurnPolicy(
        period="30d",
        windows=(
            BurnWindow("page", "1h", "5m", 14.4),
            BurnWindow("page", "6h", "30m", 6.0),
            BurnWindow("ticket", "1d", "2h", 3.0),
            BurnWindow("ticket", "3d", "6h", 1.0),
        ),
    ),
    "sre-workbook-28d": BurnPolicy(
        period="28d",
        windows=(
            BurnWindow("page", "1h", "5m", 13.44),
            BurnWindow("page", "6h", "30m", 5.6),
            BurnWindow("ticket", "1d", "2h", 2.8),
            BurnWindow("ticket", "3d", "6h", 0.933),
        ),
    ),
    "two-four": BurnPolicy(
        period="30d",
        windows=(BurnWindow("page", "1h", "5m", 4.0), BurnWindow("ticket", "6h", "30m", 2.0)),
    ),
}


def policy_for_slo(slo: SLOLike) -> BurnPolicy | None:
    """The windows and factors the generated rules alert on for `slo`.

    An SLO with a `window` (slo.spec's model) gets its policy from slo.policy and its
    period from slo.windows, named as slo/rules.py names the period recording rule
    (``_rate7d`` for a 7-day or calendar-week SLO). Other objects fall back to
    DEFAULT_POLICIES by policy name. None when the policy is unknown.
    """
    window = getattr(slo, "window", None)
    if window is None:
        return DEFAULT_POLICIES.get(slo.policy)
    try:
        policy = get_policy(slo.policy)
    except PolicyError:
        return None
    period_s = factor_period_s(window)
    return BurnPolicy(
        period=prom_duration(period_s),
        windows=tuple(
            BurnWindow(
                tier.severity,
                prom_duration(pair.long_s),
                prom_duration(pair.short_s),
                pair.factor(period_s),
            )
            for tier in policy.tiers
            for pair in tier.pairs
        ),
    )


def dashboard_uid(slo_name: str) -> str:
    """A stable Grafana uid for an SLO's dashboard (hashed when the name is too long)."""
    uid = f"qsre-slo-{slo_name}"
    if len(uid) <= _MAX_UID:
        return uid
    digest = hashlib.sha256(slo_name.encode()).hexdigest()[:8]
    return f"{uid[: _MAX_UID - 9]}-{digest}"


def _check(slo: SLOLike) -> None:
    if not isinstance(slo.name, str) or not _SLUG.match(slo.name):
        raise DashboardSpecError("slo.name", slo.name, "a lowercase slug like 'job-success'")
    if not 0 < slo.objective < 1:
        raise DashboardSpecError(f"slo[{slo.name}].objective", slo.objective, "a ratio in (0, 1)")


def _num(value: float) -> str:
    # 1 - 0.999 is 0.0010000000000000009 in binary floating point; print what the user wrote.
    return f"{value:.10g}"


def build(slo: SLOLike, policy: BurnPolicy, datasource_uid: str) -> Dashboard:
    """The detail dashboard for one SLO under `policy`.

    An SLO for which slo/rules.py generates no recording rules (tag filters,
    Timeslices, ...) is drawn from the qsre engine's gauges instead.
    """
    _check(slo)
    reason = skip_reason(slo) if isinstance(slo, SLO) else None
    if reason is not None:
        return _build_from_engine(slo, policy, datasource_uid, reason)
    sel = f'{{slo="{slo.name}"}}'
    budget = _num(1 - slo.objective)

    def error_ratio(window: str) -> str:
        return f"slo:sli_error:ratio_rate{window}{sel}"

    def burn(window: str) -> str:
        return f"{error_ratio(window)} / {budget}"

    layout = Layout()
    windows = ", ".join(
        f"{w.severity} at {_num(w.factor)}× over {w.long_window}/{w.short_window}"
        for w in policy.windows
    )
    text(
        layout,
        f"SLO {slo.name}",
        f"{slo.description}\n\n**Objective** {_num(slo.objective * 100)} % over "
        f"{policy.period} · **policy** `{slo.policy}` ({windows})",
    )
    stat(
        layout,
        f"SLI over {policy.period}",
        [Query(f"1 - {error_ratio(policy.period)}", "SLI")],
        unit="percentunit",
        decimals=3,
        thresholds=[(None, RED), (slo.objective, GREEN)],
        w=8,
    )
    stat(
        layout,
        "Error budget remaining",
        [Query(f"slo:period_error_budget_remaining:ratio{sel}", "remaining")],
        unit="percentunit",
        thresholds=[(None, RED), (0.25, YELLOW), (0.5, GREEN)],
        w=8,
    )
    stat(
        layout,
        "Current burn rate",
        [Query(f"slo:current_burn_rate:ratio{sel}", "burn")],
        decimals=2,
        thresholds=[(None, GREEN), (1, YELLOW), (max(w.factor for w in policy.windows), RED)],
        w=8,
    )
    timeseries(
        layout,
        "SLI vs objective",
        [
            Query(f"1 - {error_ratio('1h')}", "SLI (1h)"),
            Query(f"1 - {error_ratio(policy.period)}", f"SLI ({policy.period})"),
            Query(f"slo:objective:ratio{sel}", "objective"),
        ],
        unit="percentunit",
        thresholds=[(None, RED), (slo.objective, GREEN)],
        w=24,
    )
    for w in policy.windows:
        timeseries(
            layout,
            f"Burn rate {w.long_window} / {w.short_window} ({w.severity} at {_num(w.factor)}×)",
            [
                Query(burn(w.long_window), f"{w.long_window} window"),
                Query(burn(w.short_window), f"{w.short_window} window"),
            ],
            thresholds=[(None, GREEN), (w.factor, RED)],
            description=f"Alert fires ({w.severity}) while both windows are above {_num(w.factor)}.",
        )
    timeseries(
        layout,
        "Error budget burn-down",
        [
            Query(f"slo:period_error_budget_remaining:ratio{sel}", "remaining (Prometheus rules)"),
            Query(f"qsre_slo_error_budget_remaining_ratio{sel}", "remaining (qsre engine)"),
        ],
        unit="percentunit",
        thresholds=[(None, RED), (0, YELLOW), (0.25, GREEN)],
        w=24,
    )
    return dashboard(
        uid=dashboard_uid(slo.name),
        title=f"qsre SLO: {slo.name}",
        description=slo.description or f"SLO {slo.name}",
        tags=["qsre", "slo", slo.name],
        layout=layout,
        datasource_uid=datasource_uid,
        with_backend=False,
        time_from="now-7d",
    )


def _build_from_engine(
    slo: SLOLike, policy: BurnPolicy, datasource_uid: str, reason: str
) -> Dashboard:
    """Panels over the engine's qsre_slo_* gauges, for SLOs Prometheus cannot compute."""
    sel = f'{{slo="{slo.name}"}}'
    layout = Layout()
    text(
        layout,
        f"SLO {slo.name}",
        f"{slo.description}\n\n**Objective** {_num(slo.objective * 100)} % over "
        f"{policy.period} · **policy** `{slo.policy}`\n\nNo Prometheus recording rules "
        f"exist for this SLO ({reason}); the numbers below come from the qsre engine.",
    )
    stat(
        layout,
        f"SLI over {policy.period}",
        [Query(f"qsre_slo_sli_ratio{sel}", "SLI")],
        unit="percentunit",
        decimals=3,
        thresholds=[(None, RED), (slo.objective, GREEN)],
        w=12,
    )
    stat(
        layout,
        "Error budget remaining",
        [Query(f"qsre_slo_error_budget_remaining_ratio{sel}", "remaining")],
        unit="percentunit",
        thresholds=[(None, RED), (0.25, YELLOW), (0.5, GREEN)],
        w=12,
    )
    timeseries(
        layout,
        "Burn rate per window (qsre engine)",
        [Query(f"qsre_slo_burn_rate{sel}", "{{window}}")],
        thresholds=[(None, GREEN), (1, YELLOW), (max(w.factor for w in policy.windows), RED)],
        w=24,
    )
    timeseries(
        layout,
        "Error budget burn-down",
        [Query(f"qsre_slo_error_budget_remaining_ratio{sel}", "remaining (qsre engine)")],
        unit="percentunit",
        thresholds=[(None, RED), (0, YELLOW), (0.25, GREEN)],
        w=24,
    )
    return dashboard(
        uid=dashboard_uid(slo.name),
        title=f"qsre SLO: {slo.name}",
        description=slo.description or f"SLO {slo.name}",
        tags=["qsre", "slo", slo.name],
        layout=layout,
        datasource_uid=datasource_uid,
        with_backend=False,
        time_from="now-7d",
    )
