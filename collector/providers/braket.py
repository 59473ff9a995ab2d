"""Amazon Braket (extra ``braket``): native devices (``braket.devices.LocalSimulator``,
``braket.aws.AwsDevice``, recorded by ``collector.instrument_braket``) and Qiskit
backends through qiskit-braket-provider (``BraketLocalBackend``,
``BraketAwsBackend``).

- Identity: ``BraketLocalBackend()`` calls itself "default"; the device it runs is
  the local state-vector simulator, recorded as its device id "braket_sv" (what
  ``BraketLocalBackend("braket_sv")`` is called). AWS devices by their name ("SV1",
  "Forte 1", as qiskit-braket-provider names them).
- Errors: AWS API errors are botocore ``ClientError``s with
  ``response["Error"]["Code"]`` and ``response["ResponseMetadata"]["HTTPStatusCode"]``;
  missing credentials (``NoCredentialsError``) have neither.
- Times: each task's metadata (``createdAt``, ``endedAt``); the AWS simulators also
  report their execution duration.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from collector.cost import Pricing
from collector.providers import register
from collector.providers.base import (
    ProviderAdapter,
    ProviderTimes,
    epoch_s,
    finite_s,
    http_status_class,
    to_utc,
)
from collector.providers.pricing import list_price

_CODE_CLASS: dict[str, str] = {
    # Throttled or momentarily unavailable: the same request can succeed later.
    **dict.fromkeys(
        (
            "ThrottlingException",
            "Throttling",
            "TooManyRequestsException",
            "RequestLimitExceeded",
            "SlowDown",
            "ServiceUnavailableException",
            "ServiceUnavailable",
            "InternalServiceException",
            "InternalServerException",
            "InternalFailure",
            "InternalError",
            "RequestTimeout",
            "RequestTimeoutException",
        ),
        "transient",
    ),
    **dict.fromkeys(
        (
            "AccessDeniedException",
            "AccessDenied",
            "UnrecognizedClientException",
            "InvalidClientTokenId",
            "InvalidSignatureException",
            "SignatureDoesNotMatch",
            "ExpiredTokenException",
            "ExpiredToken",
            "MissingAuthenticationToken",
            "UnauthorizedOperation",
            "AuthFailure",
        ),
        "auth",
    ),
    **dict.fromkeys(
        (
            "ValidationException",
            "InvalidParameterException",
            "InvalidParameterValue",
            "InvalidRequestException",
            "BadRequestException",
            "SerializationException",
        ),
        "invalid_input",
    ),
    **dict.fromkeys(
        ("ServiceQuotaExceededException", "LimitExceededException", "QuotaExceededException"),
        "quota",
    ),
    # The device is offline or retired, or the task is gone: Braket's side.
    **dict.fromkeys(
        (
            "DeviceOfflineException",
            "DeviceRetiredException",
            "ResourceNotFoundException",
            "ConflictException",
        ),
        "backend",
    ),
}
_BOTOCORE_CLASS: dict[str, str] = {
    **dict.fromkeys(
        (
            "NoCredentialsError",
            "PartialCredentialsError",
            "CredentialRetrievalError",
            "UnauthorizedSSOTokenError",
            "TokenRetrievalError",
        ),
        "auth",
    ),
    **dict.fromkeys(
        (
            "EndpointConnectionError",
            "ConnectTimeoutError",
            "ReadTimeoutError",
            "ConnectionClosedError",
            "ResponseStreamingError",
            "ConnectionError",
            "HTTPClientError",
        ),
        "transient",
    ),
    **dict.fromkeys(("ParamValidationError", "ValidationError"), "invalid_input"),
    # No region configured: the client setup, like missing credentials.
    "NoRegionError": "auth",
}


def client_error_class(response: Any) -> str | None:
    """A botocore ``ClientError`` by its AWS error code, else its HTTP status."""
    if not isinstance(response, dict):
        return None
    code = str((response.get("Error") or {}).get("Code") or "")
    if code in _CODE_CLASS:
        return _CODE_CLASS[code]
    status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
    return http_status_class(status)


def native_device(backend: Any) -> Any:
    """The Braket device behind a qiskit-braket-provider backend (or the device)."""
    module = type(backend).__module__
    if module.startswith("qiskit_braket_provider"):
        return getattr(backend, "_device", None)
    return backend


def device_name(device: Any) -> str | None:
    """A native device's identity: a local simulator's device id ("braket_sv",
    "braket_dm"), an AWS device's name."""
    delegate = getattr(device, "_delegate", None)  # LocalSimulator's simulator
    device_id = getattr(delegate, "DEVICE_ID", None)
    if isinstance(device_id, str) and device_id:
        return device_id
    name = getattr(device, "name", None)
    return name if isinstance(name, str) and name else None


def device_arn(device: Any) -> str | None:
    arn = getattr(device, "arn", None)
    return arn if isinstance(arn, str) else None


def is_local(device: Any) -> bool:
    return type(device).__name__ == "LocalSimulator"


def task_times(tasks: list[Any], results: list[Any] | None = None) -> ProviderTimes | None:
    """Times of finished tasks (one job): earliest creation, latest end, and the
    summed execution duration where every task reports one (AWS simulators).
    ``results``: the tasks' results where the caller holds them already."""
    created: list[float] = []
    ended: list[float] = []
    durations: list[float | None] = []
    for index, task in enumerate(tasks):
        meta = _task_metadata(task, results[index] if results is not None else None)
        if meta is None:
            return None
        stamp = epoch_s(meta.get("createdAt"))
        if stamp is not None:
            created.append(stamp)
        stamp = epoch_s(meta.get("endedAt"))
        if stamp is not None:
            ended.append(stamp)
        durations.append(meta.get("executionDuration_s"))
    created_s = min(created) if created else None
    finished_s = max(ended) if ended else None
    run_seconds = (
        sum(d for d in durations if d is not None)
        if durations and all(d is not None for d in durations)
        else None
    )
    running_s = None
    if tasks and all(is_local_task(t) for t in tasks) and created_s is not None:
        # Local tasks run inside run(), from their creation to their end: no queue.
        running_s = created_s
        if finished_s is not None and run_seconds is None:
            run_seconds = max(0.0, finished_s - created_s)
    return ProviderTimes(
        created_s=created_s, running_s=running_s, finished_s=finished_s, run_seconds=run_seconds
    )


def _task_metadata(task: Any, result: Any = None) -> dict[str, Any] | None:
    """createdAt/endedAt of a finished task and its execution duration (seconds),
    from what the task already holds: a LocalQuantumTask holds its result; an
    AwsQuantumTask caches both its metadata and its result after ``result()``."""
    if result is None:
        try:
            result = task.result()
        except Exception:  # noqa: BLE001 - metadata only
            return None
    meta: dict[str, Any] = {}
    task_metadata = getattr(result, "task_metadata", None)
    if task_metadata is not None:
        meta["createdAt"] = getattr(task_metadata, "createdAt", None)
        meta["endedAt"] = getattr(task_metadata, "endedAt", None)
    cached = getattr(task, "metadata", None)
    if callable(cached) and not is_local_task(task):
        try:
            aws = cached(use_cached_value=True) or {}
            meta["createdAt"] = aws.get("createdAt") or meta.get("createdAt")
            meta["endedAt"] = aws.get("endedAt") or meta.get("endedAt")
        except Exception:  # noqa: BLE001 - metadata only
            pass
    simulator = getattr(getattr(result, "additional_metadata", None), "simulatorMetadata", None)
    duration_ms = finite_s(getattr(simulator, "executionDuration", None))
    meta["executionDuration_s"] = duration_ms / 1000 if duration_ms is not None else None
    return meta


def is_local_task(task: Any) -> bool:
    return type(task).__name__ == "LocalQuantumTask"


class BraketAdapter(ProviderAdapter):
    name: ClassVar[str] = "braket"
    modules: ClassVar[tuple[str, ...]] = ("braket", "qiskit_braket_provider", "botocore")
    # botocore retries a throttled, 5xx or dropped CreateQuantumTask itself, every
    # attempt with the one idempotency token it filled in (clientToken); another
    # run() from qsre would carry a new token and could create a second task.
    # botocore 1.44's default "standard" mode makes 3 attempts (the older "legacy"
    # mode 5); the error itself says how many were made (client_attempts).
    client_submit_attempts: ClassVar[int] = 3
    fallback_error_class: ClassVar[str | None] = "backend"

    def backend_name(self, backend: Any) -> str:
        device = native_device(backend)
        own = getattr(backend, "name", None)
        if device is not None and (own in (None, "", "default") or device is backend):
            name = device_name(device)
            if name:
                return name
        return super().backend_name(backend)

    def calibration_at(self, backend: Any) -> datetime | None:
        device = native_device(backend)
        if device is None or is_local(device):
            return None  # a local simulator has no calibration
        try:
            properties = device.properties
            # Gate-model QPUs publish fidelities as "standardized" properties, stamped
            # when they were measured; otherwise the properties' own update time.
            standardized = getattr(properties, "standardized", None)
            stamp = getattr(standardized, "updatedAt", None)
            if stamp is None and "QPU" in str(getattr(device, "type", "")):
                stamp = getattr(getattr(properties, "service", None), "updatedAt", None)
            return to_utc(stamp)
        except Exception:  # noqa: BLE001 - a provider call: unknown, not an error
            return None

    def classify(self, exc: BaseException) -> str | None:
        names = [klass.__name__ for klass in type(exc).__mro__]
        if "ClientError" in names:
            return client_error_class(getattr(exc, "response", None))
        for name in names:
            if name in _BOTOCORE_CLASS:
                return _BOTOCORE_CLASS[name]
        return None

    def client_attempts(self, exc: BaseException) -> int | None:
        response = getattr(exc, "response", None)
        if not isinstance(response, dict):
            return None
        retries = (response.get("ResponseMetadata") or {}).get("RetryAttempts")
        return retries + 1 if isinstance(retries, int) and retries >= 0 else None

    def provider_times(self, job: Any, result: Any) -> ProviderTimes | None:
        tasks = getattr(job, "_tasks", None)  # qiskit-braket-provider's BraketQuantumTask
        if tasks is None:
            return None
        if not isinstance(tasks, list):
            tasks = [tasks]
        return task_times(tasks)

    def num_qubits(self, backend: Any) -> int | None:
        try:
            return int(native_device(backend).properties.paradigm.qubitCount)
        except Exception:  # noqa: BLE001 - not every device describes its qubits
            return super().num_qubits(backend)

    def default_pricing(self, backend: Any) -> Pricing | None:
        device = native_device(backend)
        if device is None or is_local(device):
            return None
        rule = list_price(self.name, device_arn(device), device_name(device))
        return rule.pricing if rule is not None else None


ADAPTER = register(BraketAdapter())
