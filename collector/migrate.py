"""Alembic migrations, run automatically when a store opens.

Each package that owns tables (collector, validators, slo) keeps its own Alembic
script directory and its own version table, so the packages evolve their schemas
independently while sharing one database. ``upgrade`` serialises concurrent
openers (several processes opening one store) with a PostgreSQL advisory lock or a
file lock next to the SQLite file.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

from collector.errors import StoreError

log = logging.getLogger(__name__)


def _config(script_location: Path, version_table: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    cfg.attributes["version_table"] = version_table
    return cfg


@contextmanager
def _migration_lock(engine: Engine, version_table: str) -> Iterator[Connection]:
    dialect = engine.dialect.name
    if dialect == "postgresql":
        key = int.from_bytes(hashlib.sha256(version_table.encode()).digest()[:7], "big")
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
            conn.commit()
            try:
                yield conn
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                conn.commit()
        return
    db_path = engine.url.database
    if dialect == "sqlite" and db_path and db_path != ":memory:":
        lock_path = Path(db_path).with_suffix(Path(db_path).suffix + ".migrate-lock")
        with open(lock_path, "a+") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                with engine.connect() as conn:
                    yield conn
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
        return
    with engine.connect() as conn:
        yield conn


def current_revision(conn: Connection, version_table: str) -> str | None:
    ctx = MigrationContext.configure(conn, opts={"version_table": version_table})
    return ctx.get_current_revision()


def head_revision(script_location: Path) -> str | None:
    return ScriptDirectory.from_config(_config(script_location, "unused")).get_current_head()


def upgrade(engine: Engine, script_location: Path, version_table: str) -> None:
    """Bring one package's tables to head. Safe to call from many processes at once."""
    head = head_revision(script_location)
    try:
        with engine.connect() as conn:
            if current_revision(conn, version_table) == head:
                return
        with _migration_lock(engine, version_table) as conn:
            if current_revision(conn, version_table) == head:
                return
            cfg = _config(script_location, version_table)
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
            conn.commit()
            log.info("migrated %s to %s", version_table, head)
    except StoreError:
        raise
    except Exception as exc:  # noqa: BLE001 - re-raised with context
        raise StoreError(
            f"could not migrate {version_table} at {engine.url.render_as_string(hide_password=True)}: {exc}"
        ) from exc


def run_env() -> None:
    """Body of every package's Alembic ``env.py`` (online mode only)."""
    from alembic import context

    cfg = context.config
    conn = cfg.attributes["connection"]
    context.configure(
        connection=conn,
        version_table=cfg.attributes["version_table"],
        render_as_batch=conn.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
