"""Opening a store for reading: the commands that only look (`jobs`, `slo status`,
`alerts`, `report`, `doctor`) never create, migrate or write one.

A mistyped SQLite path must be an error naming the path, not a new empty store;
a store behind this version's schema is reported with how to upgrade it, because
upgrading is a write the user did not ask a listing command for.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from qsre.errors import NotFound

CREATE_HINT = "an existing SQLite file (qsre run, or any wrapped job, creates it)"
UPGRADE_HINT = "run `qsre run` once, or record a job, to upgrade it"


@dataclass(frozen=True)
class StoreState:
    """What a store holds, read without writing. ``collector_revision`` None: no
    qsre tables yet; ``file_missing``: a SQLite file that does not exist."""

    url: str
    file_missing: bool
    collector_revision: str | None
    collector_head: str | None

    @property
    def current(self) -> bool:
        return not self.file_missing and self.collector_revision == self.collector_head


def sqlite_file(url: str) -> Path | None:
    """The file of a file-backed SQLite URL; None for other dialects and :memory:."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def require_file(url: str) -> None:
    """NotFound (exit 2) naming the path when ``url`` is a SQLite file that does not
    exist: no command should create an empty store from a mistyped path."""
    path = sqlite_file(url)
    if path is not None and not path.exists():
        raise NotFound("store", CREATE_HINT, str(path))


def store_state(url: str) -> StoreState:
    """Connects (raising StoreError if unreachable) and reads the schema revision."""
    from collector import migrate
    from collector.store import MIGRATIONS, VERSION_TABLE, Store

    head = migrate.head_revision(MIGRATIONS)
    path = sqlite_file(url)
    if path is not None and not path.exists():
        return StoreState(url, True, None, head)
    store = Store(url, migrate_on_open=False)
    try:
        with store.engine.connect() as conn:
            current = migrate.current_revision(conn, VERSION_TABLE)
    finally:
        store.close()
    return StoreState(url, False, current, head)


def open_existing(url: str):
    """A Store on ``url`` that must exist and be at this version's schema; nothing is
    created or upgraded. NotFound (exit 2) naming the path or revision otherwise."""
    from collector.store import Store

    require_file(url)
    state = store_state(url)
    if not state.current:
        raise NotFound(
            "store schema",
            f"revision {state.collector_head} ({UPGRADE_HINT})",
            state.collector_revision or "an empty database",
        )
    return Store(url, migrate_on_open=False)
