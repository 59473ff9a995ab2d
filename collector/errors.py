"""The collector's exception hierarchy. Messages say what, where, and what was expected."""

from __future__ import annotations


def first_line(exc: BaseException, limit: int = 120) -> str:
    """An exception's message cut to its first line (library errors can carry
    whole arrays), for messages that quote it."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


class CollectorError(Exception):
    """Base class for every error the collector raises on purpose."""


class InvalidInput(CollectorError, ValueError):
    """The call was malformed (not circuits, bad shots, ...). Raised before submission."""

    def __init__(self, field: str, value: object, expected: str) -> None:
        self.field = field
        self.value = value
        self.expected = expected
        super().__init__(f"invalid {field}={value!r}: expected {expected}")


class QuotaExceeded(CollectorError):
    """A quota guard rejected the call before submission."""

    def __init__(self, limit: str, value: float, maximum: float, scope: str) -> None:
        self.limit = limit
        self.value = value
        self.maximum = maximum
        self.scope = scope
        super().__init__(
            f"quota exceeded: {limit} for {scope} would be {value:g}, limit is {maximum:g}"
        )


class ResultCorrupt(CollectorError):
    """The backend returned a result that fails validation (counts vs shots, widths)."""


class StoreError(CollectorError):
    """The event store could not be opened or migrated."""
