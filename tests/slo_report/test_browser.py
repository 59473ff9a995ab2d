"""Acceptance: the demo week's report as a manager sees it, in headless Chromium at
1400 px wide — page height, every chart image loaded, the inline table rows — and an
empty week that says so in words and draws no axes.

Debian's ``chromium`` (installed by .ci/install-system-deps); skipped loudly without it.
The page itself has no script: the test renders a copy with a probe appended that
writes the measurements into the DOM, which ``--dump-dom`` returns.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest

from collector.clock import VirtualClock
from slo.report import build_weekly_report
from slo.report_charts import CHARTS

from .conftest import WEEK_END
from .test_report import SLOS

MAX_HEIGHT_PX = 6000
MAX_INLINE_ROWS = 120
WIDTH_PX = 1400
_PROBE = """
<script>
window.addEventListener("load", () => {
  const imgs = [...document.images];
  const out = {
    height: document.documentElement.scrollHeight,
    width: document.documentElement.scrollWidth,
    images: imgs.length,
    loaded: imgs.filter(i => i.complete && i.naturalWidth > 0).length,
    rows: document.querySelectorAll("tr").length,
    text: document.body.innerText,
  };
  const pre = document.createElement("pre");
  pre.id = "probe";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>
"""


def _chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("SKIPPED LOUDLY: no chromium on PATH (.ci/install-system-deps installs it)")


def measure(html: Path, tmp_path: Path) -> dict:
    """Load a probed copy of ``html`` at 1400 px; its measurements and a screenshot."""
    probed = tmp_path / f"probed-{html.parent.name}.html"
    text = html.read_text(encoding="utf-8")
    probed.write_text(text.replace("</body>", _PROBE + "</body>"), encoding="utf-8")
    for f in html.parent.glob("*.csv"):  # the links resolve beside the copy too
        shutil.copy(f, tmp_path / f.name)
    base = [
        _chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        f"--window-size={WIDTH_PX},900",
        "--virtual-time-budget=15000",
    ]
    dom = subprocess.run(
        [*base, "--dump-dom", probed.as_uri()], capture_output=True, text=True, timeout=120
    ).stdout
    match = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert match, f"the probe did not run; chromium printed {dom[:500]!r}"
    got = json.loads(match.group(1).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&"))
    shot = tmp_path / f"{html.parent.name}.png"
    subprocess.run(
        [
            *base[:-2],
            f"--window-size={WIDTH_PX},{got['height']}",
            f"--screenshot={shot}",
            html.as_uri(),
        ],
        capture_output=True,
        timeout=120,
    )
    got["screenshot"] = str(shot)
    return got


@pytest.mark.slow
def test_demo_week_report_reads_on_a_few_screens(demo_week, tmp_path):
    html = Path(demo_week.paths["weekly_report_html"])
    got = measure(html, tmp_path)
    print(
        f"\ndemo week report at {WIDTH_PX} px: {got['height']} px tall, {got['rows']} rows, "
        f"{got['loaded']}/{got['images']} images; screenshot {got['screenshot']}"
    )
    assert got["height"] <= MAX_HEIGHT_PX
    assert got["width"] <= WIDTH_PX, "the page scrolls sideways"
    assert got["rows"] <= MAX_INLINE_ROWS
    assert got["images"] == len(CHARTS), "every chart of a full week is drawn"
    assert got["loaded"] == got["images"], "a chart image did not load"
    text = got["text"]
    # The first screen names the verdict: spend, the cost of watching, incidents, attention.
    head = text[: text.index("SLOs\n", text.index("Verdict of the week") + 30)]
    for words in ("Cost of watching", "Incidents", "median time to resolve", "Spend"):
        assert words in head
    # Both validation faults of the demo are episodes, not one row per circuit and run:
    # the drift latched until the recalibration, the divergence still open.
    data = json.loads((html.parent / "report.json").read_text())
    episodes = {(e["backend"], e["verdict"]): e for e in data["fidelity"]["episodes"]}
    assert episodes[("sim-drifting", "drift")]["ended_by"] == "recalibration"
    assert episodes[("sim-firmware", "diverged")]["latched_until"] is None
    assert len(data["alerts"]["incidents"]) <= len(data["alerts"]["episodes"])
    for name in ("daily_spend.csv", "latency_per_day.csv", "alert_episodes.csv"):
        assert (html.parent / name).is_file()


@pytest.mark.slow
def test_empty_week_says_so_and_draws_no_axes(store, tmp_path):
    out = tmp_path / "empty"
    build_weekly_report(
        store, SLOS, week="2026-W47", clock=VirtualClock(WEEK_END + timedelta(hours=1)), out_dir=out
    )
    got = measure(out / "report.html", tmp_path)
    assert "Nothing ran this week" in got["text"]
    assert got["images"] == 0 == got["loaded"]
    assert got["height"] <= 2500
