"""Listing jobs never creates or upgrades a store: a mistyped path is an error
naming it (exit 2), and nothing appears on disk."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from sqlalchemy import create_engine, text

QSRE = [sys.executable, "-m", "qsre.cli"]


def run(*args: str, cwd) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "80"}
    return subprocess.run(
        [*QSRE, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("command", [("jobs",), ("jobs", "show", "abc123")])
def test_a_missing_sqlite_store_is_an_error_and_is_not_created(tmp_path, command):
    missing = tmp_path / "no" / "such" / "dir" / "q.db"
    done = run(*command, "--db", f"sqlite:///{missing}", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        f"error: store: expected an existing SQLite file (qsre run, or any wrapped job, "
        f"creates it), got '{missing}'"
    ]
    assert not (tmp_path / "no").exists()


def test_a_store_behind_the_schema_is_not_upgraded_by_a_listing(tmp_path):
    path = tmp_path / "empty.db"
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:  # a database that is not a qsre store (yet)
        conn.execute(text("CREATE TABLE other (x INTEGER)"))
    engine.dispose()
    done = run("jobs", "--db", f"sqlite:///{path}", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "store schema: expected revision" in done.stderr
    with create_engine(f"sqlite:///{path}").connect() as conn:
        tables = {r[0] for r in conn.execute(text("SELECT name FROM sqlite_master"))}
    assert tables == {"other"}
