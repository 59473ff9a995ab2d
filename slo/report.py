"""The weekly SLO and cost report: one HTML page, a Slack-sized Markdown summary, JSON.

``build_weekly_report`` reads the numbers once (``slo.report_data``), draws the charts
(``slo.report_charts``) and renders ``slo/templates/weekly.{html,md}.j2``. Every
user-provided string (backend, project, tag, circuit and SLO names) is escaped: the
HTML environment autoescapes, and the Markdown environment escapes every string it
prints through ``finalize``, so a template cannot forget to.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from collector.clock import Clock
from collector.store import Store
from slo.report_charts import render_charts
from slo.report_data import (
    DEFINITIONS,
    EngineFactory,
    ReportData,
    ReportError,
    collect_report_data,
    last_complete_week,
    parse_week,
)
from slo.spec import SLO

__all__ = [
    "MARKDOWN_MAX_CHARS",
    "SECTION_HEADINGS",
    "ReportError",
    "ReportPaths",
    "SlackPost",
    "build_weekly_report",
    "markdown_escape",
    "post_report_to_slack",
]

TEMPLATES = Path(__file__).with_name("templates")
MARKDOWN_MAX_CHARS = 3000
SECTION_HEADINGS = (
    "Summary",
    "Week over week",
    "SLOs",
    "Alerts",
    "Fidelity and validation",
    "Calibration",
    "Latency",
    "Cost",
    "Billing anomalies",
)
# Only what is special anywhere in a line: values are printed mid-line, never at its start.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")


@dataclass(frozen=True)
class ReportPaths:
    html: Path
    markdown: Path
    data_json: Path


@dataclass(frozen=True)
class SlackPost:
    channel: str
    file_id: str | None
    message_ts: str | None


# --------------------------------------------------------------------- formatting
def markdown_escape(text: str) -> str:
    """Text safe in Markdown and Slack mrkdwn: ``&<>`` as entities, specials backslashed."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", text)


def _dash(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def _pct(value: float | None, digits: int = 2) -> str:
    return "–" if _dash(value) else f"{100 * value:.{digits}f} %"


def _signed_pct(value: float | None) -> str:
    return "n/a" if _dash(value) else f"{100 * value:+.1f} %"


def _signed_pp(value: float | None) -> str:
    return "n/a" if _dash(value) else f"{100 * value:+.2f} pp"


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
    )
    return env


# ---------------------------------------------------------------------- render
def _issues(data: ReportData) -> list[str]:
    """The top issues of the week, worst first, as plain sentences."""
    issues: list[str] = []
    for s in data.slos:
        if s.firing:
            issues.append(f"SLO {s.name} is burning its budget ({', '.join(s.firing)} firing)")
        elif s.met is False:
            issues.append(
                f"SLO {s.name} below objective: {_pct(s.attainment, 3)} < {_pct(s.objective, 3)}"
            )
    for a in data.cost.anomalies[:3]:
        base = _usd(a.baseline_median_usd)
        issues.append(f"Spend spike: {a.project} {_usd(a.spend_usd)} on {a.day} (median {base})")
    events: dict[tuple[str, str], int] = {}
    for e in data.fidelity.events:
        events[(e.backend, e.verdict)] = events.get((e.backend, e.verdict), 0) + 1
    for (backend, verdict), n in sorted(events.items(), key=lambda kv: -kv[1])[:3]:
        issues.append(f"{backend}: {n} {verdict} validation finding(s)")
    for c in data.calibration:
        if c.age_hours_at_week_end is not None and c.age_hours_at_week_end > 48:
            issues.append(f"{c.backend}: calibration {c.age_hours_at_week_end:.0f} h old")
    if data.alerts.still_open:
        issues.append(f"{data.alerts.still_open} alert(s) still open at week end")
    return issues


def _context(data: ReportData) -> dict[str, Any]:
    return {
        "week": data.week,
        "generated_at": data.generated_at,
        "totals": data.totals,
        "deltas": data.deltas,
        "delta": {d.metric: d for d in data.deltas},
        "slos": data.slos,
        "slo_error": data.slo_error,
        "alerts": data.alerts,
        "fidelity": data.fidelity,
        "calibration": data.calibration,
        "latency": data.latency,
        "cost": data.cost,
        "definitions": DEFINITIONS,
    }


def render_markdown(data: ReportData, *, max_chars: int = MARKDOWN_MAX_CHARS) -> str:
    """The Slack summary; shortened (fewer SLO lines and issues) until it fits."""
    template = _environment(markdown=True).get_template("weekly.md.j2")
    issues = _issues(data)
    text = ""
    for max_slos, max_issues in ((10, 8), (5, 5), (3, 3), (0, 2)):
        text = template.render(
            **_context(data), issues=issues, max_slos=max_slos, max_issues=max_issues
        )
        text = re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"
        if len(text) <= max_chars:
            return text
    suffix = "\n(truncated; see the HTML report)\n"
    return text[: max_chars - len(suffix)].rsplit("\n", 1)[0] + suffix


def render_html(data: ReportData, charts: dict[str, str]) -> str:
    template = _environment(markdown=False).get_template("weekly.html.j2")
    return template.render(**_context(data), charts=charts)


def build_weekly_report(
    store: Store,
    slos: Sequence[SLO],
    *,
    week: str | None = None,
    clock: Clock,
    out_dir: Path | str,
    timezone: str = "UTC",
    engine_factory: EngineFactory | None = None,
) -> ReportPaths:
    """Write ``report.html``, ``report.md`` and ``report.json`` for one ISO week.

    ``week`` is ``YYYY-Www`` (e.g. ``2026-W47``); by default the last complete week as
    of ``clock.now()`` in ``timezone``. SLO numbers come from the engine that
    ``engine_factory(store, slos, clock)`` builds (default ``slo.engine.SLOEngine``).
    Raises ReportError for a malformed week or an unknown time zone.
    """
    label = week if week is not None else last_complete_week(clock.now(), timezone)
    bounds = parse_week(label, timezone)
    data = collect_report_data(store, slos, bounds, clock=clock, engine_factory=engine_factory)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = ReportPaths(out / "report.html", out / "report.md", out / "report.json")
    paths.html.write_text(render_html(data, render_charts(data)), encoding="utf-8")
    paths.markdown.write_text(render_markdown(data), encoding="utf-8")
    paths.data_json.write_text(
        json.dumps(data.to_dict(), indent=2, sort_keys=True, allow_nan=False), encoding="utf-8"
    )
    return paths


# ----------------------------------------------------------------------- slack
def post_report_to_slack(
    paths: ReportPaths,
    *,
    token_env: str,
    channel: str,
    api_url: str | None = None,
) -> SlackPost:
    """Upload the HTML page (``files_upload_v2``) and post the summary to ``channel``.

    The token is read from the environment variable named ``token_env`` (secrets by
    reference); ``api_url`` overrides Slack's base URL and must end in ``/api/``.
    """
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

    token = os.environ.get(token_env)
    if not token:
        raise ReportError(
            f"reports.slack.token_env: expected the name of a set environment variable "
            f"holding a Slack token, but {token_env!r} is unset or empty"
        )
    kwargs: dict[str, Any] = {"token": token}
    if api_url:
        kwargs["base_url"] = api_url if api_url.endswith("/") else api_url + "/"
    client = WebClient(**kwargs)
    summary = paths.markdown.read_text(encoding="utf-8")
    week = json.loads(paths.data_json.read_text(encoding="utf-8"))["week"]["label"]
    try:
        upload = client.files_upload_v2(
            channel=channel,
            file=str(paths.html),
            filename=paths.html.name,
            title=f"qsre weekly report {week}",
        )
        message = client.chat_postMessage(channel=channel, text=summary, mrkdwn=True)
    except SlackApiError as exc:
        # The token is never part of the message: only Slack's error code is.
        raise ReportError(
            f"Slack API call failed for channel {channel!r}: {exc.response.get('error')}"
        ) from None
    file_info = upload.get("file") or {}
    return SlackPost(channel, file_info.get("id"), message.get("ts"))
