"""Exception hierarchy of the validators package.

Every message names what was wrong, where, and what was expected, so that an
operator reading a log line can fix the input without opening the code.
"""

from __future__ import annotations


class ValidatorError(Exception):
    """Base class of every error raised by the validators package."""


class InvalidCounts(ValidatorError, ValueError):
    """A counts mapping/array is malformed (bad key, width, value, or empty)."""


class InvalidDistribution(ValidatorError, ValueError):
    """A probability vector is malformed (NaN, negative, not summing to 1, ...)."""


class InvalidConfig(ValidatorError, ValueError):
    """A detector/test configuration value is out of its allowed range."""


class InvalidField(InvalidConfig):
    """One configured field is invalid: names it, its value and what was expected."""

    def __init__(self, field: str, value: object, expected: str) -> None:
        self.field = field
        self.value = value
        self.expected = expected
        super().__init__(f"invalid {field}={value!r}: expected {expected}")


class DetectorStateError(ValidatorError, ValueError):
    """A persisted detector state cannot be restored (wrong version or fields)."""
