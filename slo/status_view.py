"""The ``qsre slo status`` table: one row per SLO from ``SLOStatus`` values."""

from __future__ import annotations

from collections.abc import Iterable

from rich.table import Table
from rich.text import Text

from slo.engine import SLOStatus, format_duration_s


def format_status_table(statuses: Iterable[SLOStatus]) -> Table:
    """A rich Table: SLI attainment, budget left (ratio and time), burn rates, firing."""
    table = Table(title="SLO status", header_style="bold")
    for name, justify in (
        ("SLO", "left"),
        ("SLI kind", "left"),
        ("objective", "right"),
        ("SLI", "right"),
        ("events", "right"),
        ("budget left", "right"),
        ("time left", "right"),
        ("burn rates", "left"),
        ("firing", "left"),
        ("notes", "left"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for s in statuses:
        sli = "-" if s.sli_ratio is None else f"{s.sli_ratio:.4%}"
        if s.spend_usd is not None:
            sli = f"${s.spend_usd:,.2f} spent"
        budget = Text(f"{s.budget_remaining_ratio:.1%}")
        if s.budget_remaining_ratio < 0:
            budget.stylize("bold red")
        elif s.budget_remaining_ratio < 0.25:
            budget.stylize("yellow")
        rates = " ".join(f"{w} {'-' if r is None else f'{r:.2f}'}" for w, r in s.burn_rates.items())
        firing = Text(", ".join(s.firing) or "-", style="bold red" if s.firing else "")
        table.add_row(
            s.name,
            s.sli_kind,
            f"{s.objective:g}",
            sli,
            "-" if s.spend_usd is not None else f"{s.total:,.0f}",
            budget,
            format_duration_s(s.budget_remaining_seconds),
            rates,
            firing,
            "; ".join(s.notes),
        )
    return table
