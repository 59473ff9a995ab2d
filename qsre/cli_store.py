"""``qsre store ...``: the store itself. ``qsre store prune`` applies ``store.retention``.

Registered by qsre.cli as ``app.add_typer(store_app, name="store")``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from qsre.cli_tables import Column, fit_table

if TYPE_CHECKING:
    from collector.retention import PruneResult
    from qsre.retention import RetentionPolicy

store_app = typer.Typer(
    rich_markup_mode="markdown",
    help="The event store: retention, and copying it to another database.",
    no_args_is_help=True,
)

console = Console()

PRUNE_COLUMNS = (
    Column("table", 0),
    Column("kept", 2, "right"),
    Column("cutoff (UTC)", 3),
    Column("rows", 1, "right"),
    Column("state", 4),
)


def _format_keep(seconds: int | None) -> str:
    if seconds is None:
        return "forever"
    if seconds % 86400 == 0:
        return f"{seconds // 86400}d"
    return f"{seconds}s"


@store_app.command("prune")
def prune(
    config_path: Annotated[
        Path | None,
        typer.Option(
            "--config", "-c", help="qsre.yaml (default: ./qsre.yaml, else the embedded example)"
        ),
    ] = None,
    db: Annotated[str | None, typer.Option("--db", help="Store URL (overrides store.url)")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would be deleted; delete nothing")
    ] = False,
    max_seconds: Annotated[
        float | None,
        typer.Option(
            "--max-seconds",
            help="Seconds after which no new batch starts (default: prune to the end)",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table")] = False,
    wide: Annotated[
        bool, typer.Option("--wide", help="Show every column, however wide the terminal")
    ] = False,
) -> None:
    """Delete raw rows older than store.retention (jobs, counts, validation runs,
    notification log), oldest first, in small transactions. Rollups, alert state and
    silences are never deleted: SLOs and past reports still answer."""
    from collector.clock import SystemClock
    from collector.store import Store
    from qsre.config import load_config
    from qsre.errors import InputError
    from qsre.retention import RetentionPolicy, prune_store
    from qsre.store_access import open_existing, require_file

    if max_seconds is not None and not max_seconds > 0:
        raise InputError("--max-seconds", "a positive number of seconds", max_seconds)
    config = load_config(config_path)
    policy = RetentionPolicy.from_config(config)
    url = db or config.store_url
    # A dry run writes nothing (no migration either); a real prune brings the schema
    # to this version first, as every writing command does.
    if dry_run:
        store = open_existing(url)
    else:
        require_file(url)  # a mistyped path is not a new, empty store to prune
        store = Store(url)
    now = SystemClock().now()
    try:
        results = prune_store(store.engine, policy, now, dry_run=dry_run, max_seconds=max_seconds)
    finally:
        store.close()
    if as_json:
        out = {
            "at": now.isoformat(),
            "dry_run": dry_run,
            "tables": [
                {**r.to_dict(), "retention_s": policy.retention_s(r.table)} for r in results
            ],
        }
        typer.echo(json.dumps(out, indent=2))
        return
    console.print(prune_table(results, policy, dry_run=dry_run, width=console.width, wide=wide))


def prune_table(
    results: Sequence[PruneResult],
    policy: RetentionPolicy,
    *,
    dry_run: bool,
    width: int,
    wide: bool = False,
) -> Table:
    """The prune report as a table that fits ``width``."""
    rows = []
    for r in results:
        if r.skipped:
            state = "no such table"
        elif r.done:
            state = "up to date" if not dry_run else "all counted"
        else:
            state = "more to go"
        rows.append(
            [
                r.table,
                _format_keep(policy.retention_s(r.table)),
                r.cutoff.strftime("%Y-%m-%d %H:%M"),
                f"{r.deleted:,}",
                state,
            ]
        )
    total = sum(r.deleted for r in results)
    verb = "would delete" if dry_run else "deleted"
    title = f"store prune{' (dry run)' if dry_run else ''}: {verb} {total:,} rows"
    caption = "rows: " + ("what would be deleted now" if dry_run else "deleted by this run")
    return fit_table(title, PRUNE_COLUMNS, rows, width=width, wide=wide, caption=caption)


# `qsre store copy`: its own module (the copy is a separate job from retention).
from qsre.cli_store_copy import store_copy  # noqa: E402

store_app.command("copy")(store_copy)
