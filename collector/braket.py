"""Recording for native Amazon Braket devices: ``instrument_braket(device, store=...)``.

Wraps a ``braket.devices.LocalSimulator`` or ``braket.aws.AwsDevice``: every
``device.run(task_specification, shots=...)`` becomes one job record, and every
task of ``device.run_batch(...)`` one more, with the same fields as
``ExecutionProxy`` jobs (status submitted -> done/error/cancelled, shots, counts,
cost, provider task id, backend = the device's name, "braket_sv" for the local
state-vector simulator).

A task that was created (it has a task id) is never created again: errors while
waiting for its result re-poll the same task (transient ones, within the retry
policy) or reach the caller without being recorded or cached, so a later
``result()`` still returns the result. Only a failed creation may be retried, and
not by qsre where the client already retried it (botocore makes 3 attempts in its
default mode, each with the same idempotency token; a new ``run()`` would carry a
new one).

Counts are stored in Qiskit's bit order (classical bit 0 rightmost): Braket's
``measurement_counts`` keys list the measured qubits left to right, so they are
reversed, as qiskit-braket-provider does; the same circuit run natively and
through qiskit-braket-provider then records the same counts.
"""

from __future__ import annotations

import hashlib
import inspect
import logging
import threading
from collections.abc import Sequence
from typing import Any

from collector.classify import classify_exception
from collector.ids import new_job_id
from collector.primitive import InstrumentedPrimitive
from collector.providers.braket import is_local_task, task_times
from collector.recording import error_fields
from collector.spool_format import finish_times

log = logging.getLogger(__name__)

# Provider timestamps further than this outside what qsre observed (submitted ..
# collected) come from another clock or another job: qsre's own times are used.
CLOCK_SKEW_S = 2.0
# Where Braket's result() gives None for a task that ended (AwsQuantumTask's
# NO_RESULT_TERMINAL_STATES); None in any other state is a wait that ran out.
_ENDED_WITHOUT_RESULT = ("FAILED", "CANCELLED")


def _circuit_fields(specs: Sequence[Any]) -> dict[str, Any]:
    """Hash, width and depth of the tasks' programs (Braket circuits or OpenQASM
    programs); what cannot be read is left out."""
    digest = hashlib.sha256()
    qubits: list[int] = []
    depths: list[int] = []
    for spec in specs:
        source = getattr(spec, "source", None)  # an OpenQASMProgram
        if source is None and callable(getattr(spec, "to_ir", None)):
            try:
                from braket.circuits.serialization import IRType

                source = spec.to_ir(IRType.OPENQASM).source
            except Exception:  # noqa: BLE001 - metadata only
                source = None
        if source is None:
            return {}
        digest.update(hashlib.sha256(str(source).encode()).digest())
        for attr, out in (("qubit_count", qubits), ("depth", depths)):
            value = getattr(spec, attr, None)
            if isinstance(value, int):
                out.append(value)
    fields: dict[str, Any] = {"circuit_hash": digest.hexdigest()}
    if qubits:
        fields["max_qubits"] = max(qubits)
    if depths:
        fields["max_depth"] = max(depths)
    return fields


def _counts(result: Any) -> list[dict[str, Any]] | None:
    """A gate-model result's counts in Qiskit's bit order, or None (no measurements:
    shots=0 result types, analog or annealing tasks)."""
    try:
        counts = getattr(result, "measurement_counts", None)
    except Exception:  # noqa: BLE001 - shots=0 results have no measurements
        return None
    if not counts:
        return None
    width = len(next(iter(counts)))
    return [
        {
            "fmt": "bin",
            "num_clbits": width,
            "counts": {key[::-1]: int(n) for key, n in counts.items()},
        }
    ]


def _shots_argument(run: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """The ``shots`` a call to ``run`` passes, by name or position (the devices'
    signatures differ: ``LocalSimulator.run(spec, shots, ...)``,
    ``AwsDevice.run(spec, s3_destination_folder, shots, ...)``)."""
    if "shots" in kwargs:
        return kwargs["shots"]
    try:
        return inspect.signature(run).bind_partial(None, *args).arguments.get("shots")
    except (TypeError, ValueError):
        return None


def _task_count(specs: Any, inputs: Any) -> int:
    if isinstance(specs, (list, tuple)):
        return len(specs)
    return len(inputs) if isinstance(inputs, (list, tuple)) else 1


class InstrumentedBraketDevice(InstrumentedPrimitive):
    """A Braket device whose tasks are recorded. Unknown attributes pass through.
    (Identity, calibration, list prices and retries as the primitive instruments;
    botocore retries a throttled CreateQuantumTask itself, with one idempotency
    token, and a retry of qsre's would be a new task: none on top.)"""

    kind = "braket"

    @staticmethod
    def _backend_of(device: Any) -> Any:
        return device

    @property
    def _device(self) -> Any:
        return self._primitive

    # ------------------------------------------------------------ submission
    def run(self, task_specification: Any, *args: Any, **kwargs: Any) -> InstrumentedTask:
        """``device.run(...)``, recorded: same arguments, a task with the same
        interface."""
        shots = _shots_argument(self._device.run, args, kwargs)
        job_id, submitted_s = self._begin(shots, [task_specification])
        task, attempts = self._submit(
            job_id, submitted_s, lambda: self._device.run(task_specification, *args, **kwargs)
        )
        return InstrumentedTask(self, task, job_id, submitted_s, attempts)

    def run_batch(self, task_specifications: Any, *args: Any, **kwargs: Any) -> InstrumentedBatch:
        """``device.run_batch(...)``, each task recorded as a job. Pass ``shots`` and
        ``inputs`` by keyword (the positional order differs between devices). A
        batch is never resubmitted: some of its tasks may exist already."""
        count = _task_count(task_specifications, kwargs.get("inputs"))
        specs = (
            list(task_specifications)
            if isinstance(task_specifications, (list, tuple))
            else [task_specifications] * count
        )
        jobs = [self._begin(kwargs.get("shots"), [spec]) for spec in specs]
        try:
            batch = self._device.run_batch(task_specifications, *args, **kwargs)
        except Exception as exc:
            error_class = classify_exception(exc)
            for job_id, submitted_s in jobs:
                self._rec.event(
                    job_id, error_fields(error_class, exc, 1, submitted_s, self._rec.now_s())
                )
            raise
        return InstrumentedBatch(self, batch, jobs)

    def _begin(self, shots: Any, specs: Sequence[Any]) -> tuple[str, float]:
        """A new job: its submitted event (after the quota guard, which may raise
        ``QuotaExceeded``); returns its id and submission time."""
        job_id = new_job_id()
        submitted_s = self._rec.now_s()
        fields: dict[str, Any] = {
            "shots": shots if isinstance(shots, int) and not isinstance(shots, bool) else None,
            "num_circuits": len(specs),
            "idempotency_key": job_id,
            "calibration_at": self._watch.calibration_s(submitted_s),
        }
        try:
            fields.update(_circuit_fields(specs))
        except Exception:  # noqa: BLE001 - telemetry never breaks the user's call
            self._rec.failed()
        shots_n = fields["shots"] or 0
        self._rec.admit(
            job_id,
            submitted_s,
            fields,
            total_shots=shots_n * len(specs),
            shots=shots_n,
            num_circuits=len(specs),
        )
        self._rec.submitted(job_id, submitted_s, fields)
        return job_id, submitted_s

    def _submit(self, job_id: str, submitted_s: float, submit: Any) -> tuple[Any, int]:
        """Create the task: (task, attempts), retried by qsre only where the client
        makes a single attempt itself (``JobRecording.submit_with_retry``)."""
        task, attempts, _ = self._rec.submit_with_retry(job_id, submitted_s, submit)
        return task, attempts


class InstrumentedTask:
    """A Braket task, recorded when its result is collected (or it is cancelled).
    Unknown attributes pass through."""

    def __init__(
        self,
        device: InstrumentedBraketDevice,
        task: Any,
        job_id: str,
        submitted_s: float,
        attempts: int,
    ) -> None:
        self._owner = device
        self._task = task
        self.qsre_job_id = job_id
        self._submitted_s = submitted_s
        self._attempts = attempts
        self._lock = threading.Lock()
        self._outcome: tuple[Any] | None = None  # the provider's result, once settled

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._task, name)

    @property
    def attempts(self) -> int:
        return self._attempts

    def result(self) -> Any:
        """The task's result as Braket returns it (None for a failed or cancelled
        AWS task), recorded once. Errors while waiting propagate unrecorded and
        uncached: the task exists, and a later call may still get its result."""
        with self._lock:
            if self._outcome is None:
                result = self._poll()
                if not self._settle(result):
                    # Braket's own wait ran out (poll_timeout_seconds) with the task
                    # not finished: it goes on, and a later call may get its result.
                    return result
            return self._outcome[0]  # type: ignore[index]

    def cancel(self) -> None:
        """Cancel the task. Recorded cancelled once Braket says CANCELLED; a task
        still CANCELLING may yet complete, and ``result()`` records what it became."""
        self._task.cancel()
        try:
            state = str(self._task.state())
        except Exception:  # noqa: BLE001 - the cancel went through; its state is unknown
            return
        if state == "CANCELLED":
            with self._lock:
                if self._outcome is None:
                    self._outcome = (None,)  # what Braket's result() gives a cancelled task
                    self._owner._rec.safe(self._record_cancelled)

    def _poll(self) -> Any:
        rec = self._owner._rec
        polls, slept_s = 1, 0.0
        while True:
            try:
                return self._task.result()
            except Exception as exc:
                delay = rec.backoff(classify_exception(exc), polls, slept_s)
                if delay is None:
                    raise
                slept_s += delay
                polls += 1

    def _settle(self, result: Any, task: Any = None) -> bool:
        """Record the task's outcome and keep its result, if it has ended (a None
        result with the task in no end state means the client stopped waiting).
        ``task``: the batch's final task for this slot, if Braket retried it."""
        if task is not None:
            self._task = task
        state = None
        if result is None:
            try:
                state = str(self._task.state())
            except Exception:  # noqa: BLE001 - unknown state: not settled, ask again later
                return False
            if state not in _ENDED_WITHOUT_RESULT:
                return False
        self._outcome = (result,)
        self._owner._rec.safe(self._record, result, state)
        return True

    def _record(self, result: Any, state: str | None) -> None:
        rec = self._owner._rec
        now_s = rec.now_s()
        if result is None:
            if state == "CANCELLED":
                self._record_cancelled()
                return
            reason = self._failure_reason()
            exc = RuntimeError(f"Braket task {self._task.id} ended {state}: {reason}")
            rec.event(
                self.qsre_job_id,
                {
                    **error_fields("backend", exc, self._attempts, self._submitted_s, now_s),
                    "provider_job_id": str(self._task.id),
                },
            )
            return
        shots = getattr(getattr(result, "task_metadata", None), "shots", None)
        counts = _counts(result)
        times = self._times(now_s, result)
        fields: dict[str, Any] = {
            "status": "done",
            "attempts": self._attempts,
            "provider_job_id": str(self._task.id),
            "cost_usd": rec.cost_usd(shots or 0, 1, times["run_seconds"]),
            **times,
        }
        if isinstance(shots, int):
            fields["shots"] = shots
        if counts is not None and rec.record_counts:
            fields["counts"] = counts
        if counts is not None and isinstance(shots, int) and shots:
            total = sum(counts[0]["counts"].values())
            if total != shots:  # recorded as the provider gave them, never raised
                fields["shots_discrepancy"] = total - shots  # as the proxy records it
                log.warning(
                    "Braket task %s: counts sum to %d, %d shots were asked for",
                    self._task.id,
                    total,
                    shots,
                )
        rec.event(self.qsre_job_id, fields)

    def _times(self, now_s: float, result: Any) -> dict[str, Any]:
        """Finished/started/queue/run/e2e times: the task's own stamps where they fit
        what qsre observed, else what qsre observed."""
        provider = task_times([self._task], [result])
        finished_s, started_s, run_s = now_s, None, None
        if provider is None:
            return {
                "finished_at": finished_s,
                **finish_times(self._submitted_s, finished_s, started_s, run_s),
            }
        if (
            provider.created_s is not None
            and provider.finished_s is not None
            and self._submitted_s - CLOCK_SKEW_S <= provider.created_s
            and provider.created_s <= provider.finished_s <= now_s + CLOCK_SKEW_S
        ):
            finished_s = min(max(provider.finished_s, self._submitted_s), now_s)
            if is_local_task(self._task):
                # A local task runs inside run(), from its creation: no queue.
                started_s = max(provider.created_s, self._submitted_s)
        run_s = provider.run_seconds
        if started_s is not None:
            run_s = finished_s - started_s
        elif run_s is not None and run_s > finished_s - self._submitted_s:
            run_s = None  # longer than the whole job as observed: not this job's, or wrong
        return {
            "finished_at": finished_s,
            **finish_times(self._submitted_s, finished_s, started_s, run_s),
        }

    def _failure_reason(self) -> str:
        try:
            metadata = self._task.metadata(use_cached_value=True) or {}
            return str(metadata.get("failureReason") or "no reason given")
        except Exception:  # noqa: BLE001 - metadata only
            return "no reason given"

    def _record_cancelled(self) -> None:
        rec = self._owner._rec
        now_s = rec.now_s()
        rec.event(
            self.qsre_job_id,
            {
                "status": "cancelled",
                "attempts": self._attempts,
                "finished_at": now_s,
                "e2e_seconds": max(0.0, now_s - self._submitted_s),
                "provider_job_id": str(self._task.id),
            },
        )


class InstrumentedBatch:
    """A Braket task batch whose tasks are recorded. Unknown attributes pass through."""

    def __init__(
        self, device: InstrumentedBraketDevice, batch: Any, jobs: list[tuple[str, float]]
    ) -> None:
        self._owner = device
        self._batch = batch
        inner_tasks = getattr(batch, "tasks", None)
        if inner_tasks is None:
            # A local batch has run already and holds only results: one task each.
            from braket.tasks.local_quantum_task import LocalQuantumTask

            inner_tasks = [LocalQuantumTask(result) for result in batch.results()]
        if len(inner_tasks) != len(jobs):
            log.warning(
                "Braket batch: %d tasks for %d submitted specifications; recording %d",
                len(inner_tasks),
                len(jobs),
                min(len(inner_tasks), len(jobs)),
            )
        self._tasks = [
            InstrumentedTask(device, task, job_id, submitted_s, 1)
            for task, (job_id, submitted_s) in zip(inner_tasks, jobs, strict=False)
        ]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._batch, name)

    @property
    def tasks(self) -> list[InstrumentedTask]:
        return list(self._tasks)

    def results(self, *args: Any, **kwargs: Any) -> list[Any]:
        """The batch's results as Braket returns them; each task recorded once."""
        results = self._batch.results(*args, **kwargs)
        final_tasks = getattr(self._batch, "tasks", None)  # Braket may have retried some
        for index, (task, result) in enumerate(zip(self._tasks, results, strict=False)):
            with task._lock:
                if task._outcome is None:
                    retried = final_tasks[index] if final_tasks is not None else None
                    task._settle(result, retried)
        return results


def instrument_braket(device: Any, **kwargs: Any) -> InstrumentedBraketDevice:
    """Wrap a native Braket device so that every task is recorded (see
    ``InstrumentedBraketDevice``; keywords: store, project, tags, pricing, quotas,
    retry, clock, record_counts, recorder, backend_name)."""
    return InstrumentedBraketDevice(device, **kwargs)


__all__ = ["InstrumentedBatch", "InstrumentedBraketDevice", "InstrumentedTask", "instrument_braket"]
