"""``weekend gc``: remove what crashed writers left behind."""

from __future__ import annotations

from pathlib import Path

import typer

from weekend.artifacts.gc import DEFAULT_GRACE, GcReport, parse_grace
from weekend.cli._common import JsonOption, ProjectOption, console, open_project, print_json


def _size(count: int) -> str:
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def _show(report: GcReport) -> None:
    verb = "would free" if report.dry_run else "freed"
    console.print(f"{verb} {report.files} file(s), {_size(report.bytes)}")
    labels = {"tmp": "store tmp/", "scratch": "scratch folders", "blob": "unreferenced blobs"}
    for kind, freed in report.by_kind().items():
        console.print(f"  {labels[kind]:<19} {freed['files']:>6}  {_size(freed['bytes'])}")
    console.print(
        f"kept: {report.kept_recent} younger than the grace period, {report.kept_live} of "
        f"live writers, {report.kept_referenced} referenced blob(s)"
    )


def gc(
    grace: str = typer.Option(
        DEFAULT_GRACE,
        "--grace",
        help="Keep anything younger than this: 30s, 90m, 1h, 2d (default 1h).",
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="List what would go; remove nothing."),
    project: Path | None = ProjectOption,
    as_json: bool = JsonOption,
) -> None:
    """Remove crash leftovers: temporary files, unreferenced blobs, scratch folders.

    Only what is older than --grace and no live process of this machine still writes.
    """
    grace_s = parse_grace(grace)  # a bad duration is refused before the project opens
    with open_project(project) as ws:
        report = ws.gc(grace=grace_s, dry_run=dry_run)
    if as_json:
        print_json(report.to_dict())
        return
    _show(report)


__all__ = ["gc"]
