"""The spool's line format, both directions: what the proxy writes on the user's
call path and how the shipper reads it back.

Most events are JSON objects, one per line, with times as epoch seconds (a float
formats in a fraction of the time ``isoformat()`` takes). ``"e": "b"`` marks a
backend/calibration sighting; everything else is a job lifecycle event that the
shipper folds into the job's snapshot.

The finish record of a plain successful job is tab-separated instead (``DONE_TAG``):
on a 1-shot simulator job, ``json.dumps`` of the counts and the float reprs of the
derived times cost more than everything else the proxy does after the result::

    F  id  finished_ns  run_seconds  attempts  cost_usd  provider_job_id(JSON)  widths  counts

``widths`` is each circuit's classical register width (comma-separated); ``counts`` is
``repr`` of the list of hex-keyed counts dicts (empty when counts are not recorded).
The proxy validated every key as a hex literal (``int(key, 16)``), so no key holds a
quote or backslash and the repr reads back as JSON once quotes are swapped. The
started/queue/e2e times are derived by the shipper (``derive_times``).
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

from collector.clock import as_utc

DONE_TAG = b"F\t"
# Lifecycle times travel as epoch seconds; ISO strings from older spools are still
# accepted (the store parses them).
TIME_KEYS = ("submitted_at", "started_at", "finished_at", "calibration_at")
DERIVE_TIMES = "_derive_times"

_dumps = json.JSONEncoder(separators=(",", ":"), default=str).encode


def dumps(value: Any) -> str:
    """Compact JSON (non-JSON values as ``str``)."""
    return _dumps(value)


def json_str(value: str) -> str:
    """A JSON string literal; generated ids (hex, uuids) need no escaping.
    ``_fastspool`` quotes the same set by hand and declines the rest."""
    return f'"{value}"' if value.replace("-", "").isalnum() and value.isascii() else _dumps(value)


def time_literal(seconds: float) -> str:
    """Seconds as a JSON number: integer nanoseconds with an exponent
    (``1795981305712020992e-9``), which reads back as the float. Formatting an int
    costs a fraction of ``repr(float)``, most of an event's cost. Outside 0..9e9 s
    (never an epoch or a duration) it is the repr."""
    if 0.0 <= seconds < 9e9:
        return f"{int(seconds * 1e9)}e-9"
    return repr(float(seconds))


def hex_counts(result: Any, shots: int) -> tuple[list[int], list[dict[str, int]]] | None:
    """Widths and counts of a result in the common BackendV2 shape (Aer, runtime
    backends: hex keys, ``memory_slots`` in a dict header) when every check holds:
    counts sum to the shots, every key is a hex literal that fits the width, every
    value an int. None means "take the general path", which names what is wrong."""
    widths: list[int] = []
    counts_list: list[dict[str, int]] = []
    try:
        for exp in result.results:
            header = exp.header
            width = header["memory_slots"] if type(header) is dict else header.memory_slots
            counts = exp.data.counts
            total = 0
            for key, value in counts.items():
                if key[:2] != "0x" or type(value) is not int or int(key, 16) >> width:
                    return None
                total += value
            if total != (exp.shots or shots):
                return None
            widths.append(width)
            counts_list.append(counts)
    except (AttributeError, KeyError, TypeError, ValueError):
        return None
    return (widths, counts_list) if counts_list else None


def format_submit(
    job_id: str,
    static: str,
    submitted_s: float,
    shots: int,
    num_circuits: int,
    idempotency_key: str,
    calibration_s: float | None,
) -> bytes:
    """A job's first event (``static``: the JSON members shared by a wrapper's jobs).
    Formatted by hand: ``json.dumps`` costs more than the rest of the event together,
    on every job. ``_fastspool.JobStarter.begin`` writes the same bytes."""
    cal = "null" if calibration_s is None else time_literal(calibration_s)
    return (
        f'{{"e":"s","id":"{job_id}","status":"queued","submitted_at":{time_literal(submitted_s)},'
        f'{static},"shots":{int(shots)},"num_circuits":{int(num_circuits)},'
        f'"idempotency_key":{json_str(idempotency_key)},"calibration_at":{cal}}}\n'
    ).encode()


def run_seconds(result: Any) -> float | None:
    """A result's execution time (``Result.time_taken``) as a float, or None; what
    ``_fastspool.run_seconds`` reads (it skips ``Result.__getattr__``)."""
    value = getattr(result, "time_taken", None)
    if type(value) is int:
        value = float(value)
    # A duration is finite and >= 0; anything else (a provider's missing duration
    # turned inf or nan) is unknown: stored as null, never as JSON Infinity.
    return value if type(value) is float and 0.0 <= value < math.inf else None


def format_done(
    job_id: str,
    finished_ns: int,
    run_seconds: float | None,
    attempts: int,
    cost_usd: float,
    provider_job_id: str,
    widths: list[int],
    counts: list[dict[str, int]] | None,
) -> bytes:
    run = "" if run_seconds is None else time_literal(run_seconds)
    return (
        f"F\t{job_id}\t{finished_ns}\t{run}\t{attempts}\t{float(cost_usd)!r}\t"
        f"{json_str(provider_job_id)}\t{','.join(map(str, widths))}\t"
        f"{'' if counts is None else repr(counts)}\n"
    ).encode()


def decode_counts(circuits: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Hex keys (Aer/BackendV2 raw data) become plain bitstrings of the register width."""
    out = []
    for circuit in circuits:
        if circuit.get("fmt") == "hex":
            width = int(circuit.get("num_clbits") or 0)
            counts = {
                format(int(k, 16), f"0{width}b"): int(v) for k, v in circuit["counts"].items()
            }
            out.append({"num_clbits": width, "counts": counts})
        else:
            out.append({"num_clbits": circuit.get("num_clbits"), "counts": circuit["counts"]})
    return out


def _parse_done(line: bytes) -> dict[str, Any]:
    _, job_id, finished_ns, run_s, attempts, cost, provider_id, widths, counts = (
        line.decode().split("\t")
    )
    event: dict[str, Any] = {
        "id": job_id,
        "status": "done",
        "attempts": int(attempts),
        "cost_usd": float(cost),
        "provider_job_id": json.loads(provider_id),
        "finished_at": datetime.fromtimestamp(int(finished_ns) / 1e9, UTC),
        "run_seconds": float(run_s) if run_s else None,
        DERIVE_TIMES: True,
    }
    if counts:
        width_list = [int(w) for w in widths.split(",")]
        dicts = json.loads(counts.replace("'", '"'))
        event["counts"] = decode_counts(
            [
                {"fmt": "hex", "num_clbits": w, "counts": c}
                for w, c in zip(width_list, dicts, strict=True)
            ]
        )
    return event


def decode_line(line: bytes) -> dict[str, Any]:
    """One spool line as an event dict (``"e"`` kept: ``"b"`` for backends).
    Raises ``ValueError`` for a line that is not a spool event."""
    if line.startswith(DONE_TAG):
        return _parse_done(line)
    event = json.loads(line)
    if not isinstance(event, dict):
        raise ValueError("a spool event is a JSON object")
    if event.get("e") == "b":
        return event
    for key in TIME_KEYS:
        value = event.get(key)
        if isinstance(value, (int, float)):
            event[key] = datetime.fromtimestamp(value, UTC)
    if "counts" in event:
        event["counts"] = decode_counts(event["counts"])
    return event


def finish_times(
    submitted_s: float, finished_s: float, started_s: float | None, run_s: float | None
) -> dict[str, float | None]:
    """A finished job's started/queue/run/e2e times, in epoch seconds: the job
    started when seen running, else run_seconds before it finished, but never
    before it was submitted. The one copy of this arithmetic: the proxy's general
    path (``lifecycle_times``) and the shipper (``derive_times``) both use it."""
    if started_s is None and run_s is not None:
        started_s = finished_s - run_s
    if started_s is not None:
        started_s = max(started_s, submitted_s)
        if run_s is None:
            run_s = finished_s - started_s
    return {
        "started_at": started_s,
        "queue_seconds": started_s - submitted_s if started_s is not None else None,
        "run_seconds": run_s,
        "e2e_seconds": max(0.0, finished_s - submitted_s),
    }


def derive_times(snapshot: dict[str, Any]) -> None:
    """Fill the started/queue/run/e2e times of a finished job the proxy recorded
    compactly (``finish_times`` on its datetimes). Values already present are kept."""
    submitted = as_utc(snapshot.get("submitted_at"))
    finished = as_utc(snapshot.get("finished_at"))
    if submitted is None or finished is None:
        return
    started = as_utc(snapshot.get("started_at"))
    times = finish_times(
        submitted.timestamp(),
        finished.timestamp(),
        started.timestamp() if started is not None else None,
        snapshot.get("run_seconds"),
    )
    for key, value in times.items():
        if value is not None and snapshot.get(key) is None:
            snapshot[key] = datetime.fromtimestamp(value, UTC) if key == "started_at" else value
