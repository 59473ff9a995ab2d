"""Braket's real AwsDevice and AwsQuantumTask, offline: the AWS session they talk
through is a stub that answers GetDevice, CreateQuantumTask, GetQuantumTask and the
S3 result download as the service does. Device identity, calibration time, list
prices, the task's own times, and creation errors."""

from __future__ import annotations

import json
import time
import uuid
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

pytest.importorskip(
    "braket.aws",
    reason="SKIPPED LOUDLY: amazon-braket-sdk is not importable (extra 'braket' not installed)",
)

from botocore.exceptions import ClientError  # noqa: E402
from braket.aws import AwsDevice  # noqa: E402
from braket.circuits import Circuit  # noqa: E402
from braket.device_schema.ionq import IonqDeviceParameters  # noqa: E402
from braket.device_schema.simulators import GateModelSimulatorDeviceParameters  # noqa: E402

from collector import RetryPolicy, instrument_braket  # noqa: E402
from collector.providers import adapter_for  # noqa: E402
from collector.providers.braket import BraketAdapter  # noqa: E402

SV1 = "arn:aws:braket:::device/quantum-simulator/amazon/sv1"
FORTE = "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1"
FORTE_UPDATED = "2026-11-29T06:00:00"  # Braket sends naive UTC
_SERVICE = {
    "braketSchemaHeader": {
        "name": "braket.device_schema.device_service_properties",
        "version": "1",
    },
    "executionWindows": [
        {"executionDay": "Everyday", "windowStartHour": "00:00", "windowEndHour": "23:59:59"}
    ],
    "shotsRange": [0, 100000],
}
_OPENQASM = {
    "braket.ir.openqasm.program": {
        "actionType": "braket.ir.openqasm.program",
        "version": ["1"],
        "supportedOperations": ["h", "cnot", "x", "i"],
        "supportedResultTypes": [],
    }
}
DEVICES: dict[str, dict[str, Any]] = {
    SV1: {
        "deviceName": "SV1",
        "deviceType": "SIMULATOR",
        "providerName": "Amazon Braket",
        "capabilities": {
            "braketSchemaHeader": {
                "name": "braket.device_schema.simulators.gate_model_simulator_device_capabilities",
                "version": "1",
            },
            "service": _SERVICE,
            "action": _OPENQASM,
            "paradigm": {
                "braketSchemaHeader": {
                    "name": "braket.device_schema.simulators.gate_model_simulator_paradigm_properties",
                    "version": "1",
                },
                "qubitCount": 34,
            },
            "deviceParameters": json.loads(GateModelSimulatorDeviceParameters.schema_json()),
        },
    },
    FORTE: {
        "deviceName": "Forte 1",
        "deviceType": "QPU",
        "providerName": "IonQ",
        "capabilities": {
            "braketSchemaHeader": {
                "name": "braket.device_schema.ionq.ionq_device_capabilities",
                "version": "1",
            },
            "service": {**_SERVICE, "updatedAt": FORTE_UPDATED},
            "action": _OPENQASM,
            "paradigm": {
                "braketSchemaHeader": {
                    "name": "braket.device_schema.gate_model_qpu_paradigm_properties",
                    "version": "1",
                },
                "qubitCount": 36,
                "nativeGateSet": ["gpi", "gpi2", "zz"],
                "connectivity": {"fullyConnected": True, "connectivityGraph": {}},
            },
            "deviceParameters": json.loads(IonqDeviceParameters.schema_json()),
        },
    },
}
SIMULATED_MS = 40  # what the stub's SV1 reports as its execution duration


class StubAwsSession:
    """The calls AwsDevice and AwsQuantumTask make, answered like the service:
    every task completes at once, measuring qubit 0 as 1 and qubit 1 as 0.
    ``create_errors``: raised by the next CreateQuantumTask calls, one each."""

    region = "us-east-1"

    def __init__(self) -> None:
        self.created: list[dict[str, Any]] = []
        self.create_errors: list[Exception] = []
        self._tasks: dict[str, dict[str, Any]] = {}

    def get_device(self, arn: str) -> dict[str, Any]:
        device = DEVICES[arn]
        return {
            "deviceArn": arn,
            "deviceName": device["deviceName"],
            "deviceStatus": "ONLINE",
            "deviceType": device["deviceType"],
            "providerName": device["providerName"],
            "deviceCapabilities": json.dumps(device["capabilities"]),
        }

    def default_bucket(self) -> str:
        return "amazon-braket-qsre-test"

    def create_quantum_task(self, **kwargs: Any) -> str:
        self.created.append(kwargs)
        if self.create_errors:
            raise self.create_errors.pop(0)
        arn = f"arn:aws:braket:us-east-1:123456789012:quantum-task/{uuid.uuid4()}"
        self._tasks[arn] = {
            **kwargs,
            "createdAt": datetime.now(UTC),
            "runs_until": time.monotonic() + 2 * SIMULATED_MS / 1000,
        }
        return arn

    def get_quantum_task(self, arn: str) -> dict[str, Any]:
        task = self._tasks[arn]
        # The task runs SIMULATED_MS on the service: not completed before that.
        time.sleep(max(0.0, task["runs_until"] - time.monotonic()))
        return {
            "quantumTaskArn": arn,
            "status": "COMPLETED",
            "deviceArn": task["deviceArn"],
            "shots": task["shots"],
            "outputS3Bucket": task["outputS3Bucket"],
            "outputS3Directory": f"{task['outputS3KeyPrefix']}/{arn.rsplit('/', 1)[1]}",
            "createdAt": task["createdAt"],
            "endedAt": task.setdefault("endedAt", datetime.now(UTC)),
        }

    def retrieve_s3_object_body(self, bucket: str, key: str) -> str:
        arn = next(a for a in self._tasks if a.rsplit("/", 1)[1] in key)
        task = self._tasks[arn]
        additional: dict[str, Any] = {"action": json.loads(task["action"])}
        if "quantum-simulator" in task["deviceArn"]:
            additional["simulatorMetadata"] = {
                "braketSchemaHeader": {
                    "name": "braket.task_result.simulator_metadata",
                    "version": "1",
                },
                "executionDuration": SIMULATED_MS,
            }
        return json.dumps(
            {
                "braketSchemaHeader": {
                    "name": "braket.task_result.gate_model_task_result",
                    "version": "1",
                },
                "measurements": [[1, 0]] * task["shots"],
                "measuredQubits": [0, 1],
                "taskMetadata": {
                    "braketSchemaHeader": {
                        "name": "braket.task_result.task_metadata",
                        "version": "1",
                    },
                    "id": arn,
                    "shots": task["shots"],
                    "deviceId": task["deviceArn"],
                },
                "additionalMetadata": additional,
            }
        )


@pytest.fixture
def session() -> StubAwsSession:
    return StubAwsSession()


@pytest.fixture(autouse=True)
def _quiet() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def test_device_identity_calibration_and_list_price(session):
    forte = AwsDevice(FORTE, aws_session=session)
    adapter = adapter_for(forte)
    assert isinstance(adapter, BraketAdapter)
    assert adapter.backend_name(forte) == "Forte 1"
    calibrated = adapter.calibration_at(forte)
    assert calibrated == datetime.fromisoformat(FORTE_UPDATED).replace(tzinfo=UTC)
    assert calibrated.tzinfo is UTC
    pricing = adapter.default_pricing(forte)
    assert pricing.per_circuit_usd > 0 and pricing.per_shot_usd > 0  # per task + per shot
    sv1 = AwsDevice(SV1, aws_session=session)
    assert adapter.calibration_at(sv1) is None  # a simulator has no calibration
    assert adapter.default_pricing(sv1).per_second_usd > 0


def test_simulator_task_recorded_with_its_duration_and_price(session, store, recorder):
    sv1 = AwsDevice(SV1, aws_session=session)
    device = instrument_braket(sv1, store=store, recorder=recorder, project="chem")
    task = device.run(Circuit().x(0).i(1), shots=10)
    result = task.result()
    assert result.measurement_counts == {"10": 10}
    recorder.flush()
    [row] = store.jobs()
    assert (row.backend, row.status, row.shots) == ("SV1", "done", 10)
    assert row.provider_job_id == task.id and task.id.startswith("arn:aws:braket:")
    assert store.counts(row.id) == [{"01": 10}]
    assert row.run_seconds == pytest.approx(SIMULATED_MS / 1000)
    list_price = BraketAdapter().default_pricing(sv1)
    assert row.cost_usd == pytest.approx(list_price.per_second_usd * SIMULATED_MS / 1000)
    assert len(session.created) == 1


def test_qpu_task_priced_per_task_and_shot(session, store, recorder):
    forte = AwsDevice(FORTE, aws_session=session)
    device = instrument_braket(forte, store=store, recorder=recorder)
    device.run(Circuit().x(0).i(1), shots=100).result()
    recorder.flush()
    [row] = store.jobs()
    list_price = BraketAdapter().default_pricing(forte)
    assert row.cost_usd == pytest.approx(list_price.per_circuit_usd + 100 * list_price.per_shot_usd)
    assert row.calibration_at.replace(tzinfo=UTC) == datetime(2026, 11, 29, 6, tzinfo=UTC)
    assert row.run_seconds is None or row.run_seconds <= row.e2e_seconds


def test_throttled_creation_is_one_create_call(session, store, recorder):
    session.create_errors = [
        ClientError(
            {
                "Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"},
                "ResponseMetadata": {"HTTPStatusCode": 429, "RetryAttempts": 4},
            },
            "CreateQuantumTask",
        )
    ]
    device = instrument_braket(
        AwsDevice(SV1, aws_session=session),
        store=store,
        recorder=recorder,
        retry=RetryPolicy(max_attempts=4, base_delay_s=0.001, max_delay_s=0.002),
    )
    with pytest.raises(ClientError):
        device.run(Circuit().h(0), shots=10)
    assert len(session.created) == 1  # botocore's attempts only; none added by qsre
    recorder.flush()
    [row] = store.jobs()
    assert (row.status, row.error_class) == ("error", "transient")
    assert row.attempts == 4 + 1  # as botocore's error says: RetryAttempts 4


def test_provider_stamps_outside_the_observed_window_are_not_used(session, store, recorder):
    sv1 = AwsDevice(SV1, aws_session=session)
    real_create = session.create_quantum_task

    def created_yesterday(**kwargs: Any) -> str:
        arn = real_create(**kwargs)
        session._tasks[arn]["createdAt"] -= timedelta(days=1)  # another clock, or a bug
        return arn

    session.create_quantum_task = created_yesterday
    device = instrument_braket(sv1, store=store, recorder=recorder)
    device.run(Circuit().x(0), shots=5).result()
    recorder.flush()
    [row] = store.jobs()
    assert row.status == "done"
    assert 0 <= row.e2e_seconds < 3600  # not a day
    assert row.run_seconds == pytest.approx(SIMULATED_MS / 1000)


def test_botocore_retries_a_throttled_create_itself_with_one_token():
    """Braket's session sends CreateQuantumTask through boto3, which retries a
    throttled call itself with the same clientToken: as often as the adapter
    declares, and the error it finally raises says so."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    import boto3
    from braket.aws import AwsSession

    bodies: list[dict[str, Any]] = []

    class Throttling(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            data = json.dumps({"message": "Rate exceeded"}).encode()
            self.send_response(429)
            self.send_header("x-amzn-ErrorType", "ThrottlingException")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Throttling)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = boto3.client(
            "braket",
            region_name="us-east-1",
            endpoint_url=f"http://127.0.0.1:{server.server_address[1]}",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
        with pytest.raises(ClientError) as err:
            AwsSession(braket_client=client).create_quantum_task(
                action="{}",
                deviceArn=SV1,
                outputS3Bucket="amazon-braket-qsre-test",
                outputS3KeyPrefix="tasks",
                shots=10,
            )
    finally:
        server.shutdown()
        server.server_close()
    assert len(bodies) == BraketAdapter.client_submit_attempts
    assert len({body["clientToken"] for body in bodies}) == 1  # one task, asked for again
    assert BraketAdapter().client_attempts(err.value) == len(bodies)
    assert adapter_for(err.value).classify(err.value) == "transient"
