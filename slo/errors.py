"""Errors raised by the SLO package.

Every message says where the problem is (file and field path), what was expected
and what was found, so a bad ``qsre.yaml`` can be fixed without reading code.
"""

from __future__ import annotations

from typing import Any


class SLOError(Exception):
    """Base class of every error raised by ``slo``."""


class SpecError(SLOError):
    """An SLO, policy or OpenSLO document that does not validate.

    ``field_path`` looks like ``slos[2].objective``; the message reads
    ``qsre.yaml: slos[2].objective: expected a number strictly between 0 and 1, got 1.5``.
    """

    def __init__(self, file: str, field_path: str, expected: str, got: Any) -> None:
        self.file = file
        self.field_path = field_path
        self.expected = expected
        self.got = got
        super().__init__(f"{file}: {field_path}: expected {expected}, got {_show(got)}")


class PolicyError(SpecError):
    """A burn-rate policy file (slo/policies/*.yaml) or policy name that does not validate."""


class BurnInputError(SLOError):
    """Arrays handed to the burn-rate engine that are inconsistent (lengths, indices)."""


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."
