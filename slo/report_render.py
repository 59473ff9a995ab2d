"""Rendering of the weekly report: ``slo/templates/weekly.{html,md}.j2`` and their filters.

Every user-provided string (backend, project, tag, circuit and SLO names) is made
safe by the environment, so a template cannot forget to: the HTML environment
autoescapes; the Markdown environment passes every string it prints through
``markdown_escape`` (``finalize``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from slo.report_charts import CHARTS, backend_colours
from slo.report_cost import VALIDATION_PROJECT
from slo.report_data import DEFINITIONS, ReportData
from slo.report_verdict import attention_items, fmt_duration

__all__ = [
    "INLINE_INCIDENTS",
    "MARKDOWN_MAX_CHARS",
    "SECTION_HEADINGS",
    "markdown_escape",
    "render_html",
    "render_markdown",
]

TEMPLATES = Path(__file__).with_name("templates")
MARKDOWN_MAX_CHARS = 3000
INLINE_INCIDENTS = 25  # more go to incidents.csv, and the page says how many
SECTION_HEADINGS = (
    "Verdict of the week",
    "SLOs",
    "Incidents",
    "Drift and divergence",
    "Latency",
    "Cost",
    "Calibration",
)
# Only what is special anywhere in a line: values are printed mid-line, never at its start.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")
# Slack mrkdwn reads & < > as control characters (<url|text> links, <!channel>), and
# Markdown as HTML; entities would show as "&lt;" in a Markdown viewer. Look-alikes
# read the same to a person and are inert to both.
_MD_LOOKALIKES = str.maketrans({"&": "＆", "<": "‹", ">": "›"})


def markdown_escape(text: str) -> str:
    """Text safe in Markdown and Slack mrkdwn, without HTML entities: ``& < >`` become
    look-alikes (＆ ‹ ›), Markdown specials are backslashed."""
    return _MD_SPECIAL.sub(r"\\\1", text.translate(_MD_LOOKALIKES))


def _dash(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def _pct(value: float | None, digits: int = 2) -> str:
    return "–" if _dash(value) else f"{100 * value:.{digits}f} %"


def _signed(percent: float, digits: int) -> str:
    """``+1.25``/``-0.40``; a change that rounds to zero has no sign (not ``-0.00``)."""
    text = f"{percent:+.{digits}f}"
    return text[1:] if float(text) == 0 else text


def _signed_pct(value: float | None) -> str:
    return "n/a" if _dash(value) else f"{_signed(100 * value, 1)} %"


def _signed_pp(value: float | None, digits: int = 2) -> str:
    return "n/a" if _dash(value) else f"{_signed(100 * value, digits)} pp"


def _usd(value: float | None) -> str:
    return "–" if _dash(value) else f"${value:,.2f}"


def _secs(value: float | None) -> str:
    if _dash(value):
        return "–"
    if value < 1:
        return f"{value * 1000:.0f} ms"
    if value < 120:
        return f"{value:.1f} s"
    if value < 7200:
        return f"{value / 60:.1f} min"
    return f"{value / 3600:.1f} h"


def _num(value: float | None, digits: int | None = None) -> str:
    if _dash(value):
        return "–"
    if digits is not None:
        return f"{value:,.{digits}f}"
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}"


def _metric(value: float | None, metric: str) -> str:
    if metric == "success_rate":
        return _pct(value)
    if metric == "spend_usd":
        return _usd(value)
    if metric.endswith("_seconds"):
        return _secs(value)
    return _num(value)


def _dt(value: Any) -> str:
    return "–" if value is None else value.strftime("%Y-%m-%d %H:%M UTC")


def _short_dt(value: Any) -> str:
    return "–" if value is None else value.strftime("%a %m-%d %H:%M")


def _environment(*, markdown: bool) -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=not markdown,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        finalize=(lambda v: markdown_escape(v) if isinstance(v, str) else v) if markdown else None,
    )
    env.filters.update(
        pct=_pct,
        signed_pct=_signed_pct,
        signed_pp=_signed_pp,
        usd=_usd,
        secs=_secs,
        num=_num,
        metric=_metric,
        dt=_dt,
        short_dt=_short_dt,
        duration=fmt_duration,
    )
    return env


def _context(data: ReportData) -> dict[str, Any]:
    spend = data.totals.spend_usd
    return {
        "data": data,
        "week": data.week,
        "generated_at": data.generated_at,
        "totals": data.totals,
        "previous_totals": data.previous_totals,
        "deltas": data.deltas,
        "delta": {d.metric: d for d in data.deltas},
        "slos": data.slos,
        "slos_met": sum(1 for s in data.slos if s.met),
        "slo_error": data.slo_error,
        "alerts": data.alerts,
        "fidelity": data.fidelity,
        "calibration": data.calibration,
        "latency": data.latency,
        "cost": data.cost,
        "watching_share": None if spend <= 0 else data.cost.validation_spend_usd / spend,
        "validation_project": VALIDATION_PROJECT,
        "attention": attention_items(data),
        "definitions": DEFINITIONS,
        "inline_incidents": INLINE_INCIDENTS,
    }


def render_markdown(data: ReportData, *, max_chars: int = MARKDOWN_MAX_CHARS) -> str:
    """The Slack summary; shortened (fewer SLO lines) until it fits ``max_chars``."""
    template = _environment(markdown=True).get_template("weekly.md.j2")
    text = ""
    for max_slos in (10, 5, 3, 0):
        text = template.render(**_context(data), max_slos=max_slos)
        text = re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"
        if len(text) <= max_chars:
            return text
    suffix = "\n(truncated; see the HTML report)\n"
    return text[: max_chars - len(suffix)].rsplit("\n", 1)[0] + suffix


def render_html(data: ReportData, charts: dict[str, str], csv_files: dict[str, str]) -> str:
    """The page; ``charts`` name -> data URI, ``csv_files`` name -> relative file name."""
    template = _environment(markdown=False).get_template("weekly.html.j2")
    return template.render(
        **_context(data),
        charts=charts,
        chart_titles={name: title for name, (title, _) in CHARTS.items()},
        colours=backend_colours(data),
        csv=csv_files,
    )
