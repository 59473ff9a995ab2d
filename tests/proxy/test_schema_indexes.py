"""The jobs table carries no two indexes on the same key, on either dialect, and the
migrations build exactly the indexes the ORM declares."""

from __future__ import annotations

from sqlalchemy import inspect

from collector.schema import JobRow
from collector.store import Store


def test_no_duplicate_index_and_migrations_match_the_model(store_url) -> None:
    store = Store(store_url)
    with store.engine.connect() as conn:
        insp = inspect(conn)
        indexes = {i["name"]: tuple(i["column_names"]) for i in insp.get_indexes("jobs")}
        uniques = {u["name"]: tuple(u["column_names"]) for u in insp.get_unique_constraints("jobs")}
    keys = list(indexes.values()) + list(uniques.values())
    # PostgreSQL lists a unique constraint's index among the indexes too.
    distinct = {name: cols for name, cols in {**indexes, **uniques}.items()}
    assert len(set(distinct.values())) == len(distinct), keys
    assert "ix_jobs_idempotency_key" not in indexes
    declared = {i.name for i in JobRow.__table__.indexes}
    assert declared <= set(indexes), declared - set(indexes)
    store.close()
