"""The C hot path is part of what `make test` checks: it is an optional build for
users without a compiler, but here (gcc and Python headers are on the machine) a
silent fallback to Python would raise the proxy's overhead about fivefold
(bench/proxy_overhead.py: min_job +2-4 % with C, +17-20 % without), unnoticed."""

from __future__ import annotations

from collector import ids
from collector.recorder import SpoolRecorder
from collector.spool import native_available


def test_the_c_extension_is_built():
    assert native_available(), (
        "collector/_fastspool.c was not built: `pip install -e .` needs a C compiler and "
        "the Python headers (Debian: gcc, python3-dev)"
    )


def test_recorders_use_it(store, tmp_path):
    rec = SpoolRecorder(store, tmp_path / "spool")
    try:
        assert type(rec.writer.appender).__module__ == "collector._fastspool"
        assert rec.starter(b'"backend":"b"', lambda: 0.0, True) is not None
        assert ids.new_job_id.__module__ == "collector._fastspool"
    finally:
        rec.close()
