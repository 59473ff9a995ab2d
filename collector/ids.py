"""Job ids: UUID-shaped, unique, and cheap enough for the user's call path.

``uuid.uuid4()`` costs a ``getrandom`` call and a UUID object per job (~2.5 us hot,
several times that between simulator calls, where caches are cold). A job id only
has to be unique, so each process draws 74 random bits once and counts: the first
24 characters are a random version-4 UUID prefix, the last 12 a per-process
counter. A forked child draws a new prefix, so parent and child never collide.
Where the C hot path was built (``collector._fastspool``) it makes the ids.
"""

from __future__ import annotations

import itertools
import os
import re
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


# The C one keeps its own counter under the GIL, with the same prefix and format.
new_job_id = _fastspool.new_job_id if _fastspool is not None else _py_new_job_id

_reseed()
os.register_at_fork(after_in_child=_reseed)
