"""A backend's reported calibration: when it was taken and a small summary.

The time comes from the backend's provider adapter first (``collector.providers``:
qiskit-ibm-runtime's ``properties().last_update_date``, IonQ's
``calibration().date``, Braket's device properties), then the conventions: a qsre
``last_calibrated_at`` attribute (simulated backends), a ``properties()`` with
``last_update_date``. Whatever offset the provider gives, the result is aware UTC.
The summary comes from the Qiskit 2 ``Target`` (instruction error rates, T1/T2).
"""

from __future__ import annotations

import statistics
from datetime import datetime
from typing import Any

from collector.providers import GENERIC, adapter_for
from collector.providers.base import to_utc


def calibration_timestamp(backend: Any) -> datetime | None:
    """When ``backend``'s current calibration was taken, as an aware UTC datetime
    (a naive provider time is taken as UTC), or None when nobody says."""
    adapter = adapter_for(backend)
    inner = getattr(backend, "wrapped", None)  # an ExecutionProxy: ask its backend's
    if adapter is GENERIC and inner is not None and inner is not backend:
        return calibration_timestamp(inner)
    try:
        stamp = adapter.calibration_at(backend)
    except Exception:  # noqa: BLE001 - adapters promise not to raise; metadata only
        stamp = None
    if stamp is not None:
        return to_utc(stamp)
    value = getattr(backend, "last_calibrated_at", None)
    if callable(value):
        value = value()
    if value is None:
        props = getattr(backend, "properties", None)
        if callable(props):
            try:
                value = getattr(props(), "last_update_date", None)
            except Exception:  # noqa: BLE001 - a provider call; absence is fine
                value = None
    return to_utc(value)


def calibration_summary(backend: Any) -> dict[str, float]:
    """Median error rates by arity and readout, and median T1/T2, from the Target."""
    target = getattr(backend, "target", None)
    if target is None:
        return {}
    one_q: list[float] = []
    two_q: list[float] = []
    readout: list[float] = []
    try:
        for name in target.operation_names:
            for qargs, props in (target[name] or {}).items():
                if props is None or props.error is None or qargs is None:
                    continue
                if name == "measure":
                    readout.append(props.error)
                elif len(qargs) == 1:
                    one_q.append(props.error)
                elif len(qargs) == 2:
                    two_q.append(props.error)
        qprops = getattr(target, "qubit_properties", None) or []
        t1 = [p.t1 for p in qprops if p is not None and getattr(p, "t1", None)]
        t2 = [p.t2 for p in qprops if p is not None and getattr(p, "t2", None)]
    except Exception:  # noqa: BLE001 - best effort metadata
        return {}
    out: dict[str, float] = {}
    for key, values in (
        ("median_1q_error", one_q),
        ("median_2q_error", two_q),
        ("median_readout_error", readout),
        ("median_t1_seconds", t1),
        ("median_t2_seconds", t2),
    ):
        if values:
            out[key] = float(statistics.median(values))
    return out
