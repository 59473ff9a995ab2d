"""Real BackendV2 test doubles built on AerSimulator: they run real simulations and
fail in scripted ways, like a provider would."""

from __future__ import annotations

from concurrent.futures import Future
from typing import Any

from qiskit.providers import BackendV2, JobStatus, JobV1, Options
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


class HeldJob(JobV1):
    """A job backed by a ``concurrent.futures.Future`` (as Aer's ``AerJob`` is),
    whose completion the test chooses: ``release()`` completes it with the real
    simulation result, ``fail(exc)`` with an exception. ``hidden``: the future is
    not where Aer keeps it (``_future``), like a provider's job without one."""

    def __init__(self, backend: HeldBackend, result: Any, hidden: bool = False) -> None:
        super().__init__(backend, result.job_id)  # as AerJob: the id its result carries
        self._pending: Future = Future()
        if not hidden:
            self._future = self._pending
        self._result = result

    def submit(self) -> None:  # submitted by HeldBackend.run
        pass

    def release(self) -> None:
        self._pending.set_result(self._result)

    def fail(self, exc: BaseException) -> None:
        self._pending.set_exception(exc)

    def result(self, timeout: float | None = None) -> Any:
        return self._pending.result(timeout=timeout)

    def status(self) -> JobStatus:  # as AerJob.status() reads its future
        if not self._pending.done():
            return JobStatus.RUNNING
        if self._pending.cancelled():
            return JobStatus.CANCELLED
        return JobStatus.DONE if self._pending.exception() is None else JobStatus.ERROR

    def cancel(self) -> bool:
        return self._pending.cancel()


class HeldBackend(ScriptedBackend):
    """Runs real Aer simulations but holds each job until the test releases it.
    ``edit(result)`` may rewrite a result before it is held (corrupt counts, ...).
    ``hidden``: its jobs hide their future (see ``HeldJob``)."""

    def __init__(self, edit: Any = None, hidden: bool = False) -> None:
        super().__init__()
        self.edit = edit
        self.hidden = hidden
        self.jobs: list[HeldJob] = []

    def run(self, run_input: Any, **options: Any) -> HeldJob:
        result = super().run(run_input, **options).result()
        if self.edit is not None:
            self.edit(result)
        job = HeldJob(self, result, self.hidden)
        self.jobs.append(job)
        return job


class PollingJob(JobV1):
    """A provider-style job (no future): ``result()`` raises the scripted
    ``poll_errors`` one per call, in order, then returns the real simulation result.
    Its status is RUNNING while errors remain, then ``final``."""

    def __init__(
        self, backend: CountingBackend, result: Any, poll_errors: list[BaseException]
    ) -> None:
        super().__init__(backend, f"prov-{len(backend.jobs)}")
        self._result = result
        self.poll_errors = poll_errors
        self.final = JobStatus.DONE
        self.polls = 0

    def submit(self) -> None:  # submitted by CountingBackend.run
        pass

    def result(self, timeout: float | None = None) -> Any:
        self.polls += 1
        if self.poll_errors:
            raise self.poll_errors.pop(0)
        return self._result

    def status(self) -> JobStatus:
        return JobStatus.RUNNING if self.poll_errors else self.final

    def cancel(self) -> bool:
        return False


class CountingBackend(ScriptedBackend):
    """Counts every execution it is asked for (each ``run`` runs the circuits once,
    on Aer); each job's ``result()`` first raises ``poll_errors`` (a fresh copy per
    job), like a provider whose polling endpoint fails."""

    def __init__(self, poll_errors: list[BaseException] | None = None) -> None:
        super().__init__()
        self.poll_errors = list(poll_errors or [])
        self.executions: list[Any] = []
        self.jobs: list[PollingJob] = []

    def run(self, run_input: Any, **options: Any) -> PollingJob:
        result = super().run(run_input, **options).result()
        self.executions.append(run_input)
        job = PollingJob(self, result, list(self.poll_errors))
        self.jobs.append(job)
        return job
