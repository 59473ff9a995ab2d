"""qsre collector: execution proxy, event store, metrics and traces for quantum backends."""

from collector.clock import Clock, SystemClock, VirtualClock
from collector.errors import CollectorError, InvalidInput, QuotaExceeded, ResultCorrupt, StoreError
from collector.records import Job
from collector.store import Store

__all__ = [
    "Clock",
    "CollectorError",
    "InvalidInput",
    "Job",
    "QuotaExceeded",
    "ResultCorrupt",
    "Store",
    "StoreError",
    "SystemClock",
    "VirtualClock",
]
