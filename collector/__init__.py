"""qsre collector: execution proxy, event store, metrics and traces for quantum backends."""

from collector.braket import instrument_braket
from collector.clock import Clock, SystemClock, VirtualClock
from collector.errors import CollectorError, InvalidInput, QuotaExceeded, ResultCorrupt, StoreError
from collector.estimator import instrument_estimator
from collector.proxy import ExecutionProxy
from collector.records import Job
from collector.retry import RetryPolicy
from collector.sampler import instrument_sampler
from collector.store import Store

__all__ = [
    "Clock",
    "ExecutionProxy",
    "RetryPolicy",
    "instrument_braket",
    "instrument_estimator",
    "instrument_sampler",
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
