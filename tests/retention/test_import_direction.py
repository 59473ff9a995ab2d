"""Each package prunes its own tables, and imports still point down only."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OURS = {"collector", "validators", "slo", "dashboards", "qsre", "runbooks"}
ALLOWED = {
    "collector/retention.py": {"collector"},
    "validators/retention.py": {"collector", "validators"},
    "slo/retention.py": {"collector", "slo"},
}


def _imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names & OURS


@pytest.mark.parametrize("module", sorted(ALLOWED))
def test_a_pruner_imports_only_its_own_package_and_below(module: str) -> None:
    assert _imported_packages(ROOT / module) <= ALLOWED[module]
