"""Running the real ``qsre`` entry point in a subprocess at 80 columns."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Run:
    """What a user sees: exit code, stdout and stderr of one ``qsre`` invocation."""

    args: tuple[str, ...]
    code: int
    stdout: str
    stderr: str


def qsre(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120) -> Run:
    """Run ``python -m qsre.cli ARGS`` (the installed script's code path) at COLUMNS=80."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("QSRE_") and k != "COLUMNS"}
    full_env.update({"COLUMNS": "80", "LINES": "50", "PYTHONPATH": str(REPO)})
    full_env.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-m", "qsre.cli", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return Run(tuple(args), proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def run_qsre(tmp_path):
    """``qsre`` in a fresh working directory (no stray ./qsre.yaml is picked up)."""

    def run(*args: str, env: dict[str, str] | None = None) -> Run:
        return qsre(*args, cwd=tmp_path, env=env)

    return run
