"""qiskit-aer: the local simulators. Nothing is remote, so nothing is transient:
an Aer failure is the caller's circuit (an instruction Aer does not know), the
machine's limits (more memory than it has for the chosen method) or Aer's own."""

from __future__ import annotations

import re
from typing import Any, ClassVar

from collector.providers import register
from collector.providers.base import ProviderAdapter, ProviderTimes, finite_s

# Failures that the same circuit meets every time: the caller must change the circuit.
_INPUT_RE = re.compile(
    r"unknown instruction|greater than (the )?max|invalid (parameters?|qubit)"
    r"|not (a )?valid|not supported|unsupported",
    re.I,
)
# The machine's memory is too small for this circuit with this method: resource
# exhaustion (failure mode F8), whatever the circuit's validity.
_RESOURCE_RE = re.compile(r"insufficient memory|out of memory|bad_alloc", re.I)


def _aer_class(message: str) -> str | None:
    if _RESOURCE_RE.search(message):
        return "resource"
    if _INPUT_RE.search(message):
        return "invalid_input"
    return None


class AerAdapter(ProviderAdapter):
    name: ClassVar[str] = "aer"
    modules: ClassVar[tuple[str, ...]] = ("qiskit_aer",)
    fallback_error_class: ClassVar[str | None] = "backend"

    def classify(self, exc: BaseException) -> str | None:
        return _aer_class(str(exc))

    def failed_result_class(self, result: Any) -> str:
        # Aer reports a circuit it cannot run in the result, not as an exception:
        # "ERROR: [Experiment 0] Insufficient memory to run circuit ...".
        statuses = [str(getattr(result, "status", ""))]
        statuses += [str(getattr(r, "status", "")) for r in getattr(result, "results", None) or []]
        classes = {_aer_class(status) for status in statuses}
        for error_class in ("resource", "invalid_input"):
            if error_class in classes:
                return error_class
        return "backend"

    def provider_times(self, job: Any, result: Any) -> ProviderTimes | None:
        # Aer runs at once in this process: no queue; result.time_taken is the run.
        run_seconds = finite_s(getattr(result, "time_taken", None))
        return ProviderTimes(run_seconds=run_seconds) if run_seconds is not None else None


ADAPTER = register(AerAdapter())
