"""The weekly report against direct SQL over a synthetic week (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from html.parser import HTMLParser
from typing import Any

import numpy as np
import pytest
from sqlalchemy import func, select, text

from collector.schema import JobRow
from slo.report import MARKDOWN_MAX_CHARS, SECTION_HEADINGS, build_weekly_report
from slo.report_charts import CHARTS
from slo.spec import parse_slos

from .conftest import EVIL, SPIKE_DAY, SPIKE_PROJECT, WEEK, WEEK_END, WEEK_START

J = JobRow.__table__
IN_WEEK = (J.c.submitted_at >= WEEK_START, J.c.submitted_at < WEEK_END)
SLOS = parse_slos(
    [{"name": "job-success", "objective": 0.95, "sli": {"kind": "job_success"}, "window": "7d"}],
    "test.yaml",
)


@dataclass(frozen=True)
class FakeStatus:
    """A test double with the SLOStatus contract fields, computed by direct SQL."""

    name: str
    objective: float
    sli_kind: str
    window_start: datetime
    window_end: datetime
    good: int
    total: int
    sli_ratio: float | None
    budget_remaining_ratio: float | None
    budget_remaining_seconds: float | None = None
    exhaustion_at: datetime | None = None
    burn_rates: dict[str, float | None] = field(default_factory=dict)
    firing: tuple[str, ...] = ()
    evaluated_windows: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["window_start"] = self.window_start.isoformat()
        d["window_end"] = self.window_end.isoformat()
        return d


class SqlEngine:
    """Job success over the 7 days before ``at``, straight from SQL."""

    def __init__(self, store, slos, clock) -> None:
        self.store, self.slos, self.calls = store, slos, []

    def evaluate(self, at):
        self.calls.append(at)
        start = at - timedelta(days=7)
        base = (J.c.submitted_at >= start, J.c.submitted_at < at)
        with self.store.engine.connect() as conn:
            total = conn.execute(
                select(func.count()).where(
                    *base,
                    J.c.status.in_(("done", "error", "unknown")),
                    func.coalesce(J.c.error_class, "").not_in(("quota", "invalid_input")),
                )
            ).scalar_one()
            good = conn.execute(
                select(func.count()).where(*base, J.c.status == "done")
            ).scalar_one()
        out = []
        for slo in self.slos:
            ratio = good / total if total else None
            budget = None if ratio is None else 1 - (1 - ratio) / (1 - slo.objective)
            out.append(
                FakeStatus(
                    slo.name, slo.objective, slo.sli.kind, start, at, good, total, ratio, budget
                )
            )
        return out


class StrictHTML(HTMLParser):
    """Collects headings and img sources; fails on unbalanced tags."""

    VOID = {"meta", "img", "br", "hr", "link", "input"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.headings: list[str] = []
        self.imgs: list[str] = []
        self.scripts = 0
        self._in_heading = False
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "script":
            self.scripts += 1
        if tag == "img":
            self.imgs.append(dict(attrs)["src"])
        if tag not in self.VOID:
            self.stack.append(tag)
        self._in_heading = tag == "h2"

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, f"unbalanced </{tag}> in {self.stack[-3:]}"
        self.stack.pop()
        self._in_heading = False

    def handle_data(self, data):
        self.text.append(data)
        if self._in_heading:
            self.headings.append(data.strip())


def _sql(store, *cols, where=(), group_by=None):
    q = select(*cols).where(*IN_WEEK, *where)
    if group_by is not None:
        q = q.group_by(group_by)
    with store.engine.connect() as conn:
        return conn.execute(q).all()


@pytest.fixture
def report(world, tmp_path):
    engines = []

    def factory(store, slos, clock):
        engines.append(SqlEngine(store, slos, clock))
        return engines[-1]

    paths = build_weekly_report(
        world.store, SLOS, week=WEEK, clock=world.clock, out_dir=tmp_path, engine_factory=factory
    )
    data = json.loads(paths.data_json.read_text())
    return paths, data, engines


def test_totals_equal_direct_sql(world, report):
    _, data, _ = report
    store = world.store
    ((jobs, spend, shots),) = _sql(store, func.count(), func.sum(J.c.cost_usd), func.sum(J.c.shots))
    assert data["totals"]["jobs"] == jobs == 1500
    assert data["totals"]["spend_usd"] == pytest.approx(spend, rel=1e-12)
    assert data["totals"]["shots"] == shots
    ((terminal,),) = _sql(
        store,
        func.count(),
        where=(
            J.c.status.in_(("done", "error", "unknown")),
            func.coalesce(J.c.error_class, "").not_in(("quota", "invalid_input")),
        ),
    )
    ((done,),) = _sql(store, func.count(), where=(J.c.status == "done",))
    assert data["totals"]["success_rate"] == pytest.approx(done / terminal)
    assert data["totals"]["cost_per_successful_job_usd"] == pytest.approx(spend / done)
    for dim, col in (("by_backend", J.c.backend), ("by_project", J.c.project)):
        expected = {
            k: (n, s)
            for k, n, s in _sql(store, col, func.count(), func.sum(J.c.cost_usd), group_by=col)
        }
        got = {t["key"]: (t["jobs"], t["spend_usd"]) for t in data["cost"][dim]}
        assert got.keys() == expected.keys()
        for key, (n, s) in expected.items():
            assert got[key][0] == n
            assert got[key][1] == pytest.approx(s, rel=1e-12)
    # The previous week, for the week-over-week deltas.
    with store.engine.connect() as conn:
        prev = conn.execute(
            select(func.count()).where(
                J.c.submitted_at >= WEEK_START - timedelta(days=7), J.c.submitted_at < WEEK_START
            )
        ).scalar_one()
    delta = {d["metric"]: d for d in data["deltas"]}
    assert delta["jobs"]["previous_week"] == prev == 600
    assert delta["jobs"]["change"] == 900


def test_latency_percentiles_equal_sql(world, report):
    _, data, _ = report
    store = world.store
    day = {r["day"] + "|" + r["backend"]: r for r in data["latency"]}
    for backend in ("sim_alpha", EVIL):
        for d in (0, 4):
            lo, hi = WEEK_START + timedelta(days=d), WEEK_START + timedelta(days=d + 1)
            where = (J.c.backend == backend, J.c.submitted_at >= lo, J.c.submitted_at < hi)
            rows = _sql(store, J.c.queue_seconds, J.c.e2e_seconds, where=where)
            q = np.array([r[0] for r in rows if r[0] is not None])
            e = np.array([r[1] for r in rows if r[1] is not None])
            row = day[f"{lo.date().isoformat()}|{backend}"]
            assert row["jobs"] == len(rows)
            for p in (50, 95, 99):
                assert row[f"queue_p{p}_seconds"] == pytest.approx(np.percentile(q, p))
                assert row[f"e2e_p{p}_seconds"] == pytest.approx(np.percentile(e, p))
            if store.dialect == "postgresql":
                with store.engine.connect() as conn:
                    pg = conn.execute(
                        select(func.percentile_cont(0.95).within_group(J.c.e2e_seconds)).where(
                            *where
                        )
                    ).scalar_one()
                assert row["e2e_p95_seconds"] == pytest.approx(pg)


def test_html_sections_charts_and_escaping(report):
    paths, data, _ = report
    html = paths.html.read_text()
    parser = StrictHTML()
    parser.feed(html)
    parser.close()
    assert parser.stack == []
    assert parser.scripts == 0, "a user string became a <script> element"
    for heading in SECTION_HEADINGS:
        assert heading in parser.headings
    uris = [s for s in parser.imgs if s.startswith("data:image/png;base64,")]
    assert len(uris) == len(CHARTS) == len(set(uris))
    assert EVIL not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    # The escaped name is shown as text, e.g. as a backend and a project.
    assert EVIL in "".join(parser.text)


def test_markdown_summary_is_short_escaped_and_names_the_spike(report):
    paths, data, _ = report
    md = paths.markdown.read_text()
    assert len(md) <= MARKDOWN_MAX_CHARS
    # No raw markup and no HTML entities (a Markdown viewer shows "&lt;" literally):
    # < > & of user strings become look-alikes.
    assert "<script>" not in md and "&lt;" not in md and "&amp;" not in md
    assert "‹script›alert(1)‹/script›" in md
    assert f"{data['totals']['jobs']:,}" in md
    assert f"Spend spike: {SPIKE_PROJECT}" in md
    assert "Needs attention" in md
    assert "job-success" in md.replace("\\", "")


def test_billing_spike_flagged_against_four_week_median(report):
    _, data, _ = report
    spike_day = (WEEK_START + timedelta(days=SPIKE_DAY)).date().isoformat()
    flagged = {(a["project"], a["day"]) for a in data["cost"]["anomalies"]}
    assert (SPIKE_PROJECT, spike_day) in flagged
    # Ordinary days of ordinary projects are not anomalies.
    assert len(flagged) <= 2
    spike = next(a for a in data["cost"]["anomalies"] if a["day"] == spike_day)
    assert spike["spend_usd"] > 3 * spike["baseline_median_usd"] > 0


def test_slo_section_uses_the_engine_at_day_boundaries(report):
    _, data, engines = report
    (engine,) = engines
    assert [c.isoformat() for c in engine.calls] == [
        (WEEK_START + timedelta(days=i)).isoformat() for i in range(8)
    ]
    (slo,) = data["slos"]
    (end,) = engine.evaluate(WEEK_END)
    assert slo["attainment"] == pytest.approx(end.sli_ratio)
    assert slo["good"] == end.good and slo["total"] == end.total
    assert slo["budget_remaining_ratio"] == pytest.approx(end.budget_remaining_ratio)
    assert len(slo["burn_down"]) == 8


def test_alerts_fidelity_and_calibration(world, report):
    _, data, _ = report
    alerts = data["alerts"]
    assert alerts["fired"] == 2 and alerts["resolved"] == 1 and alerts["still_open"] == 1
    assert alerts["median_resolve_seconds"] == pytest.approx(world.resolved_alert_seconds)
    kinds = {k["kind"]: k for k in alerts["by_kind"]}
    assert kinds["backend_down"]["resolved"] == 1
    assert kinds["slo_burn_ticket"]["fired"] == 1
    down = next(e for e in alerts["episodes"] if e["kind"] == "backend_down")
    assert down["subject"] == EVIL

    fid = data["fidelity"]
    assert fid["available"]
    with world.store.engine.connect() as conn:
        n = conn.execute(text("SELECT count(*) FROM validation_runs")).scalar_one()
        events = conn.execute(
            text("SELECT count(*) FROM validation_runs WHERE verdict IN ('drift', 'diverged')")
        ).scalar_one()
    assert sum(v["runs"] for v in fid["verdicts"]) == n
    assert len(fid["events"]) == events == 7
    # Episodes, not rows: sim_beta drifts on both circuits from day 4 to the week's
    # end (3 suite runs); EVIL diverges on day 5 only and is clear on day 6.
    episodes = {(e["backend"], e["verdict"]): e for e in fid["episodes"]}
    assert len(fid["episodes"]) == 2
    drift = episodes[("sim_beta", "drift")]
    assert drift["first_detected_at"] == (WEEK_START + timedelta(days=4, hours=6)).isoformat()
    assert drift["latched_until"] is None and drift["ended_by"] == "still open"
    assert drift["suite_runs"] == 3 and sorted(drift["circuits"]) == sorted(["ghz3", EVIL])
    diverged = episodes[(EVIL, "diverged")]
    assert diverged["latched_until"] == (WEEK_START + timedelta(days=6, hours=6)).isoformat()
    assert diverged["ended_by"] == "cleared" and diverged["circuits"] == ["ghz3"]
    beta = [p for p in fid["trend"] if p["backend"] == "sim_beta" and p["circuit"] == "ghz3"]
    assert beta[0]["mean_fidelity"] > beta[-1]["mean_fidelity"] + 0.05

    cal = {c["backend"]: c for c in data["calibration"]}
    assert cal["sim_alpha"]["calibrations_in_week"] == 7
    assert cal["sim_alpha"]["age_hours_at_week_end"] == pytest.approx(23.0)
    assert cal["sim_beta"]["age_hours_at_week_end"] == pytest.approx(10 * 24.0)
    assert cal[EVIL]["last_calibration_at"] is None


def test_default_week_is_last_complete_week(world, tmp_path):
    paths = build_weekly_report(
        world.store, [], clock=world.clock, out_dir=tmp_path, engine_factory=SqlEngine
    )
    data = json.loads(paths.data_json.read_text())
    assert data["week"]["label"] == WEEK
    assert data["totals"]["jobs"] == 1500


def test_slo_numbers_match_the_real_engine_at_week_end(world, tmp_path):
    from slo.engine import SLOEngine

    paths = build_weekly_report(world.store, SLOS, week=WEEK, clock=world.clock, out_dir=tmp_path)
    (slo,) = json.loads(paths.data_json.read_text())["slos"]
    (status,) = SLOEngine(world.store, SLOS, clock=world.clock).evaluate(WEEK_END)
    assert slo["status"] == status.to_dict()
    assert slo["total"] == status.total > 0
    assert slo["attainment"] == pytest.approx(status.sli_ratio)
    assert slo["budget_remaining_ratio"] == pytest.approx(status.budget_remaining_ratio)
    assert [p["at"] for p in slo["burn_down"]][-1] == WEEK_END.isoformat()


@pytest.mark.parametrize(
    ("now_after_start", "expected_days"),
    [
        (timedelta(days=-3), None),  # a week that has not started: nothing to evaluate
        (timedelta(days=2, hours=5), [0, 1, 2]),  # in progress: each day so far, and now
        (timedelta(days=9), list(range(8))),  # over: its 8 day boundaries only
    ],
)
def test_slo_section_evaluates_the_instants_the_week_has_reached(
    store, now_after_start, expected_days
):
    from collector.clock import VirtualClock
    from slo.report_slos import slo_entries
    from slo.report_week import parse_week

    engines: list[SqlEngine] = []

    def factory(store, slos, clock):
        engines.append(SqlEngine(store, slos, clock))
        return engines[-1]

    slos = parse_slos(
        [{"name": "jobs", "objective": 0.99, "sli": {"kind": "job_success"}, "window": "7d"}],
        "test.yaml",
    )
    now = WEEK_START + now_after_start
    entries = slo_entries(store, slos, parse_week(WEEK), VirtualClock(now), factory)
    calls = engines[0].calls
    if expected_days is None:
        assert calls == [] and entries == ()
        return
    want = [WEEK_START + timedelta(days=d) for d in expected_days]
    if now < WEEK_END:
        want.append(now)
    assert calls == want
