"""The weekly SLO and cost report: one HTML page, CSV files beside it, a Slack-sized
Markdown summary, JSON.

``build_weekly_report`` reads the numbers once (``slo.report_data``, aggregated in
SQL), draws the charts (``slo.report_charts``), writes the long tables as CSV
(``slo.report_csv``) and renders ``slo/templates/weekly.{html,md}.j2``
(``slo.report_render``, which escapes every user-provided string).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from collector.clock import Clock
from collector.store import Store
from slo.report_charts import render_charts
from slo.report_csv import write_csv_files
from slo.report_data import (
    EngineFactory,
    ReportError,
    collect_report_data,
    last_complete_week,
    parse_week,
)
from slo.report_render import (
    MARKDOWN_MAX_CHARS,
    SECTION_HEADINGS,
    markdown_escape,
    render_html,
    render_markdown,
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


@dataclass(frozen=True)
class ReportPaths:
    html: Path
    markdown: Path
    data_json: Path
    csv: tuple[Path, ...] = field(default=())  # the long tables, linked from the page


@dataclass(frozen=True)
class SlackPost:
    channel: str
    file_id: str | None
    message_ts: str | None


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
    """Write ``report.html`` (with its CSV files), ``report.md`` and ``report.json``
    for one ISO week.

    ``week`` is ``YYYY-Www`` (e.g. ``2026-W47``); by default the last complete week as
    of ``clock.now()`` in ``timezone``. SLO numbers come from the engine that
    ``engine_factory(store, slos, clock)`` builds (default: a read-only
    ``slo.engine.SLOEngine``). Raises ReportError for a malformed week or an unknown
    time zone.
    """
    label = week if week is not None else last_complete_week(clock.now(), timezone)
    bounds = parse_week(label, timezone)
    data = collect_report_data(store, slos, bounds, clock=clock, engine_factory=engine_factory)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    csv_paths = write_csv_files(data, out)
    paths = ReportPaths(
        out / "report.html", out / "report.md", out / "report.json", tuple(csv_paths.values())
    )
    html = render_html(data, render_charts(data), {k: p.name for k, p in csv_paths.items()})
    paths.html.write_text(html, encoding="utf-8")
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
    """Upload the HTML page and its CSV files (``files_upload_v2``, one completion) and
    post the summary to ``channel``.

    The page links its long tables as CSV files beside it; in Slack they are shared
    with it, so a reader can open them. The token is read from the environment
    variable named ``token_env`` (secrets by reference); ``api_url`` overrides
    Slack's base URL and must end in ``/api/``.
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
        uploads = [
            {"file": str(paths.html), "filename": paths.html.name},
            *({"file": str(p), "filename": p.name} for p in paths.csv if p.is_file()),
        ]
        for u in uploads:
            u["title"] = f"qsre weekly report {week}" + (
                "" if u["filename"] == paths.html.name else f": {u['filename']}"
            )
        upload = client.files_upload_v2(channel=channel, file_uploads=uploads)
        message = client.chat_postMessage(channel=channel, text=summary, mrkdwn=True)
    except SlackApiError as exc:
        # The token is never part of the message: only Slack's error code is.
        raise ReportError(
            f"Slack API call failed for channel {channel!r}: {exc.response.get('error')}"
        ) from None
    # The page is the first file of the completion.
    files = upload.get("files") or [upload.get("file") or {}]
    return SlackPost(channel, files[0].get("id"), message.get("ts"))
