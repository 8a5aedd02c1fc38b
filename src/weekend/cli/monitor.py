"""``weekend monitor``: served traffic, two tables compared, stored reports, alerts.

``weekend monitor MODEL [--window 1d] [--from ...] [--to ...]`` reports on a model's served
traffic (the ``report`` command, the group's default); ``weekend monitor data REF CUR``
compares two tables; ``list``, ``show`` and ``alerts`` read what was stored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from typer.core import TyperGroup

from weekend.cli._common import (
    JsonOption,
    ProjectOption,
    console,
    err_console,
    fmt_time,
    open_project,
    print_json,
    print_table,
)

_METRICS = ("roc_auc", "accuracy", "mae")


class _MonitorGroup(TyperGroup):
    """``weekend monitor MODEL ...`` runs ``report``: a first argument that is not one of the
    group's commands (nor an option) is a model reference."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["report", *args]
        return list(super().parse_args(ctx, args))


monitor_app = typer.Typer(
    cls=_MonitorGroup,
    help=(
        "Monitoring: 'weekend monitor MODEL --window 1d --from ... --to ...' reports on served "
        "traffic; 'data' compares two tables; 'list', 'show' and 'alerts' read stored results."
    ),
    no_args_is_help=True,
)


def _metric(values: Any, names: tuple[str, ...] = _METRICS) -> float | None:
    for name in names:
        value = values.get(name) if isinstance(values, dict) else None
        if value is not None:
            return float(value)
    return None


def _window_rows(report: Any) -> list[list[Any]]:
    rows = []
    for w in report.windows:
        est = None if w.estimated is None else {k: m.value for k, m in w.estimated.metrics.items()}
        rows.append(
            [
                fmt_time(w.start_us // 1000),
                w.rows,
                ", ".join(w.drifted) or "-",
                f"{w.missing_share:.1%}",
                w.latency_ms_p95,
                f"{w.label_coverage:.0%}",
                _metric(dict(w.realized)),
                _metric(est or {}),
            ]
        )
    return rows


@monitor_app.command("report")
def report(
    model: str = typer.Argument(..., help="The model: name@alias or name/version."),
    window: str = typer.Option("1d", "--window", "-w", help="1d, 6h, 15m ... or a row count."),
    start: str | None = typer.Option(None, "--from", help="First time (ISO; default: the log's)."),
    end: str | None = typer.Option(None, "--to", help="End time, excluded (default: the log's)."),
    reference: str | None = typer.Option(
        None, "--reference", help="Compare features with this table (default: the version's)."
    ),
    store: bool = typer.Option(True, "--store/--no-store", help="Store the report and alert."),
    html: Path | None = typer.Option(None, "--html", help="Also write the HTML page here."),
    project: Path | None = ProjectOption,
    as_json: bool = JsonOption,
) -> None:
    """Report on a model's served traffic, window by window."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    columns = ("windows", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with open_project(project) as ws, Progress(*columns, console=err_console) as bar:
        task = bar.add_task("windows", total=None)
        made = ws.monitor.report(
            model,
            start,
            end,
            window=window,
            reference=reference,
            store=store,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
        if html is not None:
            html.write_text(ws.monitor.html(made), encoding="utf-8")
    if as_json:
        print_json(made.to_dict())
        return
    header = ["window", "rows", "drifting", "missing", "p95 ms", "labels", "realized", "estimated"]
    print_table(f"{made.ref} ({made.reference})", header, _window_rows(made))
    if made.id is not None:
        console.print(f"report {made.id}: weekend monitor show {made.id[:12]} --html report.html")


@monitor_app.command("data")
def data(
    reference: str = typer.Argument(..., help="Reference table: a dataset (flights/1) or file."),
    current: str = typer.Argument(..., help="Current table: a dataset (flights/7) or file."),
    store: bool = typer.Option(True, "--store/--no-store", help="Store the report and alert."),
    project: Path | None = ProjectOption,
    as_json: bool = JsonOption,
) -> None:
    """Compare two tables column by column; exit 1 when a column drifts."""
    with open_project(project) as ws:
        made = ws.monitor.compare(reference, current, store=store)
    if as_json:
        print_json(made.to_dict())
    else:
        rows = [
            [
                c.column,
                c.kind,
                c.test,
                c.p_value,
                c.adjusted_p_value,
                c.effect,
                c.effect_size,
                "yes" if c.drifted else "no",
            ]
            for c in made.columns
        ]
        header = ["column", "kind", "test", "p", "adjusted p", "effect", "size", "drifts"]
        print_table(f"{made.reference} vs {made.current}", header, rows)
        for name, why in made.skipped.items():
            err_console.print(f"{name}: {why}", highlight=False, markup=False)
    if made.drifted:
        raise typer.Exit(1)


@monitor_app.command("list")
def list_reports(
    model: str | None = typer.Option(None, "--model", help="Only this model's reports."),
    limit: int = typer.Option(50, "--limit", help="At most this many (newest first)."),
    project: Path | None = ProjectOption,
    as_json: bool = JsonOption,
) -> None:
    """List stored reports, newest first."""
    with open_project(project) as ws:
        found = ws.monitor.list(model=model, limit=limit)
    if as_json:
        print_json([dict(r.__dict__) for r in found])
        return
    rows = [
        [
            r.id[:12],
            r.kind,
            r.subject,
            r.window or "",
            ", ".join(r.summary.get("drifted", [])),
            fmt_time(r.created_at),
        ]
        for r in found
    ]
    print_table("reports", ["id", "kind", "subject", "window", "drifting", "created"], rows)


@monitor_app.command("show")
def show(
    report_id: str = typer.Argument(..., help="A report id (or its first 6+ characters)."),
    html: Path | None = typer.Option(None, "--html", help="Write the HTML page here."),
    project: Path | None = ProjectOption,
) -> None:
    """Print a stored report's JSON, or write its HTML page with --html."""
    with open_project(project) as ws:
        if html is None:
            print_json(ws.monitor.read_json(report_id))
            return
        html.write_text(ws.monitor.read_html(report_id), encoding="utf-8")
    err_console.print(f"wrote {html}", highlight=False, markup=False)


@monitor_app.command("alerts")
def alerts(
    status: str | None = typer.Option(None, "--status", help="open or cleared."),
    project: Path | None = ProjectOption,
    as_json: bool = JsonOption,
) -> None:
    """List alerts, newest first."""
    with open_project(project) as ws:
        found = ws.monitor.alerts(status=status)
    if as_json:
        print_json([a.to_dict() for a in found])
        return
    rows = [
        [a.id[:12], a.policy, a.subject, a.status, a.fired, fmt_time(a.opened_at), a.message]
        for a in found
    ]
    print_table("alerts", ["id", "policy", "subject", "status", "fired", "opened", "message"], rows)


__all__ = ["monitor_app"]
