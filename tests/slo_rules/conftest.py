from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

PROMTOOL = shutil.which("promtool") or (
    "/usr/bin/promtool" if Path("/usr/bin/promtool").exists() else None
)


@pytest.fixture
def promtool() -> str:
    if PROMTOOL is None:
        pytest.skip(
            "SKIPPED LOUDLY: promtool not found (apt-get install prometheus); "
            "generated rules are NOT validated by Prometheus"
        )
    return PROMTOOL


def run_promtool(promtool: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool, *args], capture_output=True, text=True, timeout=300)
