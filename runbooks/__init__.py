"""On-call runbooks: one Markdown file per alert kind, plus the catalogue that finds them."""

from __future__ import annotations

from runbooks.catalog import (
    REQUIRED_SECTIONS,
    RUNBOOK_KINDS,
    InvalidRunbook,
    Runbook,
    RunbookError,
    UnknownRunbook,
    all_runbooks,
    index_markdown,
    render,
    runbook_for,
    runbook_url,
)

__all__ = [
    "REQUIRED_SECTIONS",
    "RUNBOOK_KINDS",
    "InvalidRunbook",
    "Runbook",
    "RunbookError",
    "UnknownRunbook",
    "all_runbooks",
    "index_markdown",
    "render",
    "runbook_for",
    "runbook_url",
]
