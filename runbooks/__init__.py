"""On-call runbooks: one Markdown file per alert kind, plus the catalogue that finds them."""

from __future__ import annotations

from runbooks.catalog import (
    FAILURE_MODES,
    REQUIRED_SECTIONS,
    RUNBOOK_KINDS,
    InvalidRunbook,
    Runbook,
    RunbookError,
    UnknownRunbook,
    all_runbooks,
    failure_mode_id,
    index_markdown,
    installed_runbook_base,
    render,
    runbook_base,
    runbook_for,
    runbook_url,
)

__all__ = [
    "FAILURE_MODES",
    "REQUIRED_SECTIONS",
    "RUNBOOK_KINDS",
    "InvalidRunbook",
    "Runbook",
    "RunbookError",
    "UnknownRunbook",
    "all_runbooks",
    "failure_mode_id",
    "index_markdown",
    "installed_runbook_base",
    "render",
    "runbook_base",
    "runbook_for",
    "runbook_url",
]
