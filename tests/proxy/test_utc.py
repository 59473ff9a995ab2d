"""Every stored timestamp is the same instant read back in UTC, on every dialect,
whatever offset the provider gave (qiskit-ibm-runtime calibration dates carry
local offsets such as -05:00; SQLite keeps no offset at all)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from collector.store import Store
from validators.store import ValidationRunRecord, ValidationStore

EST = timezone(timedelta(hours=-5))
CALIBRATED = datetime(2024, 5, 27, 15, 27, 23, tzinfo=timezone(timedelta(hours=-3)))


def test_backend_calibration_keeps_its_instant(store: Store) -> None:
    seen = datetime(2026, 12, 6, 9, 0, tzinfo=EST)
    store.upsert_backend("fake_manila", seen_at=seen, calibration_at=CALIBRATED)
    [row] = store.backends()
    assert row["last_calibration_at"] == CALIBRATED
    assert row["last_calibration_at"].utcoffset() == timedelta(0)
    assert row["last_calibration_at"].hour == 18  # 15:27 at -03:00
    assert row["first_seen"] == seen and row["first_seen"].hour == 14


def test_validation_run_calibration_keeps_its_instant(store: Store) -> None:
    vstore = ValidationStore(store)
    ran = datetime(2026, 12, 6, 9, 0, tzinfo=EST)
    vstore.record_run(
        [
            ValidationRunRecord(
                run_id="r1",
                backend="fake_manila",
                circuit="bell",
                family="bell",
                ran_at=ran,
                shots=100,
                verdict="ok",
                calibration_at=CALIBRATED,
            )
        ]
    )
    [rec] = vstore.latest("fake_manila")
    assert rec.calibration_at == CALIBRATED and rec.calibration_at.hour == 18
    assert rec.ran_at == ran and rec.ran_at.tzinfo is not None
    # Time-window queries compare instants, not wall-clock strings.
    assert vstore.runs_since(datetime(2026, 12, 6, 13, 59, tzinfo=UTC), backend="fake_manila")
    assert not vstore.runs_since(datetime(2026, 12, 6, 14, 1, tzinfo=UTC), backend="fake_manila")
