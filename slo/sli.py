"""SLI kinds as SQL: which store rows count as good and as total for one SLO.

Each SLI reads one source table and buckets its rows by one timestamp:

- job kinds read ``jobs`` (collector schema), terminal rows only, bucketed by the
  minute of ``finished_at`` (the moment the exporter counts them too);
- ``fidelity`` / ``divergence`` / ``mitigation_gain`` read ``validation_runs`` (owned
  by validators; read here by table name, never by importing validators), bucketed
  by ``ran_at``;
- ``cost_budget`` sums ``cost_usd`` of terminal jobs (the per-minute *spend*; the
  burn conversion happens in ``slo.burn.cost_budget_buckets``).

Definitions (the contract shared with the Prometheus rules and the reports):

- ``job_success``: total = terminal jobs except ``cancelled`` and client-side
  rejections (error_class ``quota`` / ``invalid_input``: refused before submission,
  not a service failure); good = status ``done``.
- ``auth_errors``: total = terminal jobs; good = error_class is not ``auth``.
- ``queue_latency`` / ``e2e_latency``: total = terminal jobs with a measured time;
  good = time <= threshold_seconds (``le`` is inclusive, like the histogram).
- ``fidelity``: total = runs except verdict ``error`` and ``not_evaluated``;
  good = verdict ``ok`` or ``warn``.
- ``divergence``: total = runs where ``diverged`` is not null; good = not diverged.
- ``mitigation_gain``: total = runs where ``fidelity`` and ``fidelity_mitigated`` are
  both set; good = ``fidelity_mitigated - fidelity >= margin``. A run is one circuit
  row, like the other validation kinds: rows are what the store holds and the
  rollups count, and a per-suite-run event would hide which circuits stopped
  gaining (the evidence lives per circuit).

Filters: ``backend`` / ``project`` (IN lists) and ``tags`` (JSON field equality; the
``purpose`` tag maps to the ``purpose`` column, which defaults to ``workload``).
Validation runs have only a backend, so other filters are rejected.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import (
    Column,
    ColumnElement,
    Table,
    and_,
    false,
    or_,
    true,
)

from collector.schema import TERMINAL_STATUSES, JobRow
from slo.errors import SLOError
from slo.spec import VALIDATION_KINDS, SLISpec
from slo.validation_table import VALIDATION_RUNS

JOBS = JobRow.__table__
CLIENT_REJECTION_CLASSES = ("quota", "invalid_input")


Source = Literal["jobs", "validation_runs"]


class SLIError(SLOError):
    """An SLO whose SLI cannot be computed from the store as specified."""


@dataclass(frozen=True)
class SLIQuery:
    """SQL conditions for one SLI over its source table.

    ``key`` identifies the rollup series: SLOs with the same SLI share buckets, and
    editing an SLI's filters yields a new key (so stale buckets are never reused).
    ``value`` is None for event SLIs (count rows) or the column summed (cost).
    """

    key: str
    source: Source
    total: ColumnElement[bool]
    good: ColumnElement[bool] | None
    value: Any = None
    # Source columns added by a later migration than the table itself: until the
    # store has them the series stays empty (see slo.rollup).
    columns: tuple[str, ...] = ()


def source_of(sli: SLISpec) -> Source:
    return "validation_runs" if sli.kind in VALIDATION_KINDS else "jobs"


def sli_key(sli: SLISpec) -> str:
    """Stable id of what an SLI counts (kind, filters, threshold; not budget or objective)."""
    ident = {
        "kind": sli.kind,
        "backends": sorted(sli.backends),
        "projects": sorted(sli.projects),
        "tags": sorted(sli.tags),
        "threshold_seconds": sli.threshold_seconds,
    }
    if sli.margin is not None:
        # Only when set, so the keys (and rollup series) of the other kinds stay as
        # they were before margin existed.
        ident["margin"] = sli.margin
    digest = hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()
    return f"{sli.kind[:12]}-{digest[:16]}"


def sli_query(sli: SLISpec) -> SLIQuery:
    """The good/total conditions of an SLI (SLIError if its filters cannot apply)."""
    key = sli_key(sli)
    if source_of(sli) == "validation_runs":
        return _validation_query(sli, key)
    t = JOBS
    terminal = t.c.status.in_(TERMINAL_STATUSES)
    base = and_(terminal, *_job_filters(sli))
    if sli.kind == "job_success":
        total = and_(
            base,
            t.c.status != "cancelled",
            or_(t.c.error_class.is_(None), t.c.error_class.not_in(CLIENT_REJECTION_CLASSES)),
        )
        return SLIQuery(key, "jobs", total, and_(total, t.c.status == "done"))
    if sli.kind == "auth_errors":
        good = and_(base, or_(t.c.error_class.is_(None), t.c.error_class != "auth"))
        return SLIQuery(key, "jobs", base, good)
    if sli.kind in ("queue_latency", "e2e_latency"):
        col = t.c.queue_seconds if sli.kind == "queue_latency" else t.c.e2e_seconds
        if sli.threshold_seconds is None:
            raise SLIError(f"SLI {sli.kind} needs threshold_seconds, got None")
        total = and_(base, col.is_not(None))
        return SLIQuery(key, "jobs", total, and_(total, col <= sli.threshold_seconds))
    if sli.kind == "cost_budget":
        return SLIQuery(key, "jobs", base, None, value=t.c.cost_usd)
    raise SLIError(f"unknown SLI kind {sli.kind!r}")


def _job_filters(sli: SLISpec) -> list[ColumnElement[bool]]:
    t = JOBS
    out: list[ColumnElement[bool]] = []
    if sli.backends:
        out.append(t.c.backend.in_(sli.backends))
    if sli.projects:
        out.append(t.c.project.in_(sli.projects))
    for name, value in sli.tags:
        if name == "purpose":
            # The store fills purpose from tags['purpose'] or 'workload'.
            out.append(t.c.purpose == value)
        else:
            out.append(t.c.tags[name].as_string() == value)
    return out


def _validation_query(sli: SLISpec, key: str) -> SLIQuery:
    if sli.projects or sli.tags:
        raise SLIError(
            f"SLI {sli.kind} reads validation_runs, which have a backend only: "
            f"expected no project/tags filters, got projects={list(sli.projects)} "
            f"tags={dict(sli.tags)}"
        )
    v = VALIDATION_RUNS
    base = v.c.backend.in_(sli.backends) if sli.backends else true()
    if sli.kind == "fidelity":
        total = and_(base, v.c.verdict.not_in(("error", "not_evaluated")))
        return SLIQuery(key, "validation_runs", total, and_(total, v.c.verdict.in_(("ok", "warn"))))
    if sli.kind == "mitigation_gain":
        if sli.margin is None:
            raise SLIError("SLI mitigation_gain needs margin, got None")
        total = and_(base, v.c.fidelity.is_not(None), v.c.fidelity_mitigated.is_not(None))
        good = and_(total, v.c.fidelity_mitigated - v.c.fidelity >= sli.margin)
        return SLIQuery(key, "validation_runs", total, good, columns=("fidelity_mitigated",))
    total = and_(base, v.c.diverged.is_not(None))
    return SLIQuery(key, "validation_runs", total, and_(total, v.c.diverged == false()))


def time_column(source: Source) -> Column[Any]:
    """The timestamp a source's rows are bucketed by."""
    return JOBS.c.finished_at if source == "jobs" else VALIDATION_RUNS.c.ran_at


def source_table(source: Source) -> Table:
    return JOBS if source == "jobs" else VALIDATION_RUNS
