"""Prometheus recording and alerting rules generated from SLO models (Sloth-style).

For each SLO one rule group ``qsre-slo-<name>`` holds, in evaluation order:

- ``slo:sli_error:ratio_rate<w>`` for 5m, 30m, 1h, 2h, 6h, 1d, 3d, every window of
  the SLO's policy and the period (e.g. 30d), labels ``slo`` and ``sli_kind``:
  Σrate(bad) / Σrate(total), i.e. summed counts, never an average of ratios;
- ``slo:sli_total:increase<w>`` for each long window (the low-traffic guard);
- ``slo:objective:ratio``, ``slo:error_budget:ratio``,
  ``slo:period_error_budget_remaining:ratio`` (1 − period error ratio / budget) and
  ``slo:current_burn_rate:ratio`` (1 h error ratio / budget, as in slo.burn);
- ``QsreSLOBurnRatePage`` / ``QsreSLOBurnRateTicket`` with the same decision as
  slo.burn: both windows of a pair above factor × budget, the long window holding
  at least ``min_events`` events, the metric existing one long window ago (a fresh
  install has no history to burn), and the ticket muted while the page fires
  (``unless``). Alerts have no ``for:``: the short window already debounces.

Mapping onto the collector's metric catalogue, and what cannot be mapped:

- job_success / auth_errors → ``qsre_jobs_total{backend,project,status,error_class}``;
- queue_latency / e2e_latency → ``qsre_job_{queue,e2e}_seconds_bucket{le}``, the
  threshold being a bucket bound (enforced by slo.spec); these histograms have only
  a ``backend`` label, so a ``project`` filter cannot be expressed;
- fidelity / divergence → ``qsre_validation_runs_total{backend,circuit,verdict}``
  (``backend`` filter only);
- cost_budget → ``qsre_cost_usd_total{backend,project}`` scaled by the budgeted rate;
- mitigation_gain compares two stored fidelities per row against the SLO's own
  ``margin``; no exported counter holds that comparison, so it is skipped;
- ``tags`` filters never exist as labels (tags are not labels), and Timeslices
  budgeting has no exact PromQL form.

An SLO that cannot be mapped exactly is skipped — no rules at all rather than rules
computing a different SLI — and listed with the reason in a comment at the top of
the written file (``skipped_slos``). Calendar windows are approximated in
Prometheus by their nominal rolling period (30d for a month, 7d for a week) for
the period ratio and budget; alerting is identical since burn factors use the same
nominal period in the engine.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from prometheus_client.utils import floatToGoString

from runbooks.catalog import runbook_url
from slo.policy import Policy, get_policy
from slo.spec import SLO
from slo.windows import factor_period_s, prom_duration

STANDARD_WINDOWS_S = (300, 1800, 3600, 7200, 21600, 86400, 259200)
CURRENT_BURN_WINDOW_S = 3600
RULE_FILE_NAME = "qsre-slo-rules.yaml"
ALERT_NAMES = {"page": "QsreSLOBurnRatePage", "ticket": "QsreSLOBurnRateTicket"}
_RE2_SPECIAL = set("\\.+*?()|[]{}^$")


@dataclass(frozen=True)
class SLIQuery:
    """How one SLO's SLI reads in PromQL (``{w}`` is replaced by the window)."""

    error_ratio: str  # PromQL with a "{w}" placeholder
    total: str | None  # total events over "{w}" (None: no event count, e.g. cost)
    history: str  # selector that exists once the SLI's metric is being collected


def skip_reason(slo: SLO) -> str | None:
    """Why no Prometheus rules can be generated for ``slo`` (None if they can)."""
    sli = slo.sli
    if slo.budgeting.method != "occurrences":
        return "Timeslices budgeting has no exact PromQL equivalent"
    if sli.tags:
        return "tag filters are not Prometheus labels (tags stay in the store)"
    if sli.kind == "mitigation_gain":
        return (
            "mitigation_gain compares raw and mitigated fidelity per validation run "
            "against the SLO's margin; no exported metric counts that"
        )
    if sli.projects and sli.kind not in ("job_success", "auth_errors", "cost_budget"):
        return f"metrics behind {sli.kind} have no project label"
    return None


def skipped_slos(slos: Iterable[SLO]) -> list[tuple[str, str]]:
    return [(s.name, r) for s in slos if (r := skip_reason(s)) is not None]


def sli_query(slo: SLO) -> SLIQuery:
    sli = slo.sli
    filters = [_matcher("backend", sli.backends), _matcher("project", sli.projects)]
    if sli.kind in ("job_success", "auth_errors"):
        # Same definition as the engine (slo/sli.py): client-side rejections
        # (quota, invalid_input) never reached the backend, so they are not events.
        not_rejected = 'error_class!~"quota|invalid_input"'
        if sli.kind == "job_success":
            bad = _sel("qsre_jobs_total", ['status=~"error|unknown"', not_rejected, *filters])
            total = _sel("qsre_jobs_total", ['status!="cancelled"', not_rejected, *filters])
        else:
            bad = _sel("qsre_jobs_total", ['error_class="auth"', *filters])
            total = _sel("qsre_jobs_total", ["", *filters])
        return SLIQuery(_ratio(bad, total), _sum_inc(total), _sel("qsre_jobs_total", filters))
    if sli.kind in ("queue_latency", "e2e_latency"):
        base = "qsre_job_queue_seconds" if sli.kind == "queue_latency" else "qsre_job_e2e_seconds"
        assert sli.threshold_seconds is not None
        le = f'le="{floatToGoString(sli.threshold_seconds)}"'
        good = _sel(f"{base}_bucket", [le, filters[0]])
        count = _sel(f"{base}_count", [filters[0]])
        expr = (
            f"(sum(rate({count}[{{w}}])) - (sum(rate({good}[{{w}}])) or vector(0)))"
            f" / sum(rate({count}[{{w}}]))"
        )
        return SLIQuery(expr, _sum_inc(count), count)
    if sli.kind in ("fidelity", "divergence"):
        bad_m = 'verdict=~"drift|diverged"' if sli.kind == "fidelity" else 'verdict="diverged"'
        bad = _sel("qsre_validation_runs_total", [bad_m, filters[0]])
        total = _sel("qsre_validation_runs_total", ['verdict!="not_evaluated"', filters[0]])
        hist = _sel("qsre_validation_runs_total", [filters[0]])
        return SLIQuery(_ratio(bad, total), _sum_inc(total), hist)
    if sli.kind == "cost_budget":
        assert sli.budget_usd is not None
        # error ratio = spend / (budgeted spend / (1 − O)); see slo.burn.cost_budget_buckets.
        scale = sli.budget_usd / factor_period_s(slo.window) / slo.error_budget
        cost = _sel("qsre_cost_usd_total", filters)
        return SLIQuery(f"(sum(rate({cost}[{{w}}])) or vector(0)) / {scale!r}", None, cost)
    raise ValueError(f"unknown SLI kind {sli.kind!r}")


def build_rules(
    slos: Iterable[SLO],
    runbook_base_url: str,
    dashboard_base_url: str = "",
    *,
    evaluation_interval_s: float | None = None,
) -> dict[str, Any]:
    """YAML-ready ``{"groups": [...]}`` for every SLO that maps onto the metrics.

    ``runbook_url`` is the SLO's override or ``<runbook_base_url>/<kind>.md`` (an empty
    base: the installed runbook file, see ``runbooks.runbook_url``);
    ``dashboard_url`` (``<dashboard_base_url>/<slo>``) is added when a base is given.
    With ``evaluation_interval_s`` (the daemon's), a ``qsre-daemon`` group watches the
    watcher: ``QsreEvaluationStalled`` (see ``stall_group``).
    """
    groups = []
    for slo in slos:
        if skip_reason(slo) is None:
            groups.append(_group(slo, get_policy(slo.policy), runbook_base_url, dashboard_base_url))
    if evaluation_interval_s is not None:
        groups.append(stall_group(evaluation_interval_s, runbook_base_url))
    return {"groups": groups}


STALL_ALERT_NAME = "QsreEvaluationStalled"
STALL_INTERVALS = 3


def stall_group(evaluation_interval_s: float, runbook_base_url: str) -> dict[str, Any]:
    """``QsreEvaluationStalled``: a daemon process whose last finished evaluation cycle
    is older than 3 intervals (alive but wedged: the per-series term), or no daemon
    exporting the gauge at all (all dead: ``absent``). Prometheus evaluates it, so it
    pages through Alertmanager when qsre itself cannot. ``for`` one interval: a
    restart (gauge absent until the first cycle) does not page."""
    if not evaluation_interval_s > 0:
        raise ValueError(f"evaluation_interval_s={evaluation_interval_s!r}: expected > 0")
    metric = "qsre_last_evaluation_timestamp_seconds"
    limit_s = STALL_INTERVALS * evaluation_interval_s
    rule = {
        "alert": STALL_ALERT_NAME,
        "expr": f"(time() - {metric} > {limit_s!r}) or absent({metric})",
        "for": prom_duration(max(1, round(evaluation_interval_s))),
        "labels": {"severity": "page", "kind": "evaluation_stalled"},
        "annotations": {
            "summary": "qsre has not finished an evaluation cycle recently (or none is running)",
            "description": (
                f"No qsre daemon finished an SLO/signal evaluation in the last {limit_s:g} s "
                f"({STALL_INTERVALS} evaluation intervals): burn-rate and failure-mode alerts "
                "are not being raised or routed."
            ),
            "runbook_url": runbook_url("evaluation_stalled", runbook_base_url),
        },
    }
    return {"name": "qsre-daemon", "rules": [rule]}


def write_rules(
    slos: Iterable[SLO],
    out_dir: Path | str,
    runbook_base_url: str = "",
    dashboard_base_url: str = "",
    *,
    evaluation_interval_s: float | None = None,
) -> Path:
    """Write ``qsre-slo-rules.yaml`` into ``out_dir``; skipped SLOs are listed at the top."""
    slos = list(slos)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    header = ["# Generated by qsre from the SLO definitions; do not edit by hand."]
    for name, reason in skipped_slos(slos):
        header.append(f"# SLO {name} skipped: {reason}; the qsre engine still evaluates it.")
    rules = build_rules(
        slos, runbook_base_url, dashboard_base_url, evaluation_interval_s=evaluation_interval_s
    )
    body = yaml.safe_dump(rules, sort_keys=False, width=1000)
    path = out / RULE_FILE_NAME
    path.write_text("\n".join(header) + "\n" + body)
    return path


def _group(slo: SLO, policy: Policy, runbook_base: str, dashboard_base: str) -> dict[str, Any]:
    query = sli_query(slo)
    period = factor_period_s(slo.window)
    windows = sorted({*STANDARD_WINDOWS_S, *policy.windows_s(), period})
    base_labels = {"slo": slo.name, "sli_kind": slo.sli.kind}
    rules: list[dict[str, Any]] = [
        {
            "record": f"slo:sli_error:ratio_rate{prom_duration(w)}",
            "expr": query.error_ratio.replace("{w}", prom_duration(w)),
            "labels": dict(base_labels),
        }
        for w in windows
    ]
    longs = sorted({p.long_s for t in policy.tiers for p in t.pairs})
    if query.total is not None:
        rules += [
            {
                "record": f"slo:sli_total:increase{prom_duration(w)}",
                "expr": query.total.replace("{w}", prom_duration(w)),
                "labels": dict(base_labels),
            }
            for w in longs
        ]
    budget = repr(slo.error_budget)
    sel = f'{{slo="{slo.name}"}}'
    rules += [
        {
            "record": "slo:objective:ratio",
            "expr": f"vector({slo.objective!r})",
            "labels": {"slo": slo.name},
        },
        {
            "record": "slo:error_budget:ratio",
            "expr": f"vector({budget})",
            "labels": {"slo": slo.name},
        },
        {
            "record": "slo:period_error_budget_remaining:ratio",
            "expr": f"1 - slo:sli_error:ratio_rate{prom_duration(period)}{sel} / {budget}",
            "labels": dict(base_labels),
        },
        {
            "record": "slo:current_burn_rate:ratio",
            "expr": f"slo:sli_error:ratio_rate{prom_duration(CURRENT_BURN_WINDOW_S)}{sel} / {budget}",
            "labels": dict(base_labels),
        },
    ]
    faster: list[str] = []
    for tier in policy.tiers:
        conds = [_pair_expr(slo, query, p.long_s, p.short_s, p.factor(period)) for p in tier.pairs]
        expr = " or ".join(conds)
        if faster:
            expr = f"({expr}) unless on() ({' or '.join(faster)})"
        faster += conds
        kind = f"slo_burn_{tier.severity}"
        annotations = {
            "summary": f"SLO {slo.name} is burning its error budget ({tier.severity})",
            "description": (
                f"{slo.description or slo.name}: error ratio above the {policy.name} "
                f"{tier.severity} burn-rate thresholds (objective {slo.objective:g})."
            ),
            "runbook_url": slo.runbook_url or runbook_url(kind, runbook_base),
        }
        if dashboard_base:
            annotations["dashboard_url"] = f"{dashboard_base.rstrip('/')}/{slo.name}"
        rules.append(
            {
                "alert": ALERT_NAMES[tier.severity],
                "expr": expr,
                "labels": {
                    **dict(slo.labels),
                    "slo": slo.name,
                    "severity": tier.severity,
                    "kind": kind,
                },
                "annotations": annotations,
            }
        )
    return {"name": f"qsre-slo-{slo.name}", "rules": rules}


def _pair_expr(slo: SLO, query: SLIQuery, long_s: int, short_s: int, factor: float) -> str:
    threshold = repr(factor * slo.error_budget)
    sel = f'{{slo="{slo.name}"}}'
    lw, sw = prom_duration(long_s), prom_duration(short_s)
    parts = [
        f"slo:sli_error:ratio_rate{lw}{sel} > {threshold}",
        f"slo:sli_error:ratio_rate{sw}{sel} > {threshold}",
    ]
    if query.total is not None and slo.sli.kind != "cost_budget":
        parts.append(f"on() slo:sli_total:increase{lw}{sel} >= {slo.min_events}")
    parts.append(f"on() count({query.history} offset {lw}) > 0")
    return "(" + " and ".join(parts) + ")"


def _ratio(bad: str, total: str) -> str:
    return f"(sum(rate({bad}[{{w}}])) or vector(0)) / sum(rate({total}[{{w}}]))"


def _sum_inc(selector: str) -> str:
    return f"sum(increase({selector}[{{w}}]))"


def _sel(metric: str, matchers: list[str]) -> str:
    inner = ", ".join(m for m in matchers if m)
    return f"{metric}{{{inner}}}" if inner else metric


def _matcher(label: str, values: tuple[str, ...]) -> str:
    if not values:
        return ""
    if len(values) == 1:
        return f"{label}={_quote(values[0])}"
    pattern = "|".join("".join("\\" + c if c in _RE2_SPECIAL else c for c in v) for v in values)
    return f"{label}=~{_quote(pattern)}"


def _quote(value: str) -> str:
    # PromQL double-quoted strings follow Go escaping, which JSON escaping satisfies.
    return json.dumps(value)
