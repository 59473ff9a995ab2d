"""Panels and annotations on Grafana's PostgreSQL datasource, querying the event store.

Used only when the store is PostgreSQL (``SqlSource`` given to ``build_dashboards``);
with SQLite the same places hold a text panel pointing at ``qsre jobs``, since Grafana
cannot read a SQLite file on another machine. The SQL itself is in
dashboards.store_sql; the role Grafana should connect as is in docs/grafana-postgres.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from grafanalib import core as g

from dashboards.errors import DashboardSpecError
from dashboards.panels import Layout

# The plugin id of Grafana's built-in PostgreSQL datasource since Grafana 10.x; a
# datasource provisioned as `type: postgres` gets it too. Panels resolve it by uid.
POSTGRES_TYPE = "grafana-postgresql-datasource"
TRACE_PLACEHOLDER = "{trace_id}"
TRACE_COLUMN = "trace_id"


@dataclass(frozen=True)
class SqlSource:
    """Where SQL panels read from, and where a job's trace id links to.

    ``datasource_uid``: the uid of the Grafana PostgreSQL datasource on the store
    (``dashboards.postgres_datasource_uid`` in qsre.yaml). ``trace_url_template``:
    ``links.trace_url_template``, a URL with ``{trace_id}`` (e.g.
    ``https://jaeger.example/trace/{trace_id}``); empty means no trace links.
    """

    datasource_uid: str
    trace_url_template: str = ""

    def __post_init__(self) -> None:
        if not self.datasource_uid:
            raise DashboardSpecError(
                "postgres_datasource_uid", self.datasource_uid, "a non-empty datasource uid"
            )
        if self.trace_url_template and TRACE_PLACEHOLDER not in self.trace_url_template:
            raise DashboardSpecError(
                "trace_url_template",
                self.trace_url_template,
                f"a URL containing {TRACE_PLACEHOLDER}",
            )

    @property
    def ref(self) -> dict[str, str]:
        return {"type": POSTGRES_TYPE, "uid": self.datasource_uid}

    def trace_link(self) -> dict[str, Any] | None:
        """A Grafana data link from a table row to its job's trace, or None without a
        template.

        Grafana reads ``title``, ``url`` and ``targetBlank``; the other keys are there
        because Grafana's published schema (tests/data/grafana) types field links as
        dashboard links, and Grafana ignores them. The link sits on every cell of a
        row (field defaults), not on the trace_id column only, because that schema
        also rejects the string options of a byName override matcher.
        """
        if not self.trace_url_template:
            return None
        return {
            "title": "Open trace",
            # Grafana's data-link variable for this row's value of the trace_id field.
            "url": self.trace_url_template.replace(
                TRACE_PLACEHOLDER, "${__data.fields." + TRACE_COLUMN + "}"
            ),
            "targetBlank": True,
            "type": "link",
            "icon": "external link",
            "tooltip": "the job's OpenTelemetry trace",
            "tags": [],
            "asDropdown": False,
            "includeVars": False,
            "keepTime": False,
        }


class SqlTarget:
    """A raw-SQL query target (grafanalib has none for SQL datasources)."""

    def __init__(self, sql: str, source: SqlSource, ref_id: str = "A", fmt: str = "table") -> None:
        self.sql = sql
        self.source = source
        self.ref_id = ref_id
        self.fmt = fmt  # "table", or "time_series" for (time, metric, value) rows

    def to_json_data(self) -> dict[str, Any]:
        return {
            "datasource": self.source.ref,
            "refId": self.ref_id,
            "format": self.fmt,
            "rawQuery": True,
            "editorMode": "code",
            "rawSql": self.sql,
        }


def sql_table(
    layout: Layout,
    title: str,
    sql: str,
    source: SqlSource,
    *,
    description: str = "",
    w: int = 24,
    h: int = 9,
) -> None:
    """A table of the query's rows; with a ``trace_id`` column, each row links to
    its trace."""
    link = source.trace_link()
    extra = (
        {"fieldConfig": {"defaults": {"links": [link]}}}
        if link is not None and TRACE_COLUMN in sql
        else None
    )
    layout.add(
        g.Table(
            title=title,
            description=description,
            dataSource=source.ref,
            targets=[SqlTarget(sql, source)],
            gridPos=layout.place(w, h),
            filterable=True,
            extraJson=extra,
        )
    )


def sql_timeseries(
    layout: Layout,
    title: str,
    sql: str,
    source: SqlSource,
    *,
    unit: str = "s",
    description: str = "",
    w: int = 12,
    h: int = 8,
) -> None:
    """A time series of the query's (time, metric, value) rows."""
    layout.add(
        g.TimeSeries(
            title=title,
            description=description,
            dataSource=source.ref,
            targets=[SqlTarget(sql, source, fmt="time_series")],
            gridPos=layout.place(w, h),
            unit=unit,
        )
    )


def sql_annotation(
    name: str, sql: str, source: SqlSource, *, icon_color: str = "purple"
) -> dict[str, Any]:
    """An annotation whose query returns columns ``time``, ``text`` and ``tags``."""
    return {
        "name": name,
        "datasource": source.ref,
        "enable": True,
        "iconColor": icon_color,
        "target": SqlTarget(sql, source, ref_id="Anno").to_json_data(),
    }


def sqlite_hint(layout: Layout, title: str, command: str, *, w: int = 24, h: int = 4) -> None:
    """Where a SQL panel would be on PostgreSQL: how to get the same rows with the CLI."""
    layout.add(
        g.Text(
            title=title,
            mode="markdown",
            gridPos=layout.place(w, h),
            content=(
                "Per-job rows are not Prometheus labels; they are in the qsre store. "
                "This store is SQLite, which Grafana does not read, so run:\n\n"
                f"```\n{command}\n```\n\n"
                "With a PostgreSQL store, set `dashboards.postgres_datasource_uid` and "
                "this panel becomes a table (see docs/grafana-postgres.md)."
            ),
        )
    )
