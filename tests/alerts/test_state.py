"""Router state in the store (SQLite + PostgreSQL): restarts keep silences, open incidents
and group timers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import inspect

from collector.clock import VirtualClock
from slo.alert_state import VERSION_TABLE, AlertStateStore
from slo.alerts import make_alert
from slo.routing import Router, RoutingConfig

from .test_routing import Recorder

T0 = datetime(2026, 11, 16, tzinfo=UTC)


def test_restart_keeps_silences_incidents_and_timers(store) -> None:
    clock = VirtualClock(T0)
    rec = Recorder("console")
    r1 = Router(RoutingConfig(), [rec], state=AlertStateStore(store), clock=clock)
    tables = set(inspect(store.engine).get_table_names())
    assert {
        "slo_alerts",
        "slo_alert_groups",
        "slo_alert_receivers",
        "slo_silences",
        "slo_notification_log",
        VERSION_TABLE,
    } <= tables
    down = make_alert("backend_down", labels={"backend": "aer"})
    drift = make_alert("calibration_drift", labels={"backend": "ibm_fez"})
    sil = r1.add_silence(
        {"backend": "ibm_fez"},
        ends_at=T0 + timedelta(hours=2),
        created_by="alice",
        comment="recalibrating",
    )
    r1.process([down], source="health")
    r1.process([drift], source="validators")
    clock.advance(20)
    # Restart before group_wait elapsed: the timer survives (no early, no lost notification).
    r2 = Router(RoutingConfig(), [rec], state=AlertStateStore(store), clock=clock)
    assert [s.id for s in r2.silences()] == [sil.id]
    assert not r2.flush().sent
    clock.advance(10)
    sent = r2.flush().sent
    assert [a.name for n in sent for a in n.firing] == ["QsreBackendDown"]
    # Restart again: the open incident is remembered and resolves when its source drops it.
    r3 = Router(RoutingConfig(), [rec], state=AlertStateStore(store), clock=clock)
    assert [st.memo for st in r3.receiver_states() if st.memo] == [{"count": 1}]
    r3.process([down], source="health")
    clock.advance(300)
    assert not r3.flush().sent
    r3.process([], source="health")
    clock.advance(300)
    sent = r3.flush().sent
    assert [(n.status, n.resolved[0].name) for n in sent] == [("resolved", "QsreBackendDown")]
    log = AlertStateStore(store).notification_log()
    assert [(e.status, e.ok) for e in log] == [("firing", True), ("resolved", True)]
    states = {s.alert.name: s.state for s in r3.statuses()}
    assert states == {"QsreCalibrationDrift": "suppressed"}
