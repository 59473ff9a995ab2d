"""`qsre store copy`: move a store to another database (SQLite → PostgreSQL and back).

The command only; the copy and its verification are qsre.store_copy. Registered on
the `store` command group by qsre.cli.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

TO_HELP = (
    "Target store URL, e.g. postgresql+psycopg://qsre@db/qsre or sqlite:///qsre.db; "
    "created or migrated, and it must hold no qsre rows yet"
)


def store_copy(
    to: Annotated[str, typer.Option("--to", help=TO_HELP, show_default=False)],
    source: Annotated[
        str | None,
        typer.Option("--from", "--db", help="Source store URL (default: the config's store.url)"),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", "-c", help="qsre.yaml (default: ./qsre.yaml, else the embedded example)"
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the summary (per table: rows, sha256) as JSON")
    ] = False,
) -> None:
    """Copy every job, count, validation run, rollup and alert state to another store,
    keeping their keys, and verify each table by row count and SHA-256. The source is
    only read; stop `qsre run` on it first so that nothing is written meanwhile."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from qsre.store_copy import copy_store

    if source is None:
        from qsre.config import load_config

        source = load_config(config).store_url
    err = Console(stderr=True)
    bar = Progress(
        TextColumn("{task.description:<24}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )
    tasks: dict[str, Any] = {}

    def progress(table: str, done: int, total: int) -> None:
        if table not in tasks:
            tasks[table] = bar.add_task(table, total=total)
        bar.update(tasks[table], completed=done)

    with bar:
        report = copy_store(source, to, progress=progress)
    if as_json:
        sys.stdout.write(json.dumps(report.as_json(), indent=2) + "\n")
        return
    out = Console()
    for t in report.tables:
        out.print(f"{t.name:<24} {t.rows:>12,} rows  sha256 {t.source_sha256[:16]}…  verified")
    if report.skipped:
        out.print(f"not copied (not qsre tables at this version): {', '.join(report.skipped)}")
    out.print(
        f"copied {report.rows:,} rows in {len(report.tables)} tables from {report.source} "
        f"to {report.target} in {report.seconds:.1f} s; every count and checksum matches"
    )
