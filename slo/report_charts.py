"""Charts of the weekly report: matplotlib (Agg) figures as PNG ``data:`` URIs.

The HTML page embeds them, so it is one self-contained file that can be mailed or
uploaded to Slack. Rules every chart follows:

- one colour per backend, the same in every chart (``backend_colours``);
- every series is drawn (no cap); where series differ in scale (SLO budgets,
  circuits) they get small multiples, each with its own axis;
- legends sit outside the plotting area, axes name their unit;
- a chart with nothing to draw is not drawn (the page says so in words).

User-provided names (backends, projects, circuits) only reach legends, titles and
tick labels; mathtext is switched off so a ``$`` in a name is text, not a formula.
"""

from __future__ import annotations

import base64
import io
import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import FuncFormatter, NullFormatter  # noqa: E402

from slo.report_cost import VALIDATION_PROJECT  # noqa: E402
from slo.report_data import ReportData  # noqa: E402

__all__ = ["CHARTS", "backend_colours", "render_charts"]

_RC = {
    "text.parse_math": False,
    "font.size": 9,
    "axes.titlesize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "figure.dpi": 100,
}
WIDTH_IN = 12.5  # ~1250 px: the page's content width at 1400 px
_PALETTE = [
    "#4477AA", "#EE6677", "#228833", "#CCBB44", "#66CCEE", "#AA3377", "#BBBBBB",
    "#000000", "#EE7733", "#0077BB", "#33BBEE", "#EE3377", "#CC3311", "#009988",
]  # fmt: skip
# Projects are another dimension than backends: their own palette (grey is the
# validation project, the cost of watching).
_PROJECT_PALETTE = ["#0077BB", "#EE7733", "#009988", "#CC3311", "#33BBEE", "#EE3377", "#DDAA33"]
_OVER = "#b00020"
_NEUTRAL = "#4477AA"


def _data_uri(fig: Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def backend_colours(data: ReportData) -> dict[str, str]:
    """Backend -> colour, stable for the whole report (sorted names, fixed palette;
    past 14 backends, evenly spaced hues)."""
    names = list(data.backends)
    if len(names) <= len(_PALETTE):
        return dict(zip(names, _PALETTE, strict=False))
    cmap = matplotlib.colormaps["hsv"]
    return {n: matplotlib.colors.to_hex(cmap(i / len(names))) for i, n in enumerate(names)}


def _short(day: str) -> str:
    return day[5:]  # MM-DD


def _grid(n: int, cols: int, row_height_in: float) -> tuple[Figure, list[Axes]]:
    cols = max(1, min(cols, n))
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(
        rows, cols, figsize=(WIDTH_IN, row_height_in * rows), squeeze=False, sharex=True
    )
    flat = [ax for row in axes for ax in row]
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def _legend_above(fig: Figure, handles: Sequence[object], labels: Sequence[str]) -> None:
    if labels:
        fig.legend(
            handles,
            labels,
            loc="lower center",
            bbox_to_anchor=(0.5, 1.0),
            ncol=min(len(labels), 6),
            frameon=False,
        )


def _day_ticks(ax: Axes, starts: Sequence[datetime]) -> None:
    ax.set_xticks(list(starts))
    ax.set_xticklabels([d.strftime("%a") for d in starts], fontsize=7)


# ------------------------------------------------------------------------ charts
def _slo_burn_down(data: ReportData) -> Figure | None:
    """Small multiples: each SLO's budget left on its own axis, so an overspent one
    (-1000 %) does not flatten the others."""
    # An SLO with no events in its window has no budget to draw (the table says 0 / 0).
    entries = [
        e
        for e in data.slos
        if e.total > 0 and any(p.budget_remaining_ratio is not None for p in e.burn_down)
    ]
    if not entries:
        return None
    fig, axes = _grid(len(entries), 4, 1.9)
    for ax, entry in zip(axes, entries, strict=True):
        xs = [p.at for p in entry.burn_down]
        ys = [
            math.nan if p.budget_remaining_ratio is None else 100 * p.budget_remaining_ratio
            for p in entry.burn_down
        ]
        end = next((y for y in reversed(ys) if not math.isnan(y)), math.nan)
        colour = _OVER if end < 0 else _NEUTRAL
        ax.plot(xs, ys, marker="o", ms=3, color=colour)
        ax.axhline(0, color="grey", lw=0.8)
        ax.axhline(100, color="grey", lw=0.5, ls=":")
        low = min([y for y in ys if not math.isnan(y)] + [0.0])
        ax.set_ylim(min(low * 1.1, -5.0) if low < 0 else -5.0, 105)
        ax.set_title(f"{entry.name}: {end:.0f} % left", color=colour, loc="left")
        ax.set_ylabel("budget left (%)", fontsize=7)
        _day_ticks(ax, data.week.day_starts)
    fig.tight_layout()
    return fig


def _fidelity(data: ReportData) -> Figure | None:
    """Small multiples per reference circuit, one line per backend (daily mean)."""
    series: dict[str, dict[str, dict[str, float]]] = defaultdict(lambda: defaultdict(dict))
    for p in data.fidelity.trend:
        if p.mean_fidelity is not None:
            series[p.circuit][p.backend][p.day] = p.mean_fidelity
    if not series:
        return None
    colours = backend_colours(data)
    circuits = sorted(series)
    fig, axes = _grid(len(circuits), 4, 1.8)
    days = list(data.week.days)
    handles: dict[str, object] = {}
    for ax, circuit in zip(axes, circuits, strict=True):
        for backend, values in sorted(series[circuit].items()):
            (line,) = ax.plot(
                range(len(days)),
                [values.get(d, math.nan) for d in days],
                marker="o",
                ms=3,
                color=colours.get(backend, "black"),
            )
            handles.setdefault(backend, line)
        ax.set_title(circuit, loc="left")
        ax.set_xticks(range(len(days)))
        ax.set_xticklabels([_short(d) for d in days], fontsize=7)
        ax.set_ylabel("fidelity (0–1)", fontsize=7)
    _legend_above(fig, list(handles.values()), list(handles))
    fig.tight_layout()
    return fig


def _latency(data: ReportData) -> Figure | None:
    panels = (("queue_p95_seconds", "Queue time p95"), ("e2e_p95_seconds", "End-to-end p95"))
    per: dict[str, dict[str, dict[str, float]]] = {f: defaultdict(dict) for f, _ in panels}
    for row in data.latency:
        for field, _ in panels:
            value = getattr(row, field)
            if value is not None:
                per[field][row.backend][row.day] = value
    if not any(per.values()):
        return None
    colours = backend_colours(data)
    fig, axes = plt.subplots(1, 2, figsize=(WIDTH_IN, 2.4))
    days = list(data.week.days)
    handles: dict[str, object] = {}
    for ax, (field, title) in zip(axes, panels, strict=True):
        for backend, values in sorted(per[field].items()):
            (line,) = ax.plot(
                range(len(days)),
                [values.get(d, math.nan) for d in days],
                marker="o",
                ms=3,
                color=colours.get(backend, "black"),
            )
            handles.setdefault(backend, line)
        ax.set_title(f"{title} per day", loc="left")
        # Log scale: one overloaded day (30 min) must not flatten the seconds of others.
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_ylabel("seconds (log scale)")
        ax.set_xticks(range(len(days)))
        ax.set_xticklabels([_short(d) for d in days])
    _legend_above(fig, list(handles.values()), list(handles))
    fig.tight_layout()
    return fig


def _stack(
    ax: Axes,
    days: list[str],
    per_key: dict[str, dict[str, float]],
    colours: dict[str, str],
    labels: dict[str, str],
) -> list[float]:
    bottom = [0.0] * len(days)
    for key in sorted(per_key, key=lambda k: -sum(per_key[k].values())):
        heights = [per_key[key].get(d, 0.0) for d in days]
        ax.bar(
            range(len(days)),
            heights,
            bottom=bottom,
            color=colours.get(key),
            label=labels.get(key, key),
            width=0.7,
        )
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    ax.set_xticks(range(len(days)))
    ax.set_xticklabels([_short(d) for d in days])
    ax.set_ylabel("USD per day")
    return bottom


def _spend(data: ReportData) -> Figure | None:
    """Daily spend stacked by backend and by project, with the budget's daily share and
    the previous 4 weeks' median day as reference lines."""
    if data.totals.spend_usd <= 0:
        return None
    days = list(data.week.days)
    by: dict[str, dict[str, dict[str, float]]] = {
        "backend": defaultdict(dict),
        "project": defaultdict(dict),
    }
    for row in data.cost.daily:
        if row.dimension in by:
            by[row.dimension][row.key][row.day] = row.spend_usd
    projects = sorted(by["project"])
    project_colours = {
        p: ("#999999" if p == VALIDATION_PROJECT else _PROJECT_PALETTE[i % len(_PROJECT_PALETTE)])
        for i, p in enumerate(projects)
    }
    project_labels = {VALIDATION_PROJECT: f"{VALIDATION_PROJECT} (cost of watching)"}
    fig, axes = plt.subplots(1, 2, figsize=(WIDTH_IN, 3.0), sharey=True)
    tops = []
    for ax, dim, colours, labels, title in (
        (axes[0], "backend", backend_colours(data), {}, "by backend"),
        (axes[1], "project", project_colours, project_labels, "by project"),
    ):
        tops = _stack(ax, days, by[dim], colours, labels)
        ax.set_title(f"Daily spend {title}", loc="left")
        for budget in data.cost.budgets:
            daily = budget.week_budget_usd / 7
            ax.axhline(
                daily,
                color=_OVER,
                ls="--",
                lw=1,
                label=f"{budget.slo} budget per day ${daily:,.0f}",
            )
        median = data.cost.baseline_daily_median_usd
        if median is not None:
            ax.axhline(
                median,
                color="black",
                ls=":",
                lw=1,
                label=f"median day, 4 weeks before ${median:,.0f}",
            )
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize=7)
    budgets = [b.week_budget_usd / 7 for b in data.cost.budgets]
    axes[0].set_ylim(0, max(tops + budgets + [1.0]) * 1.15)
    fig.tight_layout()
    return fig


CHARTS: dict[str, tuple[str, Callable[[ReportData], Figure | None]]] = {
    "slo_burn_down": ("Error budget left per SLO over the week", _slo_burn_down),
    "fidelity_trend": ("Fidelity per reference circuit and backend", _fidelity),
    "latency_p95": ("Queue and end-to-end latency p95 per day and backend", _latency),
    "spend": ("Daily spend by backend and by project", _spend),
}


def render_charts(data: ReportData) -> dict[str, str]:
    """Chart name -> ``data:image/png;base64,...`` for every chart that has data."""
    out = {}
    with matplotlib.rc_context(_RC):
        for name, (_, build) in CHARTS.items():
            fig = build(data)
            if fig is not None:
                out[name] = _data_uri(fig)
    return out
