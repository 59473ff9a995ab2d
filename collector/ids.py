"""Job ids: UUID-shaped, unique, and cheap enough for the user's call path.

``uuid.uuid4()`` costs a ``getrandom`` call and a UUID object per job (~2.5 us hot,
several times that between simulator calls, where caches are cold). A job id only
has to be unique, so each process draws 74 random bits once and counts: the first
24 characters are a random version-4 UUID prefix, the last 12 a per-process
counter. A forked child draws a new prefix, so parent and child never collide.
Where the C hot path was built (``collector._fastspool``) it makes the ids.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import re
import string
import uuid

try:
    from collector import _fastspool
except ImportError:  # built without a C compiler
    _fastspool = None

_prefix = ""
_counter = itertools.count()


def _reseed() -> None:
    global _prefix, _counter
    _prefix = str(uuid.uuid4())[:24]
    _counter = itertools.count()
    if _fastspool is not None:
        _fastspool.set_job_id_prefix(_prefix)


def _py_new_job_id() -> str:
    """``xxxxxxxx-xxxx-4xxx-yxxx-<12 hex counter>``; thread-safe (``next`` on
    ``itertools.count`` is atomic under the GIL)."""
    return f"{_prefix}{next(_counter):012x}"


_COUNTER_CHARS = 12
_HEX = frozenset(string.hexdigits.lower())
_SHORT = re.compile(r"(?P<process>[0-9a-f][0-9a-f-]{7,23})\.(?P<counter>[0-9a-f]{1,12})")


def short_job_id(job_id: str, process_chars: int = 8) -> str:
    """``d8ad30e3.1a``: the start of the process part and the counter without its
    leading zeros. Unique across processes (unlike any suffix: every process counts
    from 0) and short enough for an 80-column table; ``parse_short_job_id`` reads it."""
    process, counter = job_id[:-_COUNTER_CHARS], job_id[-_COUNTER_CHARS:]
    return f"{process[:process_chars].rstrip('-')}.{counter.lstrip('0') or '0'}"


def parse_short_job_id(ref: str) -> tuple[str, str] | None:
    """(process prefix, 12-char counter) of a ``short_job_id``; None if ``ref`` is not one."""
    m = _SHORT.fullmatch(ref.strip().lower())
    if m is None:
        return None
    return m["process"], m["counter"].rjust(_COUNTER_CHARS, "0")


def job_trace_id(job_id: str) -> str:
    """The trace id of a job's span: 32 lowercase hex digits, the same for every caller.

    A qsre job id is UUID-shaped (32 hex digits, partly random, unique per job), so
    its digits are the trace id; any other id is hashed (SHA-256, first 128 bits).
    """
    digits = job_id.replace("-", "").lower()
    if len(digits) == 32 and set(digits) <= _HEX and digits.strip("0"):
        return digits
    return hashlib.sha256(job_id.encode()).hexdigest()[:32]


# The C one keeps its own counter under the GIL, with the same prefix and format.
new_job_id = _fastspool.new_job_id if _fastspool is not None else _py_new_job_id

_reseed()
os.register_at_fork(after_in_child=_reseed)
