"""Runbook content: sections, PromQL against the metric catalogue, panels that exist."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from dashboards import build_dashboards, metric_names_in
from runbooks import REQUIRED_SECTIONS, all_runbooks

DATA = Path(__file__).resolve().parents[1] / "data"
ALLOWED_COMMANDS = ("jobs", "slo status", "alerts", "validate", "silence add", "doctor", "runbook")


def _catalogue() -> set[str]:
    names: set[str] = set()
    for line in (DATA / "metric_catalogue.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, kind = line.split()
            names.add(name)
            if kind == "histogram":
                names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
    return names


def _section(markdown: str, title: str) -> str:
    m = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", markdown, re.S | re.M)
    assert m, f"section {title!r} missing"
    return m.group(1)


def _promql(markdown: str) -> list[str]:
    body = _section(markdown, "What to look at")
    block = body.split("- PromQL:", 1)
    assert len(block) == 2, "What to look at has no '- PromQL:' list"
    return re.findall(r"^\s+- `([^`]+)`", block[1], re.M)


@pytest.mark.parametrize("rb", all_runbooks(), ids=lambda rb: rb.kind)
def test_runbook_has_every_section_in_order_and_non_empty(rb):
    sections = [s for s in rb.sections() if s in REQUIRED_SECTIONS]
    assert sections == list(REQUIRED_SECTIONS)
    for title in REQUIRED_SECTIONS:
        assert len(_section(rb.markdown, title).strip()) > 40, (rb.kind, title)


@pytest.mark.parametrize("rb", all_runbooks(), ids=lambda rb: rb.kind)
def test_runbook_promql_uses_only_catalogue_metrics(rb):
    catalogue = _catalogue()
    queries = _promql(rb.markdown)
    assert queries, rb.kind
    for q in queries:
        names = metric_names_in(q)
        assert names, q
        assert names <= catalogue, (rb.kind, q, names - catalogue)
    # metric-looking names in prose must exist too (catches typos outside PromQL lists)
    prose = set(re.findall(r"\b(qsre_[a-z0-9_]+|slo:[a-z0-9_:]+)", rb.markdown))
    assert prose <= catalogue, (rb.kind, prose - catalogue)


@pytest.mark.parametrize("rb", all_runbooks(), ids=lambda rb: rb.kind)
def test_diagnose_uses_real_qsre_commands(rb):
    body = _section(rb.markdown, "Diagnose")
    commands = re.findall(r"^qsre (.+)$", body, re.M)
    assert commands, rb.kind
    for command in commands:
        assert command.startswith(ALLOWED_COMMANDS), command
    silences = re.findall(r"`qsre silence add ([^`]+)`", rb.markdown)
    for args in silences:
        assert f"--match kind={rb.kind}" in args and "--comment" in args


@dataclass(frozen=True)
class _SLO:
    name: str
    objective: float
    description: str
    policy: str


def test_panels_named_in_runbooks_exist_on_the_dashboards():
    dashboards = build_dashboards([_SLO("example", 0.99, "", "sre-workbook")]).values()
    by_title = {d["title"]: {p.get("title") for p in d["panels"]} for d in dashboards}
    referenced = 0
    for rb in all_runbooks():
        for dash_title, panel in re.findall(r"\*\*(qsre [^*›]+?) › ([^*]+)\*\*", rb.markdown):
            referenced += 1
            if dash_title == "qsre SLO: <name>":
                dash_title = "qsre SLO: example"
            assert dash_title in by_title, (rb.kind, dash_title)
            assert panel in by_title[dash_title], (rb.kind, dash_title, panel)
        assert set(rb.dashboards) <= {d["uid"] for d in dashboards}, rb.kind
    assert referenced >= 2 * len(all_runbooks())


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed")
def test_runbook_promql_parses_in_promtool(tmp_path):
    queries = sorted(
        {
            q.replace("<name>", "example").replace('"B"', '"ibm_x"')
            for rb in all_runbooks()
            for q in _promql(rb.markdown)
        }
    )
    rules = [{"record": f"qsre:runbook_check:{i}", "expr": q} for i, q in enumerate(queries)]
    path = tmp_path / "rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "runbooks", "rules": rules}]}))
    proc = subprocess.run(
        ["promtool", "check", "rules", str(path)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
