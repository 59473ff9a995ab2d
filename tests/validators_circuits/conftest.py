from __future__ import annotations

from oracles import g_test_pvalue, tvd  # noqa: E402, F401 - shared test oracles
