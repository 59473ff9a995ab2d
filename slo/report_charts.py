"""Charts of the weekly report: matplotlib (Agg) figures as PNG ``data:`` URIs.

The HTML page embeds them, so it is one self-contained file that can be mailed or
uploaded to Slack. User-provided names (backends, projects, circuits) only reach
legends and tick labels; mathtext is switched off so a ``$`` in a name is text, not
a formula that could fail to parse.
"""

from __future__ import annotations

import base64
import io
from collections import defaultdict
from collections.abc import Callable

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from slo.report_data import ReportData  # noqa: E402

_RC = {"text.parse_math": False, "font.size": 8, "axes.titlesize": 9, "figure.dpi": 90}
MAX_SERIES = 8  # more lines than this is unreadable; the tables carry the rest


def _data_uri(fig: Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _short(day: str) -> str:
    return day[5:]  # MM-DD


def _slo_burn_down(data: ReportData) -> Figure:
    fig, ax = plt.subplots(figsize=(7, 3))
    for entry in data.slos[:MAX_SERIES]:
        xs = [p.at for p in entry.burn_down]
        ys = [
            None if p.budget_remaining_ratio is None else 100 * p.budget_remaining_ratio
            for p in entry.burn_down
        ]
        ax.plot(xs, [float("nan") if y is None else y for y in ys], marker="o", label=entry.name)
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_ylabel("error budget left (%)")
    ax.set_title("Error budget burn-down")
    if data.slos:
        ax.legend(loc="best", fontsize=7)
    fig.autofmt_xdate()
    return fig


def _fidelity(data: ReportData) -> Figure:
    series: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
    for p in data.fidelity.trend:
        if p.mean_fidelity is not None:
            series[(p.backend, p.circuit)][p.day] = p.mean_fidelity
    fig, ax = plt.subplots(figsize=(7, 3))
    days = list(data.week.days)
    for (backend, circuit), values in sorted(series.items())[:MAX_SERIES]:
        ax.plot(
            [_short(d) for d in days],
            [values.get(d, float("nan")) for d in days],
            marker="o",
            label=f"{backend} / {circuit}",
        )
    ax.set_ylabel("mean Hellinger fidelity")
    ax.set_title("Fidelity per reference circuit")
    if series:
        ax.legend(loc="best", fontsize=7)
    return fig


def _latency(data: ReportData, field: str, title: str) -> Figure:
    per_backend: dict[str, dict[str, float]] = defaultdict(dict)
    for row in data.latency:
        value = getattr(row, field)
        if value is not None:
            per_backend[row.backend][row.day] = value
    fig, ax = plt.subplots(figsize=(7, 3))
    days = list(data.week.days)
    for backend, values in sorted(per_backend.items())[:MAX_SERIES]:
        ax.plot(
            [_short(d) for d in days],
            [values.get(d, float("nan")) for d in days],
            marker="o",
            label=backend,
        )
    ax.set_ylabel("seconds")
    ax.set_title(title)
    if per_backend:
        ax.legend(loc="best", fontsize=7)
    return fig


def _spend(data: ReportData, dimension: str, title: str) -> Figure:
    totals = {
        "backend": data.cost.by_backend,
        "project": data.cost.by_project,
        "tag": data.cost.by_tag,
    }[dimension]
    keep = [t.key for t in totals[:MAX_SERIES]]
    per_key: dict[str, dict[str, float]] = defaultdict(dict)
    other: dict[str, float] = defaultdict(float)
    for row in data.cost.daily:
        if row.dimension != dimension:
            continue
        if row.key in keep:
            per_key[row.key][row.day] = row.spend_usd
        else:
            other[row.day] += row.spend_usd
    fig, ax = plt.subplots(figsize=(7, 3))
    days = list(data.week.days)
    x = [_short(d) for d in days]
    bottom = [0.0] * len(days)
    stacks = [(k, per_key[k]) for k in keep] + ([("other", dict(other))] if other else [])
    for key, values in stacks:
        heights = [values.get(d, 0.0) for d in days]
        ax.bar(x, heights, bottom=bottom, label=key)
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    ax.set_ylabel("USD")
    ax.set_title(title)
    if stacks:
        ax.legend(loc="best", fontsize=7)
    return fig


CHARTS: dict[str, tuple[str, Callable[[ReportData], Figure]]] = {
    "slo_burn_down": ("Error budget burn-down", _slo_burn_down),
    "fidelity_trend": ("Fidelity per reference circuit", _fidelity),
    "queue_p95": (
        "Queue time p95 per day",
        lambda d: _latency(d, "queue_p95_seconds", "Queue time p95 per day"),
    ),
    "e2e_p95": (
        "End-to-end latency p95 per day",
        lambda d: _latency(d, "e2e_p95_seconds", "End-to-end latency p95 per day"),
    ),
    "spend_by_backend": (
        "Daily spend by backend",
        lambda d: _spend(d, "backend", "Daily spend by backend (USD)"),
    ),
    "spend_by_project": (
        "Daily spend by project",
        lambda d: _spend(d, "project", "Daily spend by project (USD)"),
    ),
}


def render_charts(data: ReportData) -> dict[str, str]:
    """Chart name -> ``data:image/png;base64,...`` for every chart in ``CHARTS``."""
    with matplotlib.rc_context(_RC):
        return {name: _data_uri(build(data)) for name, (_, build) in CHARTS.items()}
