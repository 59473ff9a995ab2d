"""``qsre slo status`` output: a table of at most two lines per SLO, and keyed JSON."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from rich.console import Group
from rich.text import Text

from qsre.cli_tables import Column, fit_table
from slo.engine import SLOEngine, SLOStatus, format_duration_s
from slo.sli import sli_query
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


def status_json(
    statuses: Sequence[SLOStatus], rollups_updated_at: Mapping[str, datetime | None]
) -> dict[str, dict[str, Any]]:
    """``{slo name: status}`` for ``--json``; ``rollups_updated_at`` per SLO name (None:
    computed from the store alone)."""
    out = {}
    for s in statuses:
        data = s.to_dict()
        data["burn_rates"] = burn_rates_json(s)
        updated = rollups_updated_at.get(s.name)
        data["rollups_updated_at"] = updated.isoformat() if updated else None
        out[s.name] = data
    return out


def rollups_updated_at(engine: SLOEngine) -> dict[str, datetime | None]:
    """Per SLO: when the daemon last brought the stored rollups it was read from up
    to date (after a read-only ``engine.evaluate``)."""
    fresh = engine.rollups.freshness
    return {slo.name: fresh.get(sli_query(slo.sli).source) for slo in engine.slos}


def freshness_line(updated: Mapping[str, datetime | None], now: datetime) -> str:
    """One line saying where the numbers come from: nothing here writes the store."""
    times = [t for t in updated.values() if t is not None]
    if not times:
        return (
            "computed from the store: no `qsre run` keeps rollups for these SLOs yet "
            "(nothing was written)"
        )
    age_s = max(0.0, (now - min(times)).total_seconds())
    age = f"{age_s:.0f}s" if age_s < 60 else format_duration_s(age_s)
    partly = "" if len(times) == len(updated) else " for some SLOs"
    return (
        f"rollups kept by `qsre run`{partly}, updated {age} ago; newer minutes read from the store"
    )


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
