"""Panel, variable and annotation builders shared by every qsre dashboard.

grafanalib does the heavy lifting; these wrappers fix the choices every qsre panel
shares (datasource reference via the `$datasource` variable, units, layout) so the
per-dashboard modules read as a list of questions and queries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from grafanalib import core as g

# Panels point at the dashboard's datasource variable, so one dashboard works against
# any Prometheus the user picks; the variable's default is the uid given at build time.
DATASOURCE_REF: dict[str, str] = {"type": "prometheus", "uid": "${datasource}"}

# Every backend-scoped query filters on the backend variable (multi-select, All = .*).
BACKEND = 'backend=~"$backend"'

GREEN = "green"
YELLOW = "yellow"
RED = "red"


@dataclass(frozen=True)
class Query:
    """One PromQL expression and the legend Grafana should show for its series."""

    expr: str
    legend: str = ""
    instant: bool = False


def _targets(queries: Sequence[Query]) -> list[g.Target]:
    return [
        g.Target(
            expr=q.expr,
            legendFormat=q.legend,
            refId=chr(ord("A") + i),
            instant=q.instant,
            datasource=DATASOURCE_REF,
        )
        for i, q in enumerate(queries)
    ]


def _steps(steps: Sequence[tuple[float | None, str]]) -> list[dict[str, object]]:
    return [{"value": value, "color": color} for value, color in steps]


@dataclass
class Layout:
    """Places panels left to right on Grafana's 24-column grid, wrapping rows."""

    width: int = 24
    _x: int = 0
    _y: int = 0
    _row_h: int = 0
    panels: list[object] = field(default_factory=list)

    def place(self, w: int, h: int) -> g.GridPos:
        if self._x + w > self.width:
            self._x, self._y, self._row_h = 0, self._y + self._row_h, 0
        pos = g.GridPos(h=h, w=w, x=self._x, y=self._y)
        self._x += w
        self._row_h = max(self._row_h, h)
        return pos

    def row(self, title: str) -> None:
        """Start a new full-width section headed by a (non-collapsed) row."""
        if self._x:
            self._x, self._y, self._row_h = 0, self._y + self._row_h, 0
        self.panels.append(g.RowPanel(title=title, gridPos=g.GridPos(h=1, w=24, x=0, y=self._y)))
        self._y += 1

    def add(self, panel: object) -> None:
        self.panels.append(panel)


def timeseries(
    layout: Layout,
    title: str,
    queries: Sequence[Query],
    *,
    unit: str = "short",
    description: str = "",
    thresholds: Sequence[tuple[float | None, str]] = (),
    w: int = 12,
    h: int = 8,
    stacked: bool = False,
    min_value: float | None = None,
    max_value: float | None = None,
) -> None:
    """A time series panel; thresholds, when given, are drawn as dashed lines."""
    layout.add(
        g.TimeSeries(
            title=title,
            description=description,
            dataSource=DATASOURCE_REF,
            targets=_targets(queries),
            gridPos=layout.place(w, h),
            unit=unit,
            thresholds=_steps(thresholds) if thresholds else _steps([(None, GREEN)]),
            thresholdsStyleMode="dashed" if thresholds else "off",
            stacking={"mode": "normal", "group": "A"} if stacked else {"mode": "none"},
            legendDisplayMode="table",
            legendPlacement="bottom",
            legendCalcs=["lastNotNull", "max"],
            valueMin=min_value,
            valueMax=max_value,
        )
    )


def stat(
    layout: Layout,
    title: str,
    queries: Sequence[Query],
    *,
    unit: str = "short",
    description: str = "",
    thresholds: Sequence[tuple[float | None, str]] = ((None, GREEN),),
    decimals: int | None = None,
    w: int = 6,
    h: int = 6,
) -> None:
    """A single-value panel coloured by thresholds (e.g. red below the SLO)."""
    layout.add(
        g.Stat(
            title=title,
            description=description,
            dataSource=DATASOURCE_REF,
            targets=_targets(queries),
            gridPos=layout.place(w, h),
            format=unit,
            decimals=decimals,
            thresholds=_steps(thresholds),
            reduceCalc="lastNotNull",
            graphMode="area",
        )
    )


def bargauge(
    layout: Layout,
    title: str,
    queries: Sequence[Query],
    *,
    unit: str = "short",
    description: str = "",
    thresholds: Sequence[tuple[float | None, str]] = ((None, GREEN),),
    min_value: float = 0,
    max_value: float | None = None,
    w: int = 8,
    h: int = 8,
) -> None:
    """Horizontal bars, one per series: comparisons across backends, projects, SLOs."""
    layout.add(
        g.BarGauge(
            title=title,
            description=description,
            dataSource=DATASOURCE_REF,
            targets=_targets(queries),
            gridPos=layout.place(w, h),
            format=unit,
            min=min_value,
            max=max_value if max_value is not None else 100,
            orientation="horizontal",
            displayMode="gradient",
            calc="lastNotNull",
            thresholds=_steps(thresholds),
        )
    )


def table(
    layout: Layout,
    title: str,
    queries: Sequence[Query],
    *,
    unit: str = "short",
    description: str = "",
    w: int = 12,
    h: int = 8,
) -> None:
    """An instant-query table (firing alerts, top-k lists)."""
    layout.add(
        g.Table(
            title=title,
            description=description,
            dataSource=DATASOURCE_REF,
            targets=_targets(queries),
            gridPos=layout.place(w, h),
            unit=unit,
            transformations=[{"id": "labelsToFields", "options": {}}],
        )
    )


def state_timeline(
    layout: Layout,
    title: str,
    queries: Sequence[Query],
    *,
    description: str = "",
    thresholds: Sequence[tuple[float | None, str]] = ((None, GREEN),),
    color_scale: tuple[float, float] | None = None,
    w: int = 24,
    h: int = 10,
) -> None:
    """One coloured band per series over time: where and when a value left its band.

    With `color_scale` (min, max) the bands are a continuous red-yellow-green scale
    over that range instead of threshold colours: a heatmap of series over time.
    """
    extra = (
        {"fieldConfig": {"defaults": {"min": color_scale[0], "max": color_scale[1]}}}
        if color_scale
        else None
    )
    layout.add(
        g.StateTimeline(
            title=title,
            description=description,
            dataSource=DATASOURCE_REF,
            targets=_targets(queries),
            gridPos=layout.place(w, h),
            thresholds=_steps(thresholds),
            colorMode="continuous-RdYlGr" if color_scale else "thresholds",
            showValue="never",
            mergeValues=False,
            extraJson=extra,
        )
    )


def text(layout: Layout, title: str, markdown: str, *, w: int = 24, h: int = 4) -> None:
    """A Markdown panel (SLO description, links to runbooks)."""
    layout.add(g.Text(title=title, content=markdown, mode="markdown", gridPos=layout.place(w, h)))


def datasource_variable(datasource_uid: str) -> g.Template:
    """The `$datasource` picker (Prometheus datasources), defaulting to `datasource_uid`."""
    return g.Template(
        name="datasource",
        label="Data source",
        type="datasource",
        query="prometheus",
        default=datasource_uid,
        hide=0,
    )


def backend_variable() -> g.Template:
    """The `$backend` multi-select, populated from the job counter's backend label."""
    return g.Template(
        name="backend",
        label="Backend",
        query="label_values(qsre_jobs_total, backend)",
        dataSource=DATASOURCE_REF,
        includeAll=True,
        multi=True,
        allValue=".*",
        default="$__all",
        refresh=2,
        sort=1,
    )


def standard_annotations(
    *, with_backend: bool = True, extra: Sequence[dict[str, object]] = ()
) -> g.Annotations:
    """Fired qsre alerts and backend recalibrations (plus `extra`), overlaid on every
    time series panel."""
    calibration = "qsre_backend_calibration_age_seconds" + (
        f"{{{BACKEND}}}" if with_backend else ""
    )
    return g.Annotations(
        list=[
            {
                "builtIn": 1,
                "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                "enable": True,
                "hide": True,
                "iconColor": "rgba(0, 211, 255, 1)",
                "name": "Annotations & Alerts",
                "type": "dashboard",
            },
            {
                "name": "Fired alerts",
                "datasource": DATASOURCE_REF,
                "enable": True,
                "iconColor": RED,
                "expr": 'ALERTS{alertstate="firing", alertname=~"Qsre.*"}',
                "step": "60s",
                "titleFormat": "{{alertname}}",
                "textFormat": "{{kind}} {{severity}} {{backend}}{{slo}}",
                "tagKeys": "kind,severity,backend,slo",
                "useValueForTime": False,
            },
            {
                "name": "Recalibrations",
                "datasource": DATASOURCE_REF,
                "enable": True,
                "iconColor": "blue",
                # The calibration age drops when a backend recalibrates; resets() counts drops.
                "expr": f"resets({calibration}[5m]) > 0",
                "step": "60s",
                "titleFormat": "Recalibration",
                "textFormat": "{{backend}} recalibrated",
                "tagKeys": "backend",
                "useValueForTime": False,
            },
            *extra,
        ]
    )


def dashboard(
    *,
    uid: str,
    title: str,
    description: str,
    tags: Sequence[str],
    layout: Layout,
    datasource_uid: str,
    with_backend: bool = True,
    time_from: str = "now-6h",
    annotations: Sequence[dict[str, object]] = (),
) -> g.Dashboard:
    """Assemble a dashboard with the shared variables and annotations (and `annotations`)."""
    variables = [datasource_variable(datasource_uid)]
    if with_backend:
        variables.append(backend_variable())
    return g.Dashboard(
        uid=uid,
        title=title,
        description=description,
        tags=list(tags),
        panels=layout.panels,
        templating=g.Templating(list=variables),
        annotations=standard_annotations(with_backend=with_backend, extra=annotations),
        time=g.Time(time_from, "now"),
        timezone="utc",
        refresh="1m",
        graphTooltip=1,
    ).auto_panel_ids()
