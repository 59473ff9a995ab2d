"""One dashboard per SLO: SLI vs objective, burn rate per alert window, budget burn-down.

Depends only on four attributes of an SLO object (duck typed, see `SLOLike`), and on
the Sloth-style recording rules the SLO engine generates. Which burn windows and factors
to draw comes in as data (`BurnPolicy`), normally the same policy the alert rules use.
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
# Google SRE Workbook / Sloth; two-four: fixed 4x page, 2x ticket). Callers with other
# periods pass their own (build_dashboards accepts a mapping or a per-SLO function).
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
    """The detail dashboard for one SLO under `policy`."""
    _check(slo)
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
