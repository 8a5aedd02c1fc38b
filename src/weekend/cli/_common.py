"""Shared pieces of the CLI: opening the project, printing tables or JSON, times."""

from __future__ import annotations

import datetime as dt
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

console = Console()
err_console = Console(stderr=True)

ProjectOption = typer.Option(
    None,
    "--project",
    "-p",
    help="Project folder (default: found upward from the current folder).",
    envvar="WEEKEND_PROJECT",
)
JsonOption = typer.Option(False, "--json", help="Print JSON for scripts instead of a table.")


def open_project(project: Path | None) -> Any:
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
