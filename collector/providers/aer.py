"""qiskit-aer: the local simulators. Nothing is remote, so nothing is transient:
an Aer failure is either the caller's circuit (an instruction Aer does not know,
more memory than the machine has for the chosen method) or Aer's own."""

from __future__ import annotations

import re
from typing import Any, ClassVar

from collector.providers import register
from collector.providers.base import ProviderAdapter, ProviderTimes, finite_s

# Failures that the same circuit meets every time on this machine: the caller must
# change the circuit or the method. The error classes have no "resource exhausted";
# "Insufficient memory" is the same kind of limit as a circuit wider than the device.
_INPUT_RE = re.compile(
    r"unknown instruction|insufficient memory|greater than (the )?max|invalid (parameters?|qubit)"
    r"|not (a )?valid|not supported|unsupported",
    re.I,
)


class AerAdapter(ProviderAdapter):
    name: ClassVar[str] = "aer"
    modules: ClassVar[tuple[str, ...]] = ("qiskit_aer",)
    fallback_error_class: ClassVar[str | None] = "backend"

    def classify(self, exc: BaseException) -> str | None:
        if _INPUT_RE.search(str(exc)):
            return "invalid_input"
        return None

    def failed_result_class(self, result: Any) -> str:
        # Aer reports a circuit it cannot run in the result, not as an exception:
        # "ERROR: [Experiment 0] Insufficient memory to run circuit ...".
        statuses = [str(getattr(result, "status", ""))]
        statuses += [str(getattr(r, "status", "")) for r in getattr(result, "results", None) or []]
        if any(_INPUT_RE.search(status) for status in statuses):
            return "invalid_input"
        return "backend"

    def provider_times(self, job: Any, result: Any) -> ProviderTimes | None:
        # Aer runs at once in this process: no queue; result.time_taken is the run.
        run_seconds = finite_s(getattr(result, "time_taken", None))
        return ProviderTimes(run_seconds=run_seconds) if run_seconds is not None else None


ADAPTER = register(AerAdapter())
