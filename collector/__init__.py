"""qsre collector: execution proxy, event store, metrics and traces for quantum backends.

The public names are imported on first use (PEP 562): ``import collector.schema``
(every read-only command) must not pay for qiskit and the provider wrappers, about
0.8 s of a 2 s CLI start.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_WHERE = {
    "instrument_braket": "collector.braket",
    "Clock": "collector.clock",
    "SystemClock": "collector.clock",
    "VirtualClock": "collector.clock",
    "CollectorError": "collector.errors",
    "InvalidInput": "collector.errors",
    "QuotaExceeded": "collector.errors",
    "ResultCorrupt": "collector.errors",
    "StoreError": "collector.errors",
    "instrument_estimator": "collector.estimator",
    "ExecutionProxy": "collector.proxy",
    "Job": "collector.records",
    "RetryPolicy": "collector.retry",
    "instrument_sampler": "collector.sampler",
    "Store": "collector.store",
}

__all__ = [
    "Clock",
    "CollectorError",
    "ExecutionProxy",
    "InvalidInput",
    "Job",
    "QuotaExceeded",
    "ResultCorrupt",
    "RetryPolicy",
    "Store",
    "StoreError",
    "SystemClock",
    "VirtualClock",
    "instrument_braket",
    "instrument_estimator",
    "instrument_sampler",
]
if set(__all__) != set(_WHERE):  # one list kept by hand beside the other
    raise ImportError(f"collector.__all__ != the lazily imported names {sorted(_WHERE)}")

if TYPE_CHECKING:  # for type checkers and IDEs: the same names, eagerly
    from collector.braket import instrument_braket
    from collector.clock import Clock, SystemClock, VirtualClock
    from collector.errors import (
        CollectorError,
        InvalidInput,
        QuotaExceeded,
        ResultCorrupt,
        StoreError,
    )
    from collector.estimator import instrument_estimator
    from collector.proxy import ExecutionProxy
    from collector.records import Job
    from collector.retry import RetryPolicy
    from collector.sampler import instrument_sampler
    from collector.store import Store


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'collector' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # once: later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))
