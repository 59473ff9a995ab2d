"""Real BackendV2 test doubles built on AerSimulator: they run real simulations and
fail in scripted ways, like a provider would."""

from __future__ import annotations

from typing import Any

from qiskit.providers import BackendV2, Options
from qiskit_aer import AerSimulator


class ServiceUnavailable(ConnectionError):
    """What a provider's HTTP layer raises on a 503."""


class NotAuthorized(Exception):
    """What a provider raises on a bad token (name matches qiskit-ibm-runtime's)."""


class ScriptedBackend(BackendV2):
    """Delegates to AerSimulator; ``failures`` is a list of exceptions raised by the
    next ``run`` calls, in order, before runs succeed. ``corrupt`` rewrites counts."""

    def __init__(self, failures: list[BaseException] | None = None, corrupt: str | None = None):
        super().__init__(name="scripted_aer")
        self._sim = AerSimulator()
        self.failures = list(failures or [])
        self.corrupt = corrupt
        self.run_calls = 0

    @property
    def target(self):
        return self._sim.target

    @property
    def max_circuits(self):
        return None

    @classmethod
    def _default_options(cls):
        return Options(shots=1024)

    def run(self, run_input: Any, **options: Any):
        self.run_calls += 1
        if self.failures:
            raise self.failures.pop(0)
        job = self._sim.run(run_input, **options)
        if self.corrupt:
            result = job.result()
            for exp in result.results:
                if self.corrupt == "width":
                    exp.data.counts = {hex(2 ** exp.header["memory_slots"] + 1): exp.shots}
                elif self.corrupt == "sum":
                    exp.data.counts = {"0x0": exp.shots - 1}
            job._future = None
            job.result = lambda *a, **k: result  # noqa: ARG005
        return job
