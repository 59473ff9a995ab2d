"""Pull PromQL (and SQL) out of dashboard JSON, and metric names out of PromQL.

Used by tests that run every dashboard query against a real Prometheus and that check
every referenced metric is one the exporter (or the SLO recording rules) produces.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

# Values that make Grafana's variables valid PromQL outside Grafana ($backend is a
# regex used with =~, so "match everything" is the faithful stand-in for "All").
DEFAULT_VARIABLES: Mapping[str, str] = {
    "backend": ".*",
    "__rate_interval": "5m",
    "__interval": "1m",
    "__range": "1h",
}

_LABEL_VALUES = re.compile(
    r"^\s*label_values\(\s*(.+?)\s*,\s*[a-zA-Z_][a-zA-Z0-9_]*\s*\)\s*$", re.S
)
_QUERY_RESULT = re.compile(r"^\s*query_result\((.*)\)\s*$", re.S)


def _substitute(expr: str, variables: Mapping[str, str]) -> str:
    def repl(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2)
        return variables.get(name, m.group(0))

    return re.sub(r"\$\{(\w+)\}|\$(\w+)", repl, expr)


def _variable_query(variable: Mapping[str, Any]) -> str | None:
    if variable.get("type") != "query":
        return None
    query = variable.get("query")
    if isinstance(query, dict):
        query = query.get("query")
    if not isinstance(query, str) or not query.strip():
        return None
    # Grafana's templating functions wrap a series selector or a query; keep the PromQL.
    for pattern in (_LABEL_VALUES, _QUERY_RESULT):
        m = pattern.match(query)
        if m:
            return m.group(1)
    if query.strip().startswith(("label_values(", "label_names(", "metrics(")):
        return None
    return query


def _panels(panels: list[Any]) -> list[Mapping[str, Any]]:
    flat: list[Mapping[str, Any]] = []
    for panel in panels:
        flat.append(panel)
        flat.extend(_panels(panel.get("panels", [])))
    return flat


def panel_queries(
    dashboard_json: Mapping[str, Any],
    *,
    variables: Mapping[str, str] | None = DEFAULT_VARIABLES,
) -> list[str]:
    """Every PromQL expression in a dashboard: panel targets, annotations, variables.

    Grafana variables (`$backend`, `${backend}`, `$__rate_interval`) are replaced from
    `variables` so each result runs as-is against Prometheus; pass `variables=None`
    to get the expressions exactly as stored. Order: panels, annotations, variables.
    """
    found: list[str] = []
    for panel in _panels(dashboard_json.get("panels", [])):
        for target in panel.get("targets", []):
            if target.get("expr"):
                found.append(target["expr"])
    for annotation in dashboard_json.get("annotations", {}).get("list", []):
        if annotation.get("expr"):
            found.append(annotation["expr"])
    for variable in dashboard_json.get("templating", {}).get("list", []):
        query = _variable_query(variable)
        if query:
            found.append(query)
    if variables is not None:
        found = [_substitute(expr, variables) for expr in found]
    return found


def sql_queries(dashboard_json: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(title, rawSql) of every SQL target in a dashboard: panels, then annotations.

    The SQL is as stored (Grafana macros and variables unexpanded; see
    dashboards.sql_macros.expand_macros to run it outside Grafana).
    """
    found: list[tuple[str, str]] = []
    for panel in _panels(dashboard_json.get("panels", [])):
        for target in panel.get("targets", []):
            if target.get("rawSql"):
                found.append((str(panel.get("title", "")), target["rawSql"]))
    for annotation in dashboard_json.get("annotations", {}).get("list", []):
        target = annotation.get("target")
        if isinstance(target, Mapping) and target.get("rawSql"):
            found.append((str(annotation.get("name", "")), target["rawSql"]))
    return found


_KEYWORDS = frozenset(
    {
        # operators and modifiers
        "and", "or", "unless", "by", "without", "on", "ignoring", "group_left",
        "group_right", "offset", "bool", "atan2",
        # aggregations (usable as `sum by (x) (...)`, so not always followed by "(")
        "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count",
        "count_values", "bottomk", "topk", "quantile", "limitk", "limit_ratio",
        # literals
        "inf", "nan",
    }
)  # fmt: skip

_STRING = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`')
_BRACES = re.compile(r"\{[^{}]*\}")
_BRACKETS = re.compile(r"\[[^\[\]]*\]")
_LABEL_LIST = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)", re.I)
_IDENT = re.compile(r"(?<![\w:.])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![\w:])(\s*\()?")


def metric_names_in(promql: str) -> set[str]:
    """Metric names referenced by a PromQL expression (rough tokenizer, no full parser).

    Ignores function names, keywords and aggregation operators, label names (inside
    `{...}` and `by (...)` style lists), string contents, durations and numbers. Also
    understands `{__name__="metric"}` selectors.
    """
    names = set(re.findall(r'__name__\s*=\s*"([a-zA-Z_:][a-zA-Z0-9_:]*)"', promql))
    text = _STRING.sub('""', promql)
    text = _BRACES.sub(" ", text)
    text = _BRACKETS.sub(" ", text)
    text = _LABEL_LIST.sub(" ", text)
    for m in _IDENT.finditer(text):
        ident, call = m.group(1), m.group(2)
        if call or ident.lower() in _KEYWORDS:
            continue
        names.add(ident)
    return names
