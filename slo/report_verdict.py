"""The verdict of the week: what needs attention, worst first, each pointing at its section.

Plain sentences (no markup): the HTML page escapes them, the Markdown summary makes
them Slack-safe. Scores only order the candidates; one item per section comes first,
so the three items shown are three different things.
"""

from __future__ import annotations

from dataclasses import dataclass

from slo.report_data import ReportData

__all__ = ["ATTENTION_ITEMS", "AttentionItem", "attention_items", "fmt_duration"]

ATTENTION_ITEMS = 3
STALE_CALIBRATION_HOURS = 48.0


@dataclass(frozen=True)
class AttentionItem:
    text: str
    section: str  # the HTML anchor of the section that explains it
    score: float


def _pct(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{100 * value:.{digits}f} %"


def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 3 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def _candidates(data: ReportData) -> list[AttentionItem]:
    out: list[AttentionItem] = []
    for s in data.slos:
        left = s.budget_remaining_ratio
        if left is not None and left < 0:
            change = (
                f", from {_pct(s.budget_remaining_week_start_ratio, 0)} a week earlier"
                if s.budget_remaining_week_start_ratio is not None
                else ""
            )
            out.append(
                AttentionItem(
                    f"SLO {s.name}: error budget overspent, {_pct(left, 0)} left{change}",
                    "slos",
                    100 + min(-left, 50.0),
                )
            )
        elif s.firing:
            out.append(
                AttentionItem(
                    f"SLO {s.name} is burning its budget ({', '.join(s.firing)} firing)",
                    "slos",
                    90,
                )
            )
        elif s.met is False:
            out.append(
                AttentionItem(
                    f"SLO {s.name} below its objective: {_pct(s.attainment, 3)} "
                    f"for {_pct(s.objective, 3)}",
                    "slos",
                    80,
                )
            )
    open_incidents = [i for i in data.alerts.incidents if i.resolved_at is None]
    if open_incidents:
        worst = open_incidents[0]  # incidents are sorted pages first
        more = f" and {len(open_incidents) - 1} more" if len(open_incidents) > 1 else ""
        out.append(
            AttentionItem(
                f"{len(open_incidents)} incident(s) still open at week end: "
                f"{worst.alertname} on {worst.subject or 'all'} for "
                f"{fmt_duration(worst.open_seconds_at_week_end)}{more}",
                "incidents",
                88 if worst.severity == "page" else 70,
            )
        )
    for e in data.fidelity.episodes:
        what = "drifts" if e.verdict == "drift" else "diverges from its simulator"
        if e.latched_until is None:
            effect = "" if e.effect_tvd is None else f", effect TVD {e.effect_tvd:.2f}"
            out.append(
                AttentionItem(
                    f"{e.backend} {what} since {e.first_detected_at:%a %H:%M}, still open: "
                    f"{len(e.circuits)} circuit(s){effect}; likely cause: {e.attribution}",
                    "validation",
                    85,
                )
            )
    for b in data.cost.budgets:
        if b.week_budget_usd > 0 and data.totals.spend_usd > b.week_budget_usd:
            over = data.totals.spend_usd / b.week_budget_usd - 1
            out.append(
                AttentionItem(
                    f"Spend ${data.totals.spend_usd:,.0f} is {100 * over:.0f} % over the "
                    f"weekly share of {b.slo}'s budget (${b.week_budget_usd:,.0f})",
                    "cost",
                    75 + min(over * 10, 10),
                )
            )
    for a in data.cost.anomalies[:1]:
        out.append(
            AttentionItem(
                f"Spend spike: {a.project} ${a.spend_usd:,.2f} on {a.day} "
                f"(median day ${a.baseline_median_usd:,.2f})",
                "cost",
                65,
            )
        )
    for c in data.calibration:
        age = c.age_hours_at_week_end
        if age is not None and age > STALE_CALIBRATION_HOURS:
            out.append(
                AttentionItem(
                    f"{c.backend}: calibration {age:.0f} h old at week end",
                    "calibration",
                    40,
                )
            )
    return out


def attention_items(data: ReportData, limit: int = ATTENTION_ITEMS) -> tuple[AttentionItem, ...]:
    """The ``limit`` most pressing items, one per section before a second from any."""
    ranked = sorted(_candidates(data), key=lambda i: -i.score)
    first: list[AttentionItem] = []
    rest: list[AttentionItem] = []
    seen: set[str] = set()
    for item in ranked:
        (rest if item.section in seen else first).append(item)
        seen.add(item.section)
    return tuple(sorted((first + rest)[:limit], key=lambda i: -i.score))
