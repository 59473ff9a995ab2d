"""The report's sections beyond the totals: cost of watching and budget, tags,
incidents merged from episodes, CSV files, attention items, partial weeks and
small-sample percentiles — on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import json
import re
from datetime import timedelta

import numpy as np
import pytest

from collector.clock import VirtualClock
from slo.report import build_weekly_report
from slo.report_alerts import INCIDENT_MERGE_GAP_S, AlertEpisode, merge_incidents
from slo.report_cost import VALIDATION_PROJECT
from slo.report_csv import CSV_FILES, _cell
from slo.spec import parse_slos

from .conftest import EVIL, WEEK, WEEK_END, WEEK_START, insert_jobs, make_jobs
from .test_report import SLOS, SqlEngine

BUDGET_SLOS = parse_slos(
    [
        {
            "name": "spend",
            "objective": 0.9,
            "sli": {"kind": "cost_budget", "budget_usd": 3000},
            "window": "30d",
        }
    ],
    "test.yaml",
)


def test_validation_project_is_the_validators_one():
    from validators.runner import VALIDATION_PROJECT as RUNNER_PROJECT

    assert VALIDATION_PROJECT == RUNNER_PROJECT


@pytest.fixture
def built(world, tmp_path):
    paths = build_weekly_report(
        world.store, SLOS, week=WEEK, clock=world.clock, out_dir=tmp_path, engine_factory=SqlEngine
    )
    return paths, json.loads(paths.data_json.read_text())


def test_cost_of_watching_and_budget(store, tmp_path):
    rng = np.random.default_rng(7)
    workload = make_jobs(rng, WEEK_START, 300)
    watching = make_jobs(rng, WEEK_START, 40)
    for row in watching:
        row["project"] = VALIDATION_PROJECT
    insert_jobs(store, workload + watching)
    paths = build_weekly_report(
        store,
        BUDGET_SLOS,
        week=WEEK,
        clock=VirtualClock(WEEK_END + timedelta(hours=1)),
        out_dir=tmp_path,
    )
    cost = json.loads(paths.data_json.read_text())["cost"]
    assert cost["validation_jobs"] == 40
    assert cost["validation_spend_usd"] == pytest.approx(sum(r["cost_usd"] for r in watching))
    assert cost["workload_spend_usd"] == pytest.approx(sum(r["cost_usd"] for r in workload))
    (budget,) = cost["budgets"]
    assert budget["week_budget_usd"] == pytest.approx(3000 * 7 / 30)
    html = paths.html.read_text()
    assert "Cost of watching" in html and "of the weekly budget" in html


def test_tag_totals_equal_the_jobs_tags(world, built):
    _, data = built
    from sqlalchemy import select

    from collector.schema import JobRow

    t = JobRow.__table__
    with world.store.engine.connect() as conn:
        rows = conn.execute(
            select(t.c.tags, t.c.cost_usd).where(
                t.c.submitted_at >= WEEK_START, t.c.submitted_at < WEEK_END
            )
        ).all()
    expected: dict[str, list[float]] = {}
    for tags, usd in rows:
        for k, v in tags.items():
            expected.setdefault(f"{k}={v}", []).append(usd)
    got = {t["key"]: t for t in data["cost"]["by_tag"]}
    assert got.keys() == expected.keys()
    for key, costs in expected.items():
        assert got[key]["jobs"] == len(costs)
        assert got[key]["spend_usd"] == pytest.approx(sum(costs), rel=1e-9)


def _episode(fp, start_h, end_h, severity="ticket", subject="sim_a"):
    start = WEEK_START + timedelta(hours=start_h)
    end = None if end_h is None else WEEK_START + timedelta(hours=end_h)
    return AlertEpisode(
        fp,
        "QsreSLOBurnRateTicket",
        "slo_burn_ticket",
        severity,
        subject,
        start,
        end,
        None if end is None else (end - start).total_seconds(),
    )


def test_incidents_merge_repeats_within_the_gap():
    gap_h = INCIDENT_MERGE_GAP_S / 3600
    episodes = [
        _episode("a", 0, 1),
        _episode("b", 1 + gap_h / 2, 3, severity="page"),  # a repeat: same incident
        _episode("c", 3 + 2 * gap_h, 4 + 2 * gap_h),  # later: a new one
        _episode("d", 2, None, subject="sim_b"),  # another subject, still open
    ]
    runbooks = {"a": "https://runbooks.example/slo_burn_ticket.md"}
    incidents = merge_incidents(episodes, runbooks, WEEK_END)
    assert len(incidents) == 3
    first = next(i for i in incidents if i.episodes == 2)
    assert first.severity == "page", "an incident is as severe as its worst episode"
    assert first.duration_seconds == 3 * 3600
    open_one = next(i for i in incidents if i.subject == "sim_b")
    assert open_one.resolved_at is None
    assert open_one.open_seconds_at_week_end == (WEEK_END - WEEK_START).total_seconds() - 7200
    # Resolved alerts left the state table; the known base URL links them too.
    assert {i.runbook for i in incidents} == {"https://runbooks.example/slo_burn_ticket.md"}


def test_long_tables_are_linked_csv_files_and_formula_safe(world, built):
    paths, data = built
    html = paths.html.read_text()
    for filename in CSV_FILES.values():
        assert (paths.html.parent / filename).is_file()
        assert f'href="{filename}"' in html
    with (paths.html.parent / "daily_spend.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(data["cost"]["daily"])
    assert sum(float(r["spend_usd"]) for r in rows if r["dimension"] == "backend") == (
        pytest.approx(data["totals"]["spend_usd"])
    )
    # The daily spend table is not inline any more.
    assert html.count("<tr>") < 80
    # A name a spreadsheet would run as a formula is written as text.
    assert _cell("=HYPERLINK(1)") == "'=HYPERLINK(1)" and _cell("sim_a") == "sim_a"


def test_attention_items_link_to_sections_of_the_page(built):
    paths, _ = built
    html = paths.html.read_text()
    block = html[html.index('<ol class="attention') : html.index("</ol>")]
    links = re.findall(r'href="#([\w-]+)"', block)
    assert 1 <= len(links) <= 3
    for anchor in links:
        assert f'id="{anchor}"' in html
    assert "Spend spike" in block or "SLO" in block


def test_partial_week_says_so_and_small_groups_have_exact_percentiles(store, tmp_path):
    rng = np.random.default_rng(3)
    rows = make_jobs(rng, WEEK_START, 40)
    # Two days only; Monday has exactly one measured job on sim_alpha.
    for i, row in enumerate(rows):
        day = 0 if i == 0 else 3
        row["submitted_at"] = WEEK_START + timedelta(days=day, hours=1, seconds=i)
        if i == 0:
            row.update(backend="sim_alpha", status="done", error_class=None, queue_seconds=7.5)
            row.update(e2e_seconds=9.0, run_seconds=1.5)
    insert_jobs(store, rows)
    paths = build_weekly_report(
        store, [], week=WEEK, clock=VirtualClock(WEEK_END + timedelta(hours=1)), out_dir=tmp_path
    )
    data = json.loads(paths.data_json.read_text())
    (monday,) = [r for r in data["latency"] if r["day"] == WEEK_START.date().isoformat()]
    assert monday["jobs"] == 1 and monday["queue_samples"] == 1
    assert monday["queue_p50_seconds"] == monday["queue_p99_seconds"] == 7.5
    assert "Partial week" in paths.html.read_text()
    assert "Partial week" in paths.markdown.read_text()


def test_evil_names_stay_escaped_in_incidents_and_episodes(built):
    paths, _ = built
    html = paths.html.read_text()
    assert EVIL not in html
    incidents = html[html.index('id="incidents"') : html.index('id="validation"')]
    assert "&lt;script&gt;" in incidents


def test_a_version_change_is_named():
    from slo.report_validation import _versions_changed

    before = {"qiskit": "2.6.2", "provider": {"backend_version": "1.0"}}
    after = {"qiskit": "2.6.2", "provider": {"backend_version": "1.1"}}
    assert _versions_changed(before, after) == "provider.backend_version 1.0 → 1.1"
    assert _versions_changed(before, before) == ""
