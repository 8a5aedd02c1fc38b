"""``weekend runs ...`` and ``weekend experiments ...``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from weekend.cli._common import (
    JsonOption,
    ProjectOption,
    console,
    err_console,
    fmt,
    fmt_time,
    open_project,
    print_json,
    print_table,
)

runs_app = typer.Typer(
    help="Tracked runs: list, show, search, compare, delete, gc.", no_args_is_help=True
)
experiments_app = typer.Typer(help="Experiments (named groups of runs).", no_args_is_help=True)


MAX_METRIC_COLUMNS = 5
_COLUMNS = ("run", "experiment", "name", "status", "started")
MetricsOption = typer.Option(
    None,
    "--metrics",
    "-m",
    help=f"Metric columns, comma-separated (default: the first {MAX_METRIC_COLUMNS} by name).",
)


def _metric_keys(records: list[Any], chosen: str | None) -> tuple[list[str], list[str]]:
    """The metric columns to show, and the keys left out (said below the table)."""
    known = sorted({k for r in records for k in r.metrics})
    if chosen is not None:
        keys = list(dict.fromkeys(k.strip() for k in chosen.split(",") if k.strip()))
        return keys, [k for k in known if k not in keys]
    return known[:MAX_METRIC_COLUMNS], known[MAX_METRIC_COLUMNS:]


def _cell(value: Any) -> str:
    """A tab-separated cell: the whole value on one line."""
    if value is None:
        return ""
    return " ".join(str(value).split()) if not isinstance(value, float) else repr(value)


def _print_tsv(records: list[Any], keys: list[str]) -> None:
    """Plain columns for pipes and scripts: full run ids, ISO times, no wrapping, no styling."""
    lines = ["\t".join([*_COLUMNS, *keys])]
    for r in records:
        row = [r.id, r.experiment, r.name, r.status, fmt_time(r.start_time)]
        lines.append("\t".join(_cell(v) for v in [*row, *(r.metrics.get(k) for k in keys)]))
    sys.stdout.write("\n".join(lines) + "\n")


def _print_runs_table(title: str, records: list[Any], keys: list[str]) -> list[str]:
    """For a terminal: run ids, times, metrics and headers never wrap; only experiment and
    name give way (wrapped at spaces, or cut with an ellipsis). Metric columns that do not fit
    the terminal's width are left out and returned, to be named below the table."""
    rows = [
        [r.id[:12], r.experiment, r.name, r.status, fmt_time(r.start_time)[:16]] for r in records
    ]
    cells = {k: [fmt(r.metrics.get(k)) for r in records] for k in keys}
    fixed = {c: max([len(c), *(len(row[i]) for row in rows)]) for i, c in enumerate(_COLUMNS)}
    # no borders; every column is followed by 2 spaces; experiment and name keep 8 each
    budget = console.width - sum(fixed[c] + 2 for c in ("run", "status", "started")) - 20
    shown: list[str] = []
    for key in keys:
        width = max([len(key), *(len(v) for v in cells[key])])
        if budget < width + 2:
            break
        budget -= width + 2
        shown.append(key)
    table = Table(title=title, box=None, padding=(0, 2, 0, 0), header_style="bold underline")
    for column in _COLUMNS:
        if column in ("experiment", "name"):
            table.add_column(column, overflow="ellipsis", min_width=min(fixed[column], 8))
        else:
            table.add_column(column, no_wrap=True, width=fixed[column])
    for key in shown:
        width = max([len(key), *(len(v) for v in cells[key])])
        table.add_column(escape(key), no_wrap=True, width=width, justify="right")
    for index, row in enumerate(rows):
        table.add_row(*(fmt(v) for v in row), *(cells[k][index] for k in shown))
    console.print(table)
    return keys[len(shown) :]


def _show_runs(records: list[Any], as_json: bool, title: str, metrics: str | None) -> None:
    if as_json:
        print_json([r.to_dict() for r in records])
        return
    keys, left_out = _metric_keys(records, metrics)
    if console.is_terminal:
        left_out = _print_runs_table(title, records, keys) + left_out
    else:
        _print_tsv(records, keys)
    if left_out:
        shown = ", ".join(left_out[:10]) + (", ..." if len(left_out) > 10 else "")
        err_console.print(
            f"{len(left_out)} more metric(s) not shown ({shown}); choose with --metrics a,b",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )


@runs_app.command("list")
def list_runs(
    experiment: str | None = typer.Option(None, "--experiment", "-e", help="Only this experiment."),
    limit: int = typer.Option(20, "--limit", "-n", help="How many (newest first)."),
    metrics: str | None = MetricsOption,
    project: Path | None = ProjectOption,
    as_json: bool = JsonOption,
) -> None:
    """The newest runs: a table on a terminal, tab-separated columns (full ids) in a pipe."""
    with open_project(project) as ws:
        records = ws.runs.search(None, limit=limit, experiment=experiment)
    _show_runs(records, as_json, "runs", metrics)


@runs_app.command("search")
def search_runs(
    filter: str = typer.Argument(..., help="e.g. \"metrics.auc > 0.8 and params.model = 'gbm'\""),
    order_by: list[str] = typer.Option([], "--order-by", "-o", help="e.g. 'metrics.auc desc'"),
    limit: int = typer.Option(20, "--limit", "-n"),
    experiment: str | None = typer.Option(None, "--experiment", "-e"),
    metrics: str | None = MetricsOption,
    project: Path | None = ProjectOption,
    as_json: bool = JsonOption,
) -> None:
    """Runs matching a filter (see docs/tracking.md for the language)."""
    with open_project(project) as ws:
        records = ws.runs.search(
            filter, order_by=order_by or None, limit=limit, experiment=experiment
        )
    _show_runs(records, as_json, f"runs where {filter}", metrics)


@runs_app.command("get")
def show_run(
    run_id: str = typer.Argument(..., help="Run id (as printed by 'runs list', full)."),
    project: Path | None = ProjectOption,
    as_json: bool = JsonOption,
) -> None:
    """One run: status, params, tags, latest metrics, artifacts."""
    with open_project(project) as ws:
        record = ws.runs.get(_resolve(ws, run_id))
    if as_json:
        print_json(record.to_dict())
        return
    console.print(f"[bold]run[/bold] {record.id}  [bold]{record.status}[/bold]")
    console.print(
        f"experiment {record.experiment}  name {record.name}  user {record.user}@{record.host}"
    )
    console.print(f"started {fmt_time(record.start_time)}  ended {fmt_time(record.end_time)}")
    if record.parent_id:
        console.print(f"parent {record.parent_id}")
    if record.error:
        console.print(f"[red]error[/red] {record.error}")
    print_table("params", ["key", "value"], sorted(record.params.items()))
    histories = record.histories or {}
    print_table(
        "metrics",
        ["key", "latest", "points"],
        [(k, v, len(histories.get(k, []))) for k, v in sorted(record.metrics.items())],
    )
    print_table("tags", ["key", "value"], sorted(record.tags.items()))
    print_table(
        "artifacts",
        ["name", "kind", "size", "sha256"],
        [(a["name"], a["kind"], a["size"], a["sha256"][:16]) for a in record.artifacts or []],
    )


runs_app.command("show", hidden=True, help="Old name of 'get'.")(show_run)


@runs_app.command("compare")
def compare_runs(
    run_ids: list[str] = typer.Argument(..., help="Two or more run ids."),
    project: Path | None = ProjectOption,
    as_json: bool = JsonOption,
) -> None:
    """Params and latest metrics of several runs side by side (differences first)."""
    with open_project(project) as ws:
        records = [ws.runs.get(_resolve(ws, r)) for r in run_ids]
    rows: list[tuple[str, list[Any]]] = []
    for kind, attr in (("param", "params"), ("metric", "metrics")):
        keys = sorted({k for r in records for k in getattr(r, attr)})
        for key in keys:
            rows.append((f"{kind} {key}", [getattr(r, attr).get(key) for r in records]))
    rows.sort(key=lambda item: len({repr(v) for v in item[1]}) == 1)
    if as_json:
        print_json({"runs": [r.id for r in records], "rows": dict(rows)})
        return
    print_table("compare", ["", *[r.id[:12] for r in records]], [[k, *v] for k, v in rows])


@runs_app.command("delete")
def delete_runs(
    run_ids: list[str] = typer.Argument(...),
    purge: bool = typer.Option(False, "--purge", help="Remove the rows, not only hide them."),
    project: Path | None = ProjectOption,
) -> None:
    """Delete runs."""
    with open_project(project) as ws:
        count = ws.runs.delete([_resolve(ws, r) for r in run_ids], purge=purge)
    console.print(f"{'purged' if purge else 'deleted'} {count} run(s)")


@runs_app.command("gc")
def gc_runs(
    purge_deleted: bool = typer.Option(False, "--purge-deleted", help="Also purge deleted runs."),
    project: Path | None = ProjectOption,
    as_json: bool = JsonOption,
) -> None:
    """Mark runs whose process died as killed (and purge deleted runs)."""
    with open_project(project) as ws:
        report = ws.runs.gc(purge_deleted=purge_deleted)
    if as_json:
        print_json({"killed": report.killed, "purged": report.purged})
        return
    console.print(f"marked {len(report.killed)} run(s) killed; purged {len(report.purged)}")


@experiments_app.command("list")
def list_experiments(project: Path | None = ProjectOption, as_json: bool = JsonOption) -> None:
    """All experiments with their run counts."""
    with open_project(project) as ws:
        items = ws.experiments.list()
    if as_json:
        print_json([e.to_dict() for e in items])
        return
    print_table(
        "experiments",
        ["name", "runs", "created", "description"],
        [(e.name, e.runs, fmt_time(e.created_at), e.description) for e in items],
    )


def _resolve(ws: Any, run_id: str) -> str:
    """Accept a full id or a unique prefix of at least 6 characters."""
    if len(run_id) == 32:
        return run_id
    from weekend.core.errors import InvalidValueError, NotFoundError

    if len(run_id) < 6 or any(c not in "0123456789abcdef" for c in run_id):
        raise InvalidValueError(
            f"run id {run_id!r} must be a full id or a prefix of at least 6 hex characters"
        )
    matches = ws.runs.search(f"attributes.run_id LIKE '{run_id}%'", limit=2)
    if not matches:
        raise NotFoundError(f"no run id starts with {run_id!r}")
    if len(matches) > 1:
        raise InvalidValueError(f"run id prefix {run_id!r} is ambiguous; give more characters")
    return str(matches[0].id)
