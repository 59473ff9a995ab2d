"""The runbook catalogue: lookup, URLs, rendering, index."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from rich.console import Console
from rich.markdown import Markdown

from runbooks import (
    FAILURE_MODES,
    RUNBOOK_KINDS,
    InvalidRunbook,
    UnknownRunbook,
    all_runbooks,
    failure_mode_id,
    index_markdown,
    render,
    runbook_for,
    runbook_url,
)

# The alert-kind contract shared by the SLO engine, alert rules and runbooks.
CONTRACT_KINDS = {
    "slo_burn_page",
    "slo_burn_ticket",
    "auth_failure",
    "result_corruption",
    "quota_breach",
    "calibration_drift",
    "simulator_divergence",
    "queue_overload",
    "network_blips",
    "billing_spike",
    "backend_down",
    "resource_exhaustion",
    "notifications_failing",
    "evaluation_stalled",
}


def test_every_alert_kind_has_a_runbook_file():
    assert set(RUNBOOK_KINDS) == CONTRACT_KINDS
    for kind in RUNBOOK_KINDS:
        rb = runbook_for(kind)
        assert rb.kind == kind
        assert rb.path.is_file() and rb.path.name == f"{kind}.md"
        assert rb.markdown.startswith(f"# {rb.title}\n")
        assert not rb.markdown.startswith("---")  # front matter stripped


def test_simulator_divergence_title_is_the_contract_title():
    assert runbook_for("simulator_divergence").title == (
        "Firmware/compiler regression (simulator divergence)"
    )


def test_catalogue_agrees_with_the_slo_engines_alert_catalogue():
    alerts = pytest.importorskip("slo.alerts")
    assert set(alerts.ALERT_KINDS) == set(RUNBOOK_KINDS)
    for kind, spec in alerts.ALERT_KINDS.items():
        rb = runbook_for(kind)
        assert rb.alertname == spec.alertname, kind
        assert rb.severity == spec.default_severity, kind
        assert alerts.runbook_path(kind) == f"runbooks/{rb.file_name}"


def test_unknown_kind_is_a_clear_error():
    with pytest.raises(UnknownRunbook) as err:
        runbook_for("disk_on_fire")
    message = str(err.value)
    assert "'disk_on_fire'" in message and "queue_overload" in message
    with pytest.raises(UnknownRunbook):
        runbook_url("disk_on_fire", "https://example.org/runbooks/")


@pytest.mark.parametrize(
    "base",
    [
        "https://github.com/org/qsre/blob/main/runbooks/",
        "https://github.com/org/qsre/blob/main/runbooks",
        "http://wiki.internal:8080/qsre/runbooks/",
    ],
)
def test_runbook_urls_are_well_formed(base):
    for kind in RUNBOOK_KINDS:
        url = runbook_url(kind, base)
        parts = urlsplit(url)
        assert parts.scheme in ("http", "https") and parts.netloc
        assert url == base.rstrip("/") + f"/{kind}.md"
        assert "//" not in parts.path and " " not in url


@pytest.mark.parametrize("base", ["", None])
def test_without_a_base_url_links_open_the_installed_runbook_file(base):
    """Offline by default: the link is a file:// URI of the very file `qsre runbook
    show` renders, so it opens with no network and no configuration."""
    for kind in RUNBOOK_KINDS:
        url = runbook_url(kind, base)
        parts = urlsplit(url)
        assert parts.scheme == "file" and url.endswith(f"/{kind}.md")
        path = Path(unquote(parts.path))
        assert path == runbook_for(kind).path and path.is_file()
        assert runbook_for(kind).markdown in path.read_text(encoding="utf-8")


def test_a_file_base_url_is_accepted_as_given():
    assert runbook_url("queue_overload", "file:///srv/runbooks") == (
        "file:///srv/runbooks/queue_overload.md"
    )


def test_failure_modes_are_numbered_alert_kinds_with_runbooks():
    assert len(FAILURE_MODES) == len(set(FAILURE_MODES)) == 8
    assert set(FAILURE_MODES) <= set(RUNBOOK_KINDS)
    assert [failure_mode_id(k) for k in FAILURE_MODES] == [f"F{i}" for i in range(1, 9)]
    assert failure_mode_id("queue_overload") == "F1"
    assert failure_mode_id("resource_exhaustion") == "F8"
    assert failure_mode_id("backend_down") is None


@pytest.mark.parametrize(
    "base", ["github.com/org/qsre", "ftp://x/runbooks/", "https://x/rb?ref=main", "https://"]
)
def test_bad_base_url_names_the_setting(base):
    with pytest.raises(InvalidRunbook, match="base_url"):
        runbook_url("queue_overload", base)


def test_render_gives_rich_markdown_with_the_runbook_text():
    renderable = render("auth_failure")
    assert isinstance(renderable, Markdown)
    console = Console(record=True, width=100, color_system=None)
    console.print(renderable)
    out = console.export_text()
    assert "Authentication failure" in out
    assert "Verify recovery" in out and "qsre doctor" in out
    assert "kind: auth_failure" not in out  # front matter is not shown


def test_index_md_is_in_sync_with_front_matter():
    index = Path(runbook_for("queue_overload").path).with_name("index.md")
    assert index.read_text(encoding="utf-8") == index_markdown(), (
        "runbooks/index.md is stale: regenerate with runbooks.catalog.index_markdown()"
    )
    for rb in all_runbooks():
        assert f"`{rb.kind}`" in index_markdown() and f"({rb.file_name})" in index_markdown()
