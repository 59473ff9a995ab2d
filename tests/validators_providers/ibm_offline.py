"""A real qiskit-ibm-runtime ``IBMBackend`` built offline, the way the runtime's own
unit tests build one (test/utils.py ``get_mocked_backend``: a device configuration
and an API client that answers ``backend_properties``), but with plain stub classes
instead of MagicMocks so that a call the stub does not know fails loudly.

Its ``run()`` is the real one (it raises: IBM hardware is primitive-only). A real
``SamplerV2(mode=backend)`` runs all of its client-side code (ISA check against the
backend's Target, faulty-qubit check, options) and then hands the job to
``backend.service._run``, the point where the cloud service would take it over:
here the service executes it in qiskit-ibm-runtime's own local testing mode on the
fake backend whose calibration snapshot the IBMBackend was built from.
"""

from __future__ import annotations

import copy
from typing import Any

from qiskit_ibm_runtime.fake_provider.fake_backend import FakeBackendV2
from qiskit_ibm_runtime.fake_provider.local_service import QiskitRuntimeLocalService
from qiskit_ibm_runtime.ibm_backend import IBMBackend


class StubRuntimeClient:
    """The part of the runtime API client an ``IBMBackend`` uses offline."""

    def __init__(self, properties_json: dict[str, Any]) -> None:
        self._properties = properties_json
        self.properties_calls = 0

    def backend_properties(
        self, backend_name: str, datetime: Any = None, calibration_id: Any = None
    ) -> dict[str, Any]:
        self.properties_calls += 1
        return copy.deepcopy(self._properties)


class OfflineRuntimeService(QiskitRuntimeLocalService):
    """Takes the jobs a primitive submits for an ``IBMBackend`` and runs them in local
    testing mode on the fake backend with the same calibration."""

    def __init__(self, executor: FakeBackendV2) -> None:
        super().__init__()
        self.executor = executor
        self.submitted: list[tuple[str, int]] = []  # (program id, number of pubs)

    def _run(  # type: ignore[override]
        self,
        program_id: str,
        inputs: dict[str, Any],
        options: dict[str, Any],
        calibration_id: str | None = None,
        dry_run: bool = False,
    ) -> Any:
        assert isinstance(options.get("backend"), IBMBackend), "submitted for the IBMBackend"
        self.submitted.append((program_id, len(inputs["pubs"])))
        local_options = {k: v for k, v in options.items() if k not in ("backend", "instance")}
        local_options["backend"] = self.executor
        return super()._run(
            program_id=program_id,
            inputs=inputs,
            options=local_options,
            calibration_id=calibration_id,
            dry_run=dry_run,
        )


def offline_ibm_backend(
    fake: FakeBackendV2, properties_json: dict[str, Any] | None = None
) -> tuple[IBMBackend, OfflineRuntimeService, StubRuntimeClient]:
    """An ``IBMBackend`` for ``fake``'s device and calibration snapshot (or the given
    properties JSON, in the server's format), with its service and API client."""
    props = properties_json if properties_json is not None else fake._load_json(fake.props_filename)
    client = StubRuntimeClient(props)
    service = OfflineRuntimeService(fake)
    backend = IBMBackend(configuration=fake.configuration(), service=service, api_client=client)
    return backend, service, client
