from __future__ import annotations

import sys
from pathlib import Path

# No __init__.py here on purpose: a package named tests/dashboards would shadow the real
# `dashboards` package. Put the repo root first (so `.venv/bin/pytest` finds the real
# package even without `python -m`) and this folder next (for dash_testkit).
_HERE = Path(__file__).resolve().parent
for entry in (str(_HERE), str(_HERE.parents[1])):
    if entry in sys.path:
        sys.path.remove(entry)
    sys.path.insert(0, entry)

from dash_testkit import catalogue, dashboards, schema_validator  # noqa: E402,F401
