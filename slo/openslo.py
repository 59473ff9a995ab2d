"""Import OpenSLO v1 ``SLO`` documents into qsre SLO models.

Supported: ``apiVersion: openslo/v1``, ``kind: SLO`` with an inline ``indicator``
whose ``spec.ratioMetric`` has ``good`` (or ``bad``) and ``total`` metric sources of
``type: qsre``, each ``spec: {sli: <kind>, backend, project, tags,
threshold_seconds, budget_usd, margin}``. qsre computes good and total from the SLI kind,
so both sources must name the same kind and filters. ``timeWindow``: rolling
(``isRolling: true``, ``duration`` like 28d) or calendar (``isRolling: false``,
``duration`` 1M or 1w, ``calendar.timeZone``; the period is aligned to the
calendar month/ISO week, so ``calendar.startTime`` only has to parse).
``budgetingMethod``: Occurrences or Timeslices (``timeSliceTarget`` and
``timeSliceWindow``; the lowercase ``timesliceTarget`` spelling is accepted too).
An SLO with several objectives becomes one qsre SLO per objective, named
``<name>-<objective name or index>``. Anything else is rejected with a SpecError.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from slo.errors import SpecError
from slo.spec import (
    SLO,
    Budgeting,
    Fields,
    build_sli,
    check_unique,
    check_zone,
    is_number,
    parse_name,
    parse_objective,
    parse_policy_name,
    rolling,
)
from slo.windows import CalendarWindow, Window, parse_duration_s

_SOURCE_KEYS = ("sli", "backend", "project", "tags", "threshold_seconds", "budget_usd", "margin")


def import_openslo(docs: Any, file: str) -> tuple[SLO, ...]:
    """SLO models from a list of YAML-loaded OpenSLO documents (or a single one).

    Documents of other kinds (Service, SLI, AlertPolicy, ...) are ignored: they
    carry nothing qsre evaluates.
    """
    if isinstance(docs, dict):
        docs = [docs]
    if not isinstance(docs, list):
        raise SpecError(file, "<root>", "an OpenSLO document or a list of them", docs)
    slos: list[SLO] = []
    for i, doc in enumerate(docs):
        path = f"[{i}]" if len(docs) > 1 else ""
        f = Fields(doc, file, path, "an OpenSLO document (a mapping)")
        if f.data.get("apiVersion") != "openslo/v1":
            raise f.fail("apiVersion", "openslo/v1", f.data.get("apiVersion"))
        if f.data.get("kind") != "SLO":
            continue
        slos.extend(_import_slo(f))
    check_unique(slos, file, "<documents>")
    return tuple(slos)


def _import_slo(doc: Fields) -> list[SLO]:
    file = doc.file
    meta = Fields(doc.data.get("metadata"), file, doc.at("metadata"), "a mapping with name")
    name = parse_name(meta.data.get("name"), file, meta.at("name"))
    labels = _labels(meta)
    spec = Fields(doc.data.get("spec"), file, doc.at("spec"), "a mapping (the SLO spec)")
    description = spec.string("description")
    if "indicatorRef" in spec.data and "indicator" not in spec.data:
        raise spec.fail(
            "indicatorRef", "an inline indicator (indicatorRef is not supported)", "set"
        )
    indicator = Fields(spec.data.get("indicator"), file, spec.at("indicator"), "an inline SLI")
    sli_spec = Fields(indicator.data.get("spec"), file, indicator.at("spec"), "a mapping")
    if "ratioMetric" not in sli_spec.data:
        raise sli_spec.fail(
            "ratioMetric", "a ratioMetric (thresholdMetric is not supported)", sli_spec.data
        )
    ratio = Fields(sli_spec.data["ratioMetric"], file, sli_spec.at("ratioMetric"), "a mapping")
    total = _source(ratio, "total")
    good_key = "good" if "good" in ratio.data else "bad"
    good = _source(ratio, good_key)
    if good.data != total.data:
        raise ratio.fail(
            good_key,
            "the same qsre sli kind and filters as total (qsre derives good and total from the kind)",
            good.data,
        )
    sli = build_sli(Fields(_as_native(good), file, good.path, "a mapping"))
    window = _window(spec)
    policy = parse_policy_name(spec.data.get("alertPolicy"), file, spec.at("alertPolicy"))
    method = spec.data.get("budgetingMethod", "Occurrences")
    if method not in ("Occurrences", "Timeslices"):
        raise spec.fail("budgetingMethod", "Occurrences or Timeslices", method)
    objectives = spec.data.get("objectives")
    if not isinstance(objectives, list) or not objectives:
        raise spec.fail("objectives", "a non-empty list of objectives", objectives)
    out = []
    for j, raw in enumerate(objectives):
        obj = Fields(raw, file, spec.at(f"objectives[{j}]"), "a mapping with target")
        target = _target(obj)
        budgeting = _budgeting(obj, method)
        slo_name = name
        if len(objectives) > 1:
            suffix = obj.data.get("name") or obj.data.get("displayName") or str(j)
            slo_name = parse_name(f"{name}-{suffix}".lower(), file, obj.at("name"))
        out.append(
            SLO(
                name=slo_name,
                objective=target,
                sli=sli,
                window=window,
                description=description,
                policy=policy,
                labels=labels,
                budgeting=budgeting,
                source=f"{file}: {doc.path or 'SLO'} {name}",
            )
        )
    return out


def _labels(meta: Fields) -> tuple[tuple[str, str], ...]:
    # OpenSLO allows a label to hold a list of values; Prometheus labels hold one.
    raw = meta.data.get("labels")
    if isinstance(raw, dict):
        flat = {
            k: ",".join(v) if isinstance(v, list) and all(isinstance(x, str) for x in v) else v
            for k, v in raw.items()
        }
        return Fields({"labels": flat}, meta.file, meta.path, "").str_map("labels", label_keys=True)
    if raw is not None:
        raise meta.fail("labels", "a mapping of label names to values", raw)
    return ()


def _source(ratio: Fields, key: str) -> Fields:
    metric = Fields(ratio.data.get(key), ratio.file, ratio.at(key), "a mapping with metricSource")
    source = Fields(
        metric.data.get("metricSource"), ratio.file, metric.at("metricSource"), "a mapping"
    )
    if source.data.get("type") != "qsre":
        raise source.fail(
            "type",
            "qsre (only qsre's own store is a supported metric source)",
            source.data.get("type"),
        )
    spec = Fields(source.data.get("spec"), ratio.file, source.at("spec"), "a mapping with sli")
    spec.unknown(_SOURCE_KEYS)
    return spec


def _as_native(source: Fields) -> dict[str, Any]:
    data = dict(source.data)
    data["kind"] = data.pop("sli", None)
    return data


def _window(spec: Fields) -> Window:
    windows = spec.data.get("timeWindow")
    if not isinstance(windows, list) or len(windows) != 1:
        raise spec.fail("timeWindow", "a list with exactly one time window", windows)
    tw = Fields(windows[0], spec.file, spec.at("timeWindow[0]"), "a mapping with duration")
    is_rolling = tw.data.get("isRolling", False)
    if not isinstance(is_rolling, bool):
        raise tw.fail("isRolling", "true or false", is_rolling)
    duration = tw.data.get("duration")
    if is_rolling:
        return rolling(duration, tw.file, tw.at("duration"))
    units = {"1M": "month", "1w": "week"}
    if duration not in units:
        raise tw.fail("duration", "1M or 1w for a calendar window", duration)
    cal = Fields(tw.data.get("calendar", {}), tw.file, tw.at("calendar"), "a mapping")
    start = cal.data.get("startTime")
    if start is not None:
        try:
            datetime.fromisoformat(str(start))
        except ValueError:
            raise cal.fail("startTime", "a date-time like 2024-01-01 00:00:00", start) from None
    zone = cal.string("timeZone", default="UTC")
    check_zone(zone, cal.file, cal.at("timeZone"))
    return CalendarWindow(unit=units[duration], time_zone=zone)


def _target(obj: Fields) -> float:
    if "target" in obj.data:
        return parse_objective(obj.data["target"], obj.file, obj.at("target"))
    if "targetPercent" in obj.data:
        pct = obj.data["targetPercent"]
        if not is_number(pct) or not 0 < pct < 100:
            raise obj.fail("targetPercent", "a number strictly between 0 and 100", pct)
        return float(pct) / 100
    raise obj.fail("target", "a number strictly between 0 and 1 (required)", None)


def _budgeting(obj: Fields, method: str) -> Budgeting:
    if method == "Occurrences":
        return Budgeting()
    key_t = "timeSliceTarget" if "timeSliceTarget" in obj.data else "timesliceTarget"
    key_w = "timeSliceWindow" if "timeSliceWindow" in obj.data else "timesliceWindow"
    target = obj.number(key_t, "a number in (0, 1] for Timeslices", lambda v: 0 < v <= 1)
    window_s = parse_duration_s(obj.data.get(key_w))
    if window_s is None or window_s % 60 or window_s > 3600:
        raise obj.fail(
            key_w, "a whole number of minutes from 1m to 1h, like 1m or 5m", obj.data.get(key_w)
        )
    return Budgeting(method="timeslices", timeslice_target=target, timeslice_window_s=window_s)
