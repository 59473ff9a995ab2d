"""calibration_timestamp: aware UTC whatever offset (or none) the backend gives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from collector.calibration import calibration_timestamp
from collector.clock import as_utc


class Reports:
    """A backend that states its calibration time the qsre way."""

    def __init__(self, value: object) -> None:
        self.last_calibrated_at = value


@pytest.mark.parametrize(
    "value",
    [
        datetime(2026, 11, 30, 14, 15, tzinfo=timezone(timedelta(hours=2))),
        datetime(2026, 11, 30, 7, 15, tzinfo=timezone(timedelta(hours=-5))),
        "2026-11-30T17:45:00+05:30",
        "2026-11-30T12:15:00Z",
        datetime(2026, 11, 30, 12, 15),  # naive: UTC by convention
    ],
    ids=["+02:00", "-05:00", "iso+05:30", "isoZ", "naive"],
)
def test_any_offset_becomes_utc(value):
    got = calibration_timestamp(Reports(value))
    assert got == datetime(2026, 11, 30, 12, 15, tzinfo=UTC)
    assert got.tzinfo is UTC


def test_unreadable_or_absent_is_none():
    assert calibration_timestamp(Reports("last tuesday")) is None
    assert calibration_timestamp(object()) is None


def test_proxy_reports_its_backends_calibration(store, recorder):
    fake_provider = pytest.importorskip(
        "qiskit_ibm_runtime.fake_provider",
        reason="SKIPPED LOUDLY: qiskit-ibm-runtime is not importable (extra 'ibm')",
    )
    from collector import ExecutionProxy

    backend = fake_provider.FakeManilaV2()
    proxy = ExecutionProxy(backend, store=store, recorder=recorder)
    got = calibration_timestamp(proxy)
    assert got == backend.properties().last_update_date and got.tzinfo is UTC


def test_jobs_and_backends_rows_carry_the_calibration_in_utc(store, recorder):
    fake_provider = pytest.importorskip(
        "qiskit_ibm_runtime.fake_provider",
        reason="SKIPPED LOUDLY: qiskit-ibm-runtime is not importable (extra 'ibm')",
    )
    from qiskit import QuantumCircuit, transpile

    from collector import ExecutionProxy

    backend = fake_provider.FakeManilaV2()
    expected = backend.properties().last_update_date.astimezone(UTC)
    qc = QuantumCircuit(1)
    qc.x(0)
    qc.measure_all()
    proxy = ExecutionProxy(backend, store=store, recorder=recorder)
    proxy.run(transpile(qc, backend, seed_transpiler=1), shots=50).result()
    recorder.flush()
    [row] = store.jobs()
    # as_utc: SQLite hands back naive datetimes (stored as UTC), PostgreSQL aware ones.
    assert as_utc(row.calibration_at) == expected
    [seen] = [b for b in store.backends() if b["name"] == proxy.name]
    stored = seen["last_calibration_at"]
    stored = datetime.fromisoformat(stored) if isinstance(stored, str) else stored
    assert as_utc(stored) == expected
