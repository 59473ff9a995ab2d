"""A local stand-in for IonQ's v0.4 REST API, on 127.0.0.1, for qiskit-ionq's real
client (``IonQProvider(token, url=fake.url)``). It serves exactly what qiskit-ionq
1.1 calls for a circuit job:

- ``POST /v0.4/jobs``                                  (IonQClient.submit_job)
- ``GET  /v0.4/jobs/{id}``                             (retrieve_job, via status())
- ``GET  /v0.4/jobs/{id}/results/probabilities``       (get_results: the job's
  ``results.probabilities.url``)
- ``GET  /v0.4/backends/{backend}/characterizations``  (get_calibration_data)

and counts every request, so tests can see how often the client asked.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class FakeIonQ:
    """What the fake answers. ``probabilities``: outcome (an integer, as a string)
    -> probability; ``execution_duration_ms`` None leaves the field out of the job,
    ``send_started_at`` False the job's start time;
    ``submit_status``: the status every POST /jobs answers (200: accepted)."""

    probabilities: dict[str, float] = field(default_factory=lambda: {"0": 0.5, "3": 0.5})
    execution_duration_ms: int | None = 12
    send_started_at: bool = True
    submit_status: int = 200
    calibration_date: str = "2026-11-30T08:15:00Z"
    requests: Counter = field(default_factory=Counter)
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    submitted_at: dict[str, float] = field(default_factory=dict)
    completed_at: dict[str, str] = field(default_factory=dict)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the fake first"
        return f"http://127.0.0.1:{self._server.server_address[1]}/v0.4"

    def start(self) -> FakeIonQ:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep pytest output clean
                pass

            def _reply(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                fake.requests[("POST", self.path)] += 1
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                if self.path != "/v0.4/jobs":
                    self._reply(404, {"error": {"type": "not_found", "message": self.path}})
                elif fake.submit_status != 200:
                    self._reply(
                        fake.submit_status,
                        {"error": {"type": "unavailable", "message": "try again later"}},
                    )
                else:
                    job_id = str(uuid.uuid4())
                    fake.jobs[job_id] = body
                    fake.submitted_at[job_id] = time.time()
                    self._reply(200, {"id": job_id, "status": "submitted"})

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                path = self.path.split("?", 1)[0]
                fake.requests[("GET", path)] += 1
                parts = path.strip("/").split("/")
                if parts[:2] == ["v0.4", "backends"] and parts[3:] == ["characterizations"]:
                    self._reply(200, {"characterizations": [fake._characterization(parts[2])]})
                elif parts[:2] == ["v0.4", "jobs"] and parts[2] in fake.jobs:
                    job_id = parts[2]
                    if parts[3:] == ["results", "probabilities"]:
                        self._reply(200, fake.probabilities)
                    elif not parts[3:]:
                        self._reply(200, fake._job(job_id))
                    else:
                        self._reply(404, {"error": {"type": "not_found", "message": path}})
                else:
                    self._reply(404, {"error": {"type": "not_found", "message": path}})

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def posts(self) -> int:
        return self.requests[("POST", "/v0.4/jobs")]

    def _job(self, job_id: str) -> dict[str, Any]:
        submitted = self.jobs[job_id]
        # The job ran at once: started when submitted, completed when first asked.
        created = _iso(self.submitted_at[job_id])
        completed = self.completed_at.setdefault(job_id, _iso(time.time()))
        job: dict[str, Any] = {
            "id": job_id,
            "status": "completed",
            "backend": submitted.get("backend"),
            "submitted_at": created,
            "completed_at": completed,
            "metadata": submitted.get("metadata") or {},
            "stats": {"qubits": 2, "circuits": 1},
            "results": {"probabilities": {"url": f"/v0.4/jobs/{job_id}/results/probabilities"}},
        }
        if self.send_started_at:
            job["started_at"] = created
        if self.execution_duration_ms is not None:
            job["execution_duration_ms"] = self.execution_duration_ms
        return job

    def _characterization(self, backend: str) -> dict[str, Any]:
        return {
            "id": "c0ffee00-0000-4000-8000-000000000001",
            "backend": backend,
            "date": self.calibration_date,
            "qubits": 25,
            "connectivity": [[0, 1]],
            "fidelity": {"spam": {"median": 0.995}},
            "timing": {},
        }


def _iso(epoch_s: float) -> str:
    return (
        datetime.fromtimestamp(epoch_s, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )
