"""Shared pieces of the CLI: opening the project, printing tables or JSON, times, and the
one mapping from errors to messages and exit codes."""

from __future__ import annotations

import datetime as dt
import logging
import math
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import orjson
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from typer.core import TyperGroup

try:  # typer vendors click since 0.2x: its usage errors derive from TyperException
    from typer import TyperException as _UsageError
except ImportError:  # pragma: no cover - an older typer on click
    from click import ClickException as _UsageError  # type: ignore[assignment,no-redef]

from weekend.core.errors import UserInputError, WeekendError

if TYPE_CHECKING:
    from weekend.workspace import Workspace

console = Console()
err_console = Console(stderr=True)
logger = logging.getLogger("weekend.cli")

EXIT_CODES: Mapping[type[WeekendError], int] = MappingProxyType(
    {UserInputError: 2, WeekendError: 1}
)
"""Exit code of each of weekend's error classes (the first class of the MRO listed wins).

2 is what the user passed (as click's usage errors), 1 anything else; an unexpected exception
is 1 too. Commands use other codes for results: ``data validate`` and ``features skew`` exit 1
on a failed check, ``models evaluate`` 3 when not blessed.
"""
DEBUG_ENV = "WEEKEND_DEBUG"


def exit_code_for(exc: WeekendError) -> int:
    """The exit code of ``exc`` from :data:`EXIT_CODES`."""
    for cls in type(exc).__mro__:
        code = EXIT_CODES.get(cls)  # type: ignore[call-overload]
        if code is not None:
            return int(code)
    return 1  # pragma: no cover - WeekendError itself is listed


def debugging(ctx: Any = None) -> bool:
    """``--debug`` was given, or ``WEEKEND_DEBUG`` is set to anything but '' or '0'."""
    if ctx is not None and ctx.find_root().meta.get("weekend.debug"):
        return True
    return os.environ.get(DEBUG_ENV, "") not in ("", "0")


class WeekendGroup(TyperGroup):
    """The root command: every error becomes a message and an exit code here, inside the app,
    so that ``typer.testing.CliRunner`` sees exactly what a user sees.

    A :class:`WeekendError` prints ``error: <message>`` on stderr and exits with its code
    (:data:`EXIT_CODES`). Any other exception is a bug: ``internal error`` and exit 1; its
    traceback is logged once on the ``weekend.cli`` logger, at ERROR with ``--debug`` or
    ``WEEKEND_DEBUG=1`` (shown on stderr when logging is not configured), else at DEBUG.
    """

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (_UsageError, typer.Exit, typer.Abort):
            raise  # the command line's own: usage errors (2), typer.Exit, Ctrl-C
        except WeekendError as exc:
            err_console.print(
                f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True
            )
            raise typer.Exit(exit_code_for(exc)) from None
        except Exception as exc:
            debug = debugging(ctx)
            logger.log(
                logging.ERROR if debug else logging.DEBUG,
                "internal error in '%s %s'",
                ctx.command_path,
                ctx.invoked_subcommand or "",
                exc_info=exc,
            )
            text = " ".join(str(exc).split())[:200]
            hint = "" if debug else f"; run again with --debug or {DEBUG_ENV}=1 for the traceback"
            err_console.print(
                f"[red]internal error:[/red] {escape(type(exc).__name__)}: {escape(text)} "
                f"(a bug: please report it){hint}",
                highlight=False,
                soft_wrap=True,
            )
            raise typer.Exit(1) from None


ProjectOption = typer.Option(
    None,
    "--project",
    "-p",
    help="Project folder (default: found upward from the current folder).",
    envvar="WEEKEND_PROJECT",
)
JsonOption = typer.Option(False, "--json", help="Print JSON for scripts instead of a table.")


def open_project(project: Path | None) -> Workspace:
    """The project at ``-p`` (or the current folder), or a message saying where none was found."""
    from weekend.workspace import open_workspace

    return open_workspace(project or Path.cwd())


def _default(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def _clean(value: Any) -> Any:
    """JSON has no NaN or infinities: write them as strings, as Python spells them."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def print_json(data: Any) -> None:
    payload = orjson.dumps(
        _clean(data),
        default=_default,
        option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS,
    )
    sys.stdout.write(payload.decode() + "\n")


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    table = Table(title=title, show_lines=False, header_style="bold")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(fmt(v) for v in row))
    console.print(table)


def fmt(value: Any) -> str:
    """A table cell: user data is shown as text, never read as rich markup."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return escape(str(value))


def fmt_time(ms: int | None) -> str:
    if ms is None:
        return ""
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def no_color() -> bool:
    return "NO_COLOR" in os.environ
