"""The CLI's error boundary: every failure becomes one ``error:`` line and an exit code.

Commands raise the project's own exceptions with messages that already say what was
wrong and what was expected; this module is the one place that turns them into
terminal output, so no command has to catch anything to look clean.
"""

from __future__ import annotations

import errno
import os
import sys
import traceback
from collections.abc import Sequence
from contextvars import ContextVar
from typing import Any

import typer
from typer._click import exceptions as click_exceptions
from typer.core import TyperGroup

from qsre.errors import ConfigError, InputError, NotFound, QsreError

EXIT_RUNTIME = 1
EXIT_USAGE = 2
DEBUG_FLAG = "--debug"
DEBUG_ENV = "QSRE_DEBUG"


def _usage_error_classes() -> tuple[type[BaseException], ...]:
    """Errors that mean "the user asked for something wrong" (exit 2)."""
    from runbooks.catalog import UnknownRunbook

    return (ConfigError, InputError, NotFound, UnknownRunbook)


def _runtime_error_classes() -> tuple[type[BaseException], ...]:
    """The project's error hierarchies: their messages are written for users (exit 1).

    Imported lazily so that ``qsre --help`` does not pay for every package."""
    from collector.errors import CollectorError
    from dashboards.errors import DashboardError
    from runbooks.catalog import RunbookError
    from slo.errors import SLOError
    from slo.notify.base import NotifyError
    from validators.errors import ValidatorError

    return (
        QsreError,
        CollectorError,
        DashboardError,
        RunbookError,
        SLOError,
        NotifyError,
        ValidatorError,
    )


def _oserror_line(exc: OSError) -> str:
    """An OSError in the shape of every other error line (what: expected, got)."""
    if exc.errno == errno.EADDRINUSE:
        return "address in use: expected a free port (see --port), got " + (
            exc.strerror or str(exc)
        )
    where = exc.filename or "system call"
    if exc.errno in (errno.EEXIST, errno.ENOTDIR):
        # mkdir(exist_ok=True) on a file, or a file where a folder is on the path.
        return f"{where}: expected a folder (or a path where one can be made), got a file"
    return f"{where}: expected it to be accessible, got {exc.strerror or exc}"


def _unreachable_store_line(exc: BaseException) -> str | None:
    """A database that did not answer, anywhere in the cause chain, as one line.

    The driver's own text (psycopg, sqlite3) says why in its first line; the rest is
    advice and a link that belong to --debug. The project's wrapping message, when
    there is one, names which store (source or target) and its URL."""
    from sqlalchemy.exc import OperationalError

    seen: BaseException | None = exc
    while seen is not None and not isinstance(seen, OperationalError):
        seen = seen.__cause__ or seen.__context__
    if seen is None:
        return None
    reason = str(getattr(seen, "orig", None) or seen).strip().splitlines()[0]
    what = "store" if seen is exc else str(exc).partition(": ")[0]
    return f"{what}: expected a database that answers, got {reason}"


# Typer's type labels (``<int>``) in words for "expected ...".
_TYPE_WORDS = {"int": "an integer", "float": "a number", "path": "a path", "str": "a string"}


def _given_value(args: Sequence[str], option_names: Sequence[str]) -> str | None:
    """The value the user typed for one of ``option_names`` (``--x v`` or ``--x=v``)."""
    for i, arg in enumerate(args):
        for name in option_names:
            if arg == name and i + 1 < len(args):
                return args[i + 1]
            if arg.startswith(name + "="):
                return arg[len(name) + 1 :]
    return None


def _usage_line(exc: click_exceptions.UsageError, args: Sequence[str]) -> tuple[str, str]:
    """Typer's own usage errors in the project's shape: (error line, hint line)."""
    ctx = exc.ctx
    command = ctx.command_path if ctx is not None else "qsre"
    hint = f"`{command} --help` lists the options"
    message = exc.format_message()
    if isinstance(exc, click_exceptions.NoSuchOption):
        if exc.possibilities:
            hint = f"did you mean {', '.join(sorted(exc.possibilities))}? " + hint
        return f"{command}: expected one of its options, got {exc.option_name!r}", hint
    if isinstance(exc, click_exceptions.BadOptionUsage) and message.endswith(
        "requires an argument."
    ):
        return f"{exc.option_name}: expected a value, got none", hint
    if isinstance(exc, click_exceptions.MissingParameter):
        param = exc.param
        if param is None:
            what = command
        elif param.param_type_name == "option":
            what = param.opts[0]
        else:  # an argument: its metavar (ID, RECEIVER) as --help shows it
            what = f"{command} {(param.metavar or param.name or '').upper()}"
        return f"{what}: expected a value, got none", hint
    if isinstance(exc, click_exceptions.BadParameter) and exc.param is not None:
        names = [*exc.param.opts, *exc.param.secondary_opts]
        what = names[0] if names else (exc.param.name or command)
        kind = exc.param.display_type_rich(ctx) if ctx is not None else None
        expected = _TYPE_WORDS.get((kind or "").strip("<>"), "a valid value")
        got = _given_value(args, names)
        return f"{what}: expected {expected}, got {got!r}", hint
    if message.startswith("Got unexpected extra argument"):
        got = message.rpartition("(")[2].rstrip(")")
        return f"{command}: expected no further arguments (flags take no value), got {got!r}", hint
    if message.startswith("No such command"):
        got = message.partition("'")[2].rpartition("'")[0]
        names = ctx.command.list_commands(ctx) if ctx is not None else []  # type: ignore[attr-defined]
        # A short list helps; the top level's dozen commands belong to --help.
        expected = f"a command ({', '.join(names)})" if 0 < len(names) <= 5 else "a command"
        if ctx is not None and ctx.command.invoke_without_command:  # type: ignore[attr-defined]
            # `qsre jobs --json true`: a listing group whose flags take no value.
            expected += " or nothing more (flags take no value)"
        return f"{command}: expected {expected}, got {got!r}", hint.replace("options", "commands")
    return f"{command}: {message}", hint


def _print_error(line: str, hint: str | None = None) -> None:
    # Plain text, not rich markup: messages quote user input and provider answers
    # that may contain brackets.
    sys.stderr.write(f"error: {' '.join(line.split())}\n")
    if hint:
        sys.stderr.write(f"hint: {hint}\n")


def debug_requested(argv: Sequence[str]) -> bool:
    """True when ``--debug`` is on the command line or ``QSRE_DEBUG`` is set to a true value."""
    env = os.environ.get(DEBUG_ENV, "").strip().lower()
    return DEBUG_FLAG in argv or env in ("1", "true", "yes", "on")


def report(exc: BaseException, args: Sequence[str], debug: bool) -> int:
    """Print ``exc`` as one ``error:`` line (and at most one ``hint:`` line); the exit code."""
    if debug:
        traceback.print_exception(exc)
    if isinstance(exc, click_exceptions.UsageError):
        _print_error(*_usage_line(exc, args))
        return EXIT_USAGE
    if isinstance(exc, typer.Abort):
        _print_error("interrupted: expected the command to finish, got an abort")
        return EXIT_RUNTIME
    hint = None if debug else f"rerun with {DEBUG_FLAG} (or {DEBUG_ENV}=1) for the traceback"
    if isinstance(exc, _usage_error_classes()):
        _print_error(str(exc), getattr(exc, "hint", None))
        return EXIT_USAGE
    if isinstance(exc, OSError):
        _print_error(_oserror_line(exc), hint)
        return EXIT_RUNTIME
    unreachable = _unreachable_store_line(exc)
    if unreachable is not None:
        _print_error(unreachable, hint or "is the server up, and the store URL right?")
        return EXIT_RUNTIME
    if isinstance(exc, _runtime_error_classes()):
        _print_error(str(exc), hint)
        return EXIT_RUNTIME
    # A bug or a third-party failure: still one line, but say it is unexpected.
    _print_error(f"unexpected {type(exc).__name__}: {exc}", hint)
    return EXIT_RUNTIME


# Set by run_app, which strips --debug before typer parses (so every subcommand accepts
# it in any position); read by the root group's boundary.
_debug: ContextVar[bool] = ContextVar("qsre_cli_debug", default=False)


class BoundaryGroup(TyperGroup):
    """The root command group: runs the subcommand inside the error boundary.

    The boundary lives in the group, not only in ``main()``, so that every way of
    running the app (the ``qsre`` script, ``python -m qsre.cli``, typer's test runner)
    reports errors the same way."""

    def invoke(self, ctx: Any) -> Any:
        args = [*ctx._protected_args, *ctx.args]
        try:
            return super().invoke(ctx)
        except (typer.Exit, KeyboardInterrupt):
            raise
        except Exception as exc:  # noqa: BLE001 - the boundary: nothing escapes as a traceback
            debug = _debug.get() or debug_requested(args) or bool(ctx.params.get("debug"))
            raise typer.Exit(report(exc, args, debug)) from None


def run_app(app: typer.Typer, argv: Sequence[str] | None = None) -> int:
    """Run ``app`` on ``argv`` (default ``sys.argv[1:]``) and return the exit code.

    Usage errors exit 2, runtime errors 1; each prints one ``error:`` line and at most
    one ``hint:`` line to stderr. With ``--debug`` (anywhere on the line) or
    ``QSRE_DEBUG=1`` the traceback is printed as well.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    debug = debug_requested(args)
    args = [a for a in args if a != DEBUG_FLAG]
    token = _debug.set(debug)
    try:
        result = app(args=args, prog_name="qsre", standalone_mode=False)
    except typer.Exit as exc:
        return int(exc.exit_code)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - errors before a subcommand runs (qsre --nope)
        return report(exc, args, debug)
    finally:
        _debug.reset(token)
    return result if isinstance(result, int) else 0
