"""The ledger and the router state under two writers on the real PostgreSQL."""

from __future__ import annotations

import threading
from datetime import timedelta

from collector.store import Store
from slo.alert_state import AlertStateStore, Changes, ReceiverState
from slo.delivery.ledger import IN_DOUBT, DeliveryLedger
from slo.routing import Router, RoutingConfig

from .world import T0, incident, make_router


def test_two_writers_saving_the_same_rows_do_not_collide(pg_url) -> None:
    # Delete + re-insert failed here with UniqueViolation slo_alerts_pkey.
    stores = [Store(pg_url), Store(pg_url)]
    states = [AlertStateStore(s) for s in stores]
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def writer(i: int) -> None:
        router = Router(RoutingConfig(), {}, state=states[i])
        barrier.wait()
        try:
            for k in range(40):
                now = T0 + timedelta(seconds=k)
                router.process([incident()] if k % 2 == 0 else [], now, source=f"w{i}")
                st = ReceiverState("console", "g", memo={"k": k, "writer": i})
                states[i].save(Changes(receivers={("console", "g"): st}), now)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    loaded = states[0].load()
    assert list(loaded.receivers) == [("console", "g")]
    for s in stores:
        s.close()


def test_an_open_intent_is_finished_after_restart_and_then_pruned(store, fake_http, secret_env):
    router = make_router(store, fake_http.url)
    router.process([incident()], T0, source="slo")
    router.flush(T0)
    ledger = DeliveryLedger(store.engine)
    attempts = ledger.attempts()
    assert [(a.receiver, a.status, a.outcome) for a in attempts] == [
        ("pagerduty", "firing", "ok"),
        ("slack", "firing", "ok"),
    ]
    assert attempts[0].incident_id and attempts[0].incident_id != attempts[1].incident_id
    # An intent left by a crash: the restarted router retries that receiver at once
    # (in doubt) and marks the orphan when the retry's outcome is saved.
    st = next(s for s in router.receiver_states() if s.receiver == "slack")
    orphan = ledger.intent(st, status="repeat", fingerprints=(), now=T0 + timedelta(seconds=1))
    restarted = make_router(store, fake_http.url)
    report = restarted.flush(T0 + timedelta(seconds=2))
    assert [n.receiver for n in report.sent] == ["slack"] and report.sent[0].in_doubt
    assert {a.id: a.outcome for a in ledger.attempts()}[orphan] == IN_DOUBT
    assert ledger.open_intents() == []
    assert len([r for r in fake_http.ok("/api/chat.postMessage") if "thread_ts" not in r.body]) == 1
    finished = len(ledger.attempts())
    assert finished == 4 and ledger.prune(T0 + timedelta(days=1)) == finished
    assert ledger.attempts() == []


def test_an_incident_opened_before_the_upgrade_resolves_with_its_old_dedup_key(
    store, fake_http, secret_env
) -> None:
    from sqlalchemy import update

    from slo.alert_state import receivers_table

    router = make_router(store, fake_http.url)
    router.process([incident()], T0, source="slo")
    router.flush(T0)
    fp = incident().fingerprint
    # What a pre-s0003 row looks like: no incident id, PagerDuty triggered with the
    # bare fingerprint as dedup_key.
    with store.engine.begin() as conn:
        conn.execute(update(receivers_table).values(incident_id=None))
    restarted = make_router(store, fake_http.url)
    restarted.process([], T0 + timedelta(seconds=60), source="slo")
    restarted.flush(T0 + timedelta(seconds=60))
    (resolve,) = [r for r in fake_http.ok("/v2/enqueue") if r.body["event_action"] == "resolve"]
    assert resolve.body["dedup_key"] == fp
