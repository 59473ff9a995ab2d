"""Expand Grafana's PostgreSQL macros and template variables the way Grafana does.

Grafana rewrites a SQL panel's ``rawSql`` on the server before sending it to
PostgreSQL (pkg/tsdb/grafana-postgresql-datasource/macros.go and the frontend's
template service). Tests use this to run every SQL panel against a real store; the
expansion implemented here, with the dashboard time range [from, to] in UTC:

============================  ====================================================
``$__time(col)``              ``col AS "time"``
``$__timeFilter(col)``        ``col BETWEEN '<from>' AND '<to>'`` (RFC 3339, UTC)
``$__timeFrom()``             ``'<from>'``
``$__timeTo()``               ``'<to>'``
``$__timeGroup(col, 5m)``     ``floor(extract(epoch from col)/300)*300``
``$__timeGroupAlias(col,5m)`` the same, then ``AS "time"``
``$__unixEpochFilter(col)``   ``col >= <from epoch s> AND col <= <to epoch s>``
``${name:regex}``, ``$name``  the variable's value (``All`` = its allValue, unescaped,
                              as Grafana does for a custom all value)
============================  ====================================================

Any other ``$__`` macro raises, so a panel cannot use one that no test expanded.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime

from dashboards.errors import DashboardSpecError

_DURATION = re.compile(r"^\s*'?(\d+)(ms|s|m|h|d|w)'?\s*$")
_UNIT_S = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
# $__name(args): args never contain parentheses in the macros we implement.
_MACRO = re.compile(r"\$__(\w+)\(([^()]*)\)")
_VARIABLE = re.compile(r"\$\{(\w+)(?::(\w+))?\}|\$(\w+)")


def _rfc3339(when: datetime) -> str:
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    # Go's time.RFC3339Nano, which Grafana uses: fractional seconds without trailing zeros.
    fraction = f".{when.microsecond:06d}".rstrip("0") if when.microsecond else ""
    return when.strftime("%Y-%m-%dT%H:%M:%S") + fraction + "Z"


def _interval_s(text: str) -> float:
    m = _DURATION.match(text)
    if m is None:
        raise DashboardSpecError("$__timeGroup interval", text, "a duration such as 5m or '1h'")
    return int(m.group(1)) * _UNIT_S[m.group(2)]


def _args(raw: str) -> list[str]:
    return [a.strip() for a in raw.split(",")] if raw.strip() else []


def expand_macros(
    sql: str,
    *,
    time_from: datetime,
    time_to: datetime,
    variables: Mapping[str, str] | None = None,
) -> str:
    """``sql`` as Grafana would send it to PostgreSQL for this time range and variables.

    ``variables`` maps a template variable to the text Grafana substitutes (already
    formatted: e.g. ``{"backend": ".*"}`` for All, ``{"backend": "sim\\-stable"}``
    for one backend with ``:regex``). An unknown ``$__`` macro or a variable not in
    ``variables`` raises DashboardSpecError.
    """
    start, end = _rfc3339(time_from), _rfc3339(time_to)

    def macro(m: re.Match[str]) -> str:
        name, args = m.group(1), _args(m.group(2))
        if name == "time" and len(args) == 1:
            return f'{args[0]} AS "time"'
        if name == "timeFilter" and len(args) == 1:
            return f"{args[0]} BETWEEN '{start}' AND '{end}'"
        if name == "timeFrom" and not args:
            return f"'{start}'"
        if name == "timeTo" and not args:
            return f"'{end}'"
        if name in ("timeGroup", "timeGroupAlias") and len(args) >= 2:
            step = _interval_s(args[1])
            step_text = f"{step:g}"
            expr = f"floor(extract(epoch from {args[0]})/{step_text})*{step_text}"
            return expr + (' AS "time"' if name == "timeGroupAlias" else "")
        if name == "unixEpochFilter" and len(args) == 1:
            return (
                f"{args[0]} >= {int(time_from.timestamp())} "
                f"AND {args[0]} <= {int(time_to.timestamp())}"
            )
        raise DashboardSpecError(f"$__{name}", m.group(0), "a macro dashboards.sql_macros expands")

    expanded = _MACRO.sub(macro, sql)
    if "$__" in expanded:
        raise DashboardSpecError("sql", expanded, "no $__ macro left after expansion")
    values = dict(variables or {})

    def variable(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(3)
        if name not in values:
            raise DashboardSpecError(
                f"${name}", m.group(0), f"one of the variables {sorted(values)}"
            )
        return values[name]

    return _VARIABLE.sub(variable, expanded)
