"""The simulated demo week, run once per test session and shared by the e2e tests."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from qsre.demo import DemoRun

DEMO_DAYS = 7


@dataclass(frozen=True)
class DemoWeek:
    demo: DemoRun
    out: Path
    paths: dict[str, str]
    run_seconds: float


@pytest.fixture(scope="session")
def demo_week(tmp_path_factory: pytest.TempPathFactory) -> DemoWeek:
    out = tmp_path_factory.mktemp("demo-week")
    started = time.monotonic()
    demo = DemoRun(out, days=DEMO_DAYS)
    demo.run()
    demo.finish()
    paths = demo.write_outputs()
    return DemoWeek(demo, out, paths, time.monotonic() - started)
