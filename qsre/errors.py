"""Errors of the composition root."""

from __future__ import annotations


class QsreError(Exception):
    """Base for errors the qsre CLI reports without a traceback."""


class ConfigError(QsreError, ValueError):
    """A config file is wrong: names the file, the field path and what was expected."""

    def __init__(self, file: str, field: str, expected: str, got: object = None) -> None:
        self.file = file
        self.field = field
        self.expected = expected
        self.got = got
        got_part = f", got {got!r}" if got is not None else ""
        super().__init__(f"{file}: {field}: expected {expected}{got_part}")


class InputError(QsreError, ValueError):
    """A command-line value is wrong: names the option, what it accepts and what it got."""

    def __init__(self, what: str, expected: str, got: object) -> None:
        self.what = what
        self.expected = expected
        self.got = got
        super().__init__(f"{what}: expected {expected}, got {got!r}")


class NotFound(QsreError, LookupError):
    """A looked-up thing (a job, a silence, a runbook) does not exist. ``hint``: one
    line on where it may be instead, printed under the error."""

    def __init__(self, what: str, expected: str, got: object, *, hint: str | None = None) -> None:
        self.what = what
        self.expected = expected
        self.got = got
        self.hint = hint
        super().__init__(f"{what}: expected {expected}, got {got!r}")
