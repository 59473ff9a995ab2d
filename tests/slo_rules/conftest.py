from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

PROMTOOL = shutil.which("promtool") or (
    "/usr/bin/promtool" if Path("/usr/bin/promtool").exists() else None
)


@pytest.fixture
def promtool() -> Callable[..., subprocess.CompletedProcess[str]]:
    """Runs the real promtool with the given arguments; skips loudly when absent."""
    if PROMTOOL is None:
        pytest.skip(
            "SKIPPED LOUDLY: promtool not found (apt-get install prometheus); "
            "generated rules are NOT validated by Prometheus"
        )
    path = PROMTOOL

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([path, *args], capture_output=True, text=True, timeout=300)

    return run
