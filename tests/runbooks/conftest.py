from __future__ import annotations

import sys
from pathlib import Path

# No __init__.py here on purpose: a package named tests/runbooks would shadow the real
# `runbooks` package. Put the repo root first so `.venv/bin/pytest` finds it too.
_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT in sys.path:
    sys.path.remove(_ROOT)
sys.path.insert(0, _ROOT)
