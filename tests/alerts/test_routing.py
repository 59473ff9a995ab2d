"""Router behaviour on a VirtualClock: grouping, repeats, resolves, routes, muting."""

from __future__ import annotations

from collections.abc import MutableMapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from collector.clock import VirtualClock
from slo.alerts import Alert, InvalidAlert, Matcher, job_alert, make_alert
from slo.notify.base import Notification, NotifyError
from slo.routing import MaintenanceWindow, Route, Router, RoutingConfig

T0 = datetime(2026, 11, 16, 1, 0, tzinfo=UTC)


class Recorder:
    def __init__(self, name: str, fail_times: int = 0) -> None:
        self.name = name
        self.resend_interval_s: float | None = None
        self.got: list[Notification] = []
        self.fail_times = fail_times

    def secrets(self) -> tuple[str, ...]:
        return ()

    def notify(self, n: Notification, memo: MutableMapping[str, Any]) -> None:
        if self.fail_times:
            self.fail_times -= 1
            raise NotifyError(self.name, "scripted failure")
        memo["count"] = memo.get("count", 0) + 1
        self.got.append(n)


def burn(slo: str, severity: str) -> Alert:
    kind = "slo_burn_page" if severity == "page" else "slo_burn_ticket"
    return make_alert(
        kind, labels={"slo": slo}, summary=f"{slo} burning", runbook_url="https://rb/x"
    )


def router(clock: VirtualClock, **kw: Any) -> tuple[Router, dict[str, Recorder]]:
    recs = {n: Recorder(n) for n in ("pager", "chat", "console")}
    cfg = RoutingConfig(
        routes=(
            Route(receivers=("pager",), matchers=(Matcher("severity", "page"),), continue_=True),
            Route(receivers=("chat",), matchers=(Matcher("severity", "page|ticket", "=~"),)),
        ),
        default_receivers=("console",),
        **kw,
    )
    return Router(cfg, recs, clock=clock), recs


def at(clock: VirtualClock, seconds: float) -> datetime:
    return clock.advance(seconds)


def test_group_wait_then_interval_then_repeat_then_resolve() -> None:
    clock = VirtualClock(T0)
    r, recs = router(clock)
    a = burn("availability", "page")
    r.process([a])
    r.flush()
    assert recs["pager"].got == [] and recs["chat"].got == []  # group_wait 30 s
    at(clock, 29)
    r.process([a])
    assert not r.flush().sent
    at(clock, 1)
    r.process([a])
    sent = r.flush().sent
    assert [n.receiver for n in sent] == ["pager", "chat"]  # continue: both routes
    assert [x.fingerprint for x in sent[0].new_firing] == [a.fingerprint]
    assert not sent[0].is_repeat and sent[0].firing[0].starts_at == T0
    # Re-evaluated every 15 s for the next 4 h: nothing new until repeat_interval.
    for _ in range(int(4 * 3600 / 15) - 1):
        at(clock, 15)
        r.process([a])
        assert not r.flush().sent
    at(clock, 300)  # next group_interval tick past 4 h
    r.process([a])
    sent = r.flush().sent
    assert [n.is_repeat for n in sent] == [True, True]
    assert sent[0].new_firing == ()
    # Source stops reporting it: resolved at the next group_interval tick.
    at(clock, 15)
    r.process([])
    assert not r.flush().sent
    at(clock, 300)
    sent = r.flush().sent
    assert [(n.receiver, n.status) for n in sent] == [("pager", "resolved"), ("chat", "resolved")]
    assert sent[0].resolved[0].ends_at == T0 + timedelta(seconds=30 + 4 * 3600 + 300 - 15 + 15)
    assert r.groups() == [] and r.statuses() == []


def test_grouping_collects_alerts_into_one_notification() -> None:
    clock = VirtualClock(T0)
    r, recs = router(clock, group_by=("kind",))
    a1 = job_alert("auth_failure", backend="aer", error_class="auth", severity="ticket")
    a2 = job_alert("auth_failure", backend="ibm_kyiv", error_class="auth", severity="ticket")
    a3 = job_alert("auth_failure", backend="ibm_fez", error_class="auth", severity="ticket")
    r.process([a1])
    at(clock, 10)
    r.process([a1, a2])
    at(clock, 20)
    sent = r.flush().sent
    assert len(sent) == 1 and {a.fingerprint for a in sent[0].firing} == {
        a1.fingerprint,
        a2.fingerprint,
    }
    assert sent[0].group_labels == {"kind": "auth_failure"}
    at(clock, 60)
    r.process([a1, a2, a3])
    assert not r.flush().sent  # waits for group_interval (5 m after the first flush)
    at(clock, 240)
    sent = r.flush().sent
    assert len(sent) == 1 and [a.fingerprint for a in sent[0].new_firing] == [a3.fingerprint]
    assert len(sent[0].firing) == 3


def test_dedup_same_labels_from_many_jobs_is_one_alert() -> None:
    clock = VirtualClock(T0)
    r, recs = router(clock)
    storm = [
        job_alert("result_corruption", backend="aer", error_class="result_corrupt")
        for _ in range(500)
    ]
    r.process(storm)
    at(clock, 30)
    sent = r.flush().sent
    assert len(sent) == 2 and all(len(n.firing) == 1 for n in sent)
    with pytest.raises(InvalidAlert, match="never job ids"):
        make_alert("auth_failure", labels={"backend": "aer", "error_class": "auth", "job_id": "j1"})


def test_default_route_and_continue() -> None:
    clock = VirtualClock(T0)
    r, recs = router(clock)
    r.process([make_alert("billing_spike", severity="info", labels={"backend": "aer"})])
    at(clock, 30)
    assert [n.receiver for n in r.flush().sent] == ["console"]
    r.process([burn("latency", "ticket")], source="slo")
    at(clock, 30)
    assert [n.receiver for n in r.flush().sent] == ["chat"]


def test_sources_resolve_independently() -> None:
    clock = VirtualClock(T0)
    r, _ = router(clock)
    a, b = burn("a", "page"), burn("b", "page")
    r.process([a], source="slo")
    r.process([b], source="validators")
    r.process([], source="slo")
    states = {s.alert.labels["slo"]: s.state for s in r.statuses()}
    assert states == {"a": "resolved", "b": "firing"}


def test_page_inhibits_ticket_for_same_slo_only() -> None:
    clock = VirtualClock(T0)
    r, recs = router(clock)
    page, ticket, other = burn("avail", "page"), burn("avail", "ticket"), burn("latency", "ticket")
    r.process([page, ticket, other])
    at(clock, 30)
    r.flush()
    chat_alerts = {a.labels["slo"] + "/" + a.severity for n in recs["chat"].got for a in n.firing}
    assert chat_alerts == {"avail/page", "latency/ticket"}
    notes = {s.alert.fingerprint: s.notes for s in r.statuses()}
    assert "inhibited by QsreSLOBurnRatePage" in notes[ticket.fingerprint][0]
    # Page ends: the ticket is no longer inhibited and goes out at the next tick.
    r.process([ticket, other])
    at(clock, 300)
    r.flush()
    assert any(a.fingerprint == ticket.fingerprint for n in recs["chat"].got[-3:] for a in n.firing)


def test_backend_down_inhibits_symptoms_on_same_backend() -> None:
    clock = VirtualClock(T0)
    r, recs = router(clock)
    down = make_alert("backend_down", labels={"backend": "ibm_fez"})
    q_same = make_alert("queue_overload", labels={"backend": "ibm_fez"})
    q_other = make_alert("queue_overload", labels={"backend": "aer"})
    r.process([down, q_same, q_other])
    at(clock, 30)
    r.flush()
    told = {a.fingerprint for rec in recs.values() for n in rec.got for a in n.firing}
    assert told == {down.fingerprint, q_other.fingerprint}


def test_silence_add_list_expire() -> None:
    clock = VirtualClock(T0)
    r, recs = router(clock)
    a = burn("avail", "page")
    s = r.add_silence(
        ["slo=avail", "severity=~page|ticket"],
        ends_at=T0 + timedelta(hours=1),
        created_by="alice",
        comment="known issue INC-1",
    )
    assert [x.id for x in r.silences()] == [s.id]
    r.process([a])
    at(clock, 30)
    assert not r.flush().sent
    (st,) = r.statuses()
    assert st.state == "suppressed" and st.notes == (
        f"suppressed: silence {s.id} by alice: known issue INC-1",
    )
    at(clock, 600)
    r.expire_silence(s.id)
    assert r.silences() == [] and len(r.silences(include_expired=True)) == 1
    at(clock, 300)
    assert [n.receiver for n in r.flush().sent] == ["pager", "chat"]
    with pytest.raises(InvalidAlert, match="ends_at"):
        r.add_silence({"slo": "x"}, ends_at=T0, created_by="a", comment="c")


def test_silence_expires_by_itself() -> None:
    clock = VirtualClock(T0)
    r, recs = router(clock)
    r.add_silence(
        {"slo": "avail"}, ends_at=T0 + timedelta(minutes=10), created_by="bob", comment="deploy"
    )
    r.process([burn("avail", "page")])
    at(clock, 30)
    assert not r.flush().sent
    at(clock, 600)
    assert len(r.flush().sent) == 2


def test_maintenance_window_suppresses_with_note() -> None:
    clock = VirtualClock(datetime(2026, 11, 16, 1, 59, tzinfo=UTC))
    window = MaintenanceWindow("sim-drift", backend="aer", cron="0 2 * * *", duration_s=3600)
    r, recs = router(clock, maintenance_windows=(window,))
    drift = make_alert("calibration_drift", labels={"backend": "aer"})
    other = make_alert("calibration_drift", labels={"backend": "ibm_fez"})
    r.process([drift, other])
    at(clock, 60)  # 02:00: window opens
    r.flush()
    assert {a.labels["backend"] for n in recs["chat"].got for a in n.firing} == {"ibm_fez"}
    st = {s.alert.labels["backend"]: s for s in r.statuses()}
    assert st["aer"].notes == ("suppressed: maintenance window sim-drift 02:00\u201303:00 UTC",)
    assert window.active_at(datetime(2026, 11, 16, 2, 59, 59, tzinfo=UTC)) is not None
    assert window.active_at(datetime(2026, 11, 16, 3, 0, tzinfo=UTC)) is None
    assert window.active_at(datetime(2026, 11, 16, 1, 59, 59, tzinfo=UTC)) is None
    clock.set(datetime(2026, 11, 16, 3, 0, 1, tzinfo=UTC))
    r.process([drift, other])
    r.flush()
    assert any(a.labels["backend"] == "aer" for a in recs["chat"].got[-1].firing)


def test_muted_alert_that_was_notified_still_resolves() -> None:
    clock = VirtualClock(T0)
    r, recs = router(clock)
    a = burn("avail", "page")
    r.process([a])
    at(clock, 30)
    r.flush()
    r.add_silence({"slo": "avail"}, ends_at=T0 + timedelta(days=1), created_by="c", comment="muted")
    at(clock, 300)
    r.process([a])
    assert not r.flush().sent
    r.process([])
    at(clock, 300)
    sent = r.flush().sent
    assert [(n.receiver, n.status) for n in sent] == [("pager", "resolved"), ("chat", "resolved")]


def test_failing_receiver_retried_next_flush_and_does_not_block_others() -> None:
    clock = VirtualClock(T0)
    r, recs = router(clock)
    recs["pager"].fail_times = 2
    a = burn("avail", "page")
    r.process([a])
    at(clock, 30)
    rep = r.flush()
    # The failure raises QsreNotificationsFailing to the fallback receiver (console) in
    # the same flush; it resolves once pager delivers.
    assert [n.receiver for n in rep.sent] == ["chat", "console"] and len(rep.failed) == 1
    assert rep.sent[1].firing[0].name == "QsreNotificationsFailing"
    at(clock, 1)
    assert [n.receiver for n in r.flush().sent] == []  # second scripted failure
    at(clock, 1)
    rep = r.flush()
    assert [(n.receiver, n.status) for n in rep.sent] == [
        ("pager", "firing"),
        ("console", "resolved"),
    ]
    assert r.failed["pager"] == 2 and r.sent["pager"] == 1 and r.sent["chat"] == 1
    assert len(recs["chat"].got) == 1  # chat was not re-sent by pager's retries


@pytest.mark.parametrize(
    ("base", "expected"),
    [
        (
            "https://runbooks.example/qsre/",
            "https://runbooks.example/qsre/notifications_failing.md",
        ),
        ("", "file://"),
    ],
)
def test_notifications_failing_links_the_configured_runbooks(base, expected) -> None:
    clock = VirtualClock(T0)
    r, recs = router(clock, runbook_base_url=base)
    recs["pager"].fail_times = 1
    r.process([burn("avail", "page")])
    at(clock, 30)
    failing = r.flush().sent[1].firing[0]
    assert failing.name == "QsreNotificationsFailing"
    assert failing.annotations["runbook_url"].startswith(expected)
    assert failing.annotations["runbook_url"].endswith("notifications_failing.md")


def test_flapping_alert_within_interval_is_not_repaged() -> None:
    clock = VirtualClock(T0)
    r, recs = router(clock)
    a = burn("avail", "page")
    r.process([a])
    at(clock, 30)
    r.flush()
    r.process([])
    at(clock, 60)
    r.process([a])
    at(clock, 240)
    assert not r.flush().sent
    assert len(recs["pager"].got) == 1


def test_config_from_mapping_and_errors() -> None:
    cfg = RoutingConfig.from_mapping(
        {
            "default_receiver": "console",
            "routes": [
                {"match": {"severity": "page"}, "receivers": ["pager", "chat"], "continue": True},
                {"match": ["severity=~ticket|page"], "receivers": "chat", "group_wait_s": 5},
            ],
            "maintenance_windows": [
                {"name": "w", "backend": "aer", "cron": "0 2 * * *", "duration_s": 3600}
            ],
            "repeat_interval_s": 3600,
        }
    )
    assert cfg.routes[0].receivers == ("pager", "chat") and cfg.routes[0].continue_
    assert cfg.routes[1].matchers == (Matcher("severity", "ticket|page", "=~"),)
    assert cfg.repeat_interval_s == 3600 and cfg.group_wait_s == 30
    with pytest.raises(InvalidAlert, match=r"alerting.routes\[0\]"):
        RoutingConfig.from_mapping({"routes": [{"match": {"a": "b"}}]})
    with pytest.raises(InvalidAlert, match="cron"):
        MaintenanceWindow("bad", "aer", "not a cron", 60)
    with pytest.raises(InvalidAlert, match="defined receivers"):
        Router(cfg, [Recorder("console")])
