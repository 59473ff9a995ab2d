"""``qsre slo status`` output: a table of at most two lines per SLO, and keyed JSON."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from rich.console import Group
from rich.text import Text

from qsre.cli_tables import Column, fit_table
from slo.engine import SLOStatus, format_duration_s
from slo.windows import parse_duration_s

INCOMPLETE = "incomplete"

STATUS_COLUMNS = (
    Column("SLO", 0),
    Column("budget", 1, "right"),
    Column("SLI", 2, "right"),
    Column("objective", 7, "right"),
    Column("firing", 4),
    Column("burn now", 6, "right"),
    Column("time left", 5, "right"),
    Column("events", 8, "right"),
    Column("notes", 3),
)


def burn_rates_json(status: SLOStatus) -> dict[str, float | str | None]:
    """Burn rate per window, with ``"incomplete"`` where the history is shorter than
    the window (the engine answers None for both that and an empty window)."""
    out: dict[str, float | str | None] = {}
    for window, rate in status.burn_rates.items():
        seconds = parse_duration_s(window)
        incomplete = (
            rate is None
            and status.history_start is not None
            and seconds is not None
            and status.history_start > status.at - timedelta(seconds=seconds)
        )
        out[window] = INCOMPLETE if incomplete else rate
    return out


def status_json(statuses: Sequence[SLOStatus]) -> dict[str, dict[str, Any]]:
    """``{slo name: status}`` for ``--json``."""
    out = {}
    for s in statuses:
        data = s.to_dict()
        data["burn_rates"] = burn_rates_json(s)
        out[s.name] = data
    return out


def status_renderable(statuses: Sequence[SLOStatus], *, width: int, wide: bool) -> Group:
    """The table (name and SLI kind on two lines, one line for the numbers), then each
    distinct note once, numbered, so that long notes do not stretch every row."""
    notes: list[str] = []
    rows = []
    for s in statuses:
        refs = []
        for note in s.notes:
            if note not in notes:
                notes.append(note)
            refs.append(str(notes.index(note) + 1))
        sli = "-" if s.sli_ratio is None else f"{s.sli_ratio:.3%}"
        if s.spend_usd is not None:
            sli = f"${s.spend_usd:,.2f}"
        rows.append(
            [
                f"{s.name}\n{s.sli_kind}",
                f"{s.budget_remaining_ratio:.1%}",
                sli,
                f"{s.objective:g}",
                ", ".join(s.firing) or "-",
                "-" if s.current_burn_rate is None else f"{s.current_burn_rate:.2f}",
                format_duration_s(s.budget_remaining_seconds),
                "-" if s.spend_usd is not None else f"{s.total:,.0f}",
                ",".join(refs) or "-",
            ]
        )
    table = fit_table(
        "SLO status",
        STATUS_COLUMNS,
        rows,
        width=width,
        wide=wide,
        caption="budget: error budget left; burn rates per window: --json",
    )
    footnotes = [Text(f"[{i}] {note}") for i, note in enumerate(notes, start=1)]
    return Group(table, *footnotes)
