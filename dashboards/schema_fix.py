"""Turn grafanalib 0.7.1 output into dashboard JSON that modern Grafana's schema accepts.

grafanalib (last release 2024-01) still emits the pre-Grafana-7 model: a schemaVersion
of 12, legacy top-level keys (rows, style, sharedCrosshair, hideControls, __inputs),
per-panel keys (span, height, editable, error, minSpan), `null` for every unset option,
Stat thresholds as "" and Templating fields Grafana dropped (useTags, tagsQuery).
Grafana's importer migrates most of that silently; the published JSON schema rejects
it. We post-process the dict rather than fork grafanalib.
"""

from __future__ import annotations

import copy
from typing import Any

# Grafana 11.x writes schemaVersion 39-41; the shared schema's default is 42.
SCHEMA_VERSION = 39

_LEGACY_DASHBOARD_KEYS = (
    "__inputs",
    "__requires",
    "rows",
    "style",
    "sharedCrosshair",
    "hideControls",
)
_LEGACY_PANEL_KEYS = (
    "span",
    "height",
    "editable",
    "error",
    "minSpan",
    "color",
    "columns",
    "fontSize",
)
_ROW_KEYS = ("type", "collapsed", "title", "datasource", "gridPos", "id", "panels", "repeat")
_LEGACY_VARIABLE_KEYS = ("useTags", "tagsQuery", "tagValuesQuery", "tags")
_LEGACY_TIMEPICKER_KEYS = ("time_options",)


def _drop_none(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if v is not None}


def _fix_thresholds(field_config: dict[str, Any]) -> None:
    defaults = field_config.get("defaults")
    if not isinstance(defaults, dict):
        return
    for key in [k for k, v in defaults.items() if v is None]:
        del defaults[key]
    thresholds = defaults.get("thresholds")
    if not isinstance(thresholds, dict) or not thresholds.get("steps"):
        # grafanalib's Stat emits thresholds "" when given none: use Grafana's default base.
        defaults["thresholds"] = {"mode": "absolute", "steps": [{"value": None, "color": "green"}]}
    custom = defaults.get("custom")
    if isinstance(custom, dict):
        defaults["custom"] = _drop_none(custom)


def _fix_panel(panel: dict[str, Any]) -> dict[str, Any]:
    if panel.get("type") == "row":
        row = {k: panel[k] for k in _ROW_KEYS if panel.get(k) is not None}
        row.setdefault("collapsed", False)
        row["panels"] = [_fix_panel(p) for p in row.get("panels", [])]
        return row
    fixed = _drop_none({k: v for k, v in panel.items() if k not in _LEGACY_PANEL_KEYS})
    # Old table panels keep value mappings at the top level; modern ones in field defaults.
    mappings = fixed.pop("mappings", None)
    if mappings:
        fixed.setdefault("fieldConfig", {}).setdefault("defaults", {}).setdefault(
            "mappings", mappings
        )
    if fixed.get("repeatDirection") not in ("h", "v"):
        fixed.pop("repeatDirection", None)
    if isinstance(fixed.get("fieldConfig"), dict):
        fixed["fieldConfig"].setdefault("overrides", [])
        fixed["fieldConfig"].setdefault("defaults", {})
        _fix_thresholds(fixed["fieldConfig"])
    if fixed.get("description") == "":
        fixed.pop("description")
    for target in fixed.get("targets", []):
        for key in [k for k, v in target.items() if v is None]:
            del target[key]
    return fixed


def _fix_variable(variable: dict[str, Any]) -> dict[str, Any]:
    fixed = _drop_none({k: v for k, v in variable.items() if k not in _LEGACY_VARIABLE_KEYS})
    current = fixed.get("current")
    if isinstance(current, dict):
        current = {k: v for k, v in current.items() if k not in _LEGACY_VARIABLE_KEYS}
        if current.get("text") is None or current.get("value") is None:
            fixed.pop("current")
        else:
            fixed["current"] = current
    fixed["options"] = [
        {k: v for k, v in o.items() if k in ("selected", "text", "value")}
        for o in fixed.get("options", [])
        if o.get("text") is not None and o.get("value") is not None
    ]
    return fixed


def modernize(dashboard_json: dict[str, Any]) -> dict[str, Any]:
    """Return a copy of grafanalib's dashboard dict that validates against Grafana's schema."""
    dash = copy.deepcopy(dashboard_json)
    dash = _drop_none({k: v for k, v in dash.items() if k not in _LEGACY_DASHBOARD_KEYS})
    dash["schemaVersion"] = SCHEMA_VERSION
    if dash.get("gnetId") is None:
        dash.pop("gnetId", None)
    timepicker = dash.get("timepicker")
    if isinstance(timepicker, dict):
        dash["timepicker"] = _drop_none(
            {k: v for k, v in timepicker.items() if k not in _LEGACY_TIMEPICKER_KEYS}
        )
    dash["panels"] = [_fix_panel(p) for p in dash.get("panels", [])]
    templating = dash.setdefault("templating", {"list": []})
    templating["list"] = [_fix_variable(v) for v in templating.get("list", [])]
    dash.setdefault("annotations", {"list": []})
    return dash
