"""The SQL the dashboards send to the event store through Grafana's PostgreSQL datasource.

Per-job rows (job ids, circuit hashes, trace ids) are never Prometheus labels, so the
panels that list jobs query the store's tables directly: ``jobs`` (collector.schema)
and ``validation_runs`` (validators.store). PostgreSQL only; Grafana expands the
``$__`` macros (see dashboards.sql_macros) and ``${backend:regex}``, the dashboards'
Prometheus backend picker (``.*`` for All, so every query anchors it).

Each query is bounded: a time filter on an indexed timestamp and a LIMIT.
"""

from __future__ import annotations

# Statuses that count as a failed job (cancelled is the user's decision).
FAILED = "('error', 'unknown')"
BACKEND_MATCH = "j.backend ~ '^(${backend:regex})$'"

FAILING_JOBS = f"""\
SELECT
  j.finished_at AS "time",
  j.id AS job_id,
  j.backend,
  j.project,
  j.status,
  j.error_class,
  left(j.error_message, 200) AS error_message,
  j.attempts,
  j.e2e_seconds,
  j.circuit_hash,
  j.provider_job_id,
  j.trace_id
FROM jobs j
WHERE j.status IN {FAILED}
  AND $__timeFilter(j.finished_at)
  AND {BACKEND_MATCH}
ORDER BY j.finished_at DESC
LIMIT 200"""

TOP_FAILING_CIRCUITS = f"""\
SELECT
  j.backend,
  j.circuit_hash,
  count(*) FILTER (WHERE j.status IN {FAILED}) AS failed_jobs,
  count(*) AS jobs,
  round(count(*) FILTER (WHERE j.status IN {FAILED})::numeric / count(*), 4) AS failure_ratio,
  string_agg(DISTINCT j.error_class, ', ') AS error_classes,
  max(j.finished_at) FILTER (WHERE j.status IN {FAILED}) AS last_failure,
  (array_agg(j.id ORDER BY j.finished_at DESC)
    FILTER (WHERE j.status IN {FAILED}))[1] AS latest_failed_job
FROM jobs j
WHERE $__timeFilter(j.submitted_at)
  AND j.circuit_hash IS NOT NULL
  AND {BACKEND_MATCH}
GROUP BY j.backend, j.circuit_hash
HAVING count(*) FILTER (WHERE j.status IN {FAILED}) > 0
ORDER BY failed_jobs DESC, failure_ratio DESC
LIMIT 10"""

# Jobs worth opening the trace of: failed, retried, or slower end to end than the
# window's 95th percentile on their backend.
PROBLEM_JOBS = f"""\
WITH slow AS (
  SELECT j.backend, percentile_cont(0.95) WITHIN GROUP (ORDER BY j.e2e_seconds) AS p95_s
  FROM jobs j
  WHERE $__timeFilter(j.submitted_at) AND j.e2e_seconds IS NOT NULL AND {BACKEND_MATCH}
  GROUP BY j.backend
)
SELECT
  j.submitted_at AS "time",
  j.id AS job_id,
  j.backend,
  j.status,
  j.error_class,
  j.attempts,
  j.queue_seconds,
  j.run_seconds,
  j.e2e_seconds,
  CASE
    WHEN j.status IN {FAILED} THEN 'failed'
    WHEN j.attempts > 1 THEN 'retried'
    ELSE 'slow (> p95)'
  END AS why,
  j.trace_id
FROM jobs j
LEFT JOIN slow s ON s.backend = j.backend
WHERE $__timeFilter(j.submitted_at)
  AND {BACKEND_MATCH}
  AND (j.status IN {FAILED} OR j.attempts > 1 OR j.e2e_seconds > s.p95_s)
ORDER BY (j.status IN {FAILED}) DESC, j.attempts DESC, j.e2e_seconds DESC NULLS LAST
LIMIT 100"""

# One row per validation suite run (run_id) and backend; a version change is a run
# whose versions differ from the backend's previous run. Runs up to 7 days before
# the window are read so that a change at the window's start is seen.
_VERSION_FIELDS = (
    ("qiskit", "v.versions->>'qiskit'"),
    ("qiskit-aer", "v.versions->>'qiskit-aer'"),
    (
        "provider",
        "(v.versions->'provider'->>'package') || ' ' || (v.versions->'provider'->>'version')",
    ),
    ("backend_version", "v.versions->'provider'->>'backend_version'"),
)
_COLS = [f"f{i}" for i in range(len(_VERSION_FIELDS))]
_RUN_COLS = ",\n    ".join(
    f"min({expr}) AS {col}" for (_, expr), col in zip(_VERSION_FIELDS, _COLS, strict=True)
)
_LAG_COLS = ",\n    ".join(f"{col}, lag({col}) OVER w AS prev_{col}" for col in _COLS)
_CHANGED = "\n    OR ".join(f"prev_{col} IS DISTINCT FROM {col}" for col in _COLS)
_TEXT = ",\n    ".join(
    f"CASE WHEN prev_{col} IS DISTINCT FROM {col} THEN "
    f"'{label} ' || coalesce(prev_{col}, '?') || ' → ' || coalesce({col}, '?') END"
    for (label, _), col in zip(_VERSION_FIELDS, _COLS, strict=True)
)

VERSION_CHANGES = f"""\
WITH runs AS (
  SELECT
    v.backend,
    v.run_id,
    min(v.ran_at) AS ran_at,
    {_RUN_COLS}
  FROM validation_runs v
  WHERE v.ran_at BETWEEN $__timeFrom()::timestamptz - interval '7 days' AND $__timeTo()
    AND v.backend ~ '^(${{backend:regex}})$'
  GROUP BY v.backend, v.run_id
), changes AS (
  SELECT
    backend,
    ran_at,
    {_LAG_COLS}
  FROM runs
  WINDOW w AS (PARTITION BY backend ORDER BY ran_at)
)
SELECT
  ran_at AS "time",
  backend || ': ' || concat_ws(', ',
    {_TEXT}) AS text,
  backend AS tags
FROM changes
WHERE prev_f0 IS NOT NULL
  AND ({_CHANGED})
  AND $__timeFilter(ran_at)
ORDER BY ran_at"""

# Per backend and 5 minutes: the 95th percentile of the time a job spent outside the
# provider's own queue and run (e2e - queue - run): submitting, polling and fetching
# the result over the network. Grafana's time-series format (time, metric, value).
CLIENT_OVERHEAD = f"""\
SELECT
  $__timeGroupAlias(j.finished_at, 5m),
  j.backend AS metric,
  percentile_cont(0.95) WITHIN GROUP (
    ORDER BY greatest(j.e2e_seconds - coalesce(j.queue_seconds, 0) - coalesce(j.run_seconds, 0), 0)
  ) AS value
FROM jobs j
WHERE $__timeFilter(j.finished_at) AND j.e2e_seconds IS NOT NULL AND {BACKEND_MATCH}
GROUP BY 1, 2
ORDER BY 1"""
