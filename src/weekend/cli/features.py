"""``weekend features apply | plan | list | show | training-set | materialize | skew``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from weekend.cli._common import (
    JsonOption,
    ProjectOption,
    console,
    fmt_time,
    open_project,
    print_json,
    print_table,
)

features_app = typer.Typer(
    help="Feature store: apply definitions, training sets, materialize, check skew.",
    no_args_is_help=True,
)

_STYLES = {"+": "green", "~": "yellow", "-": "red", "=": "dim"}


def _print_plan(plan: Any, title: str) -> None:
    console.print(f"[bold]{title}[/bold]")
    lines = plan.lines()
    if not lines:
        console.print("  (no definitions)")
    for line in lines:
        console.print(f"  [{_STYLES[line[0]]}]{line}[/]", highlight=False)
    counts = (
        f"{len(plan.added)} added, {len(plan.changed)} changed, {len(plan.removed)} removed, "
        f"{len(plan.unchanged)} unchanged"
    )
    console.print(counts)


def _plan_or_apply(
    file: Path, project: Path | None, prune: bool, validate: bool, apply: bool
) -> Any:
    with open_project(project) as ws:
        objects = ws.features.load(file)
        if apply:
            return ws.features.apply(objects, prune=prune, validate=validate)
        return ws.features.plan(objects, prune=prune, validate=validate)


FileArgument = typer.Argument(..., help="Python file defining Entity, FeatureView ... objects.")
PruneOption = typer.Option(
    False, "--prune", help="Remove definitions that the file no longer holds (history is kept)."
)
NoValidateOption = typer.Option(
    False, "--no-validate", help="Do not read the sources to check columns and types."
)


@features_app.command("apply")
def apply(
    file: Path = FileArgument,
    prune: bool = PruneOption,
    no_validate: bool = NoValidateOption,
    dry_run: bool = typer.Option(False, "--dry-run", help="Only show the plan (like 'plan')."),
    project: Path | None = ProjectOption,
    as_json: bool = JsonOption,
) -> None:
    """Register the definitions of FILE; changed ones become new versions."""
    plan = _plan_or_apply(file, project, prune, not no_validate, not dry_run)
    if as_json:
        print_json(plan.to_dict())
        return
    _print_plan(plan, "applied" if plan.applied else "plan (nothing written)")


@features_app.command("plan")
def plan(
    file: Path = FileArgument,
    prune: bool = PruneOption,
    no_validate: bool = NoValidateOption,
    project: Path | None = ProjectOption,
    as_json: bool = JsonOption,
) -> None:
    """Show what 'apply FILE' would add, change and remove, without writing."""
    result = _plan_or_apply(file, project, prune, not no_validate, False)
    if as_json:
        print_json(result.to_dict())
        return
    _print_plan(result, "plan (nothing written)")


@features_app.command("list")
def list_definitions(
    kind: str | None = typer.Option(
        None, "--kind", "-k", help="entity, view, feature_view, on_demand_feature_view, service."
    ),
    include_removed: bool = typer.Option(False, "--all", help="Also removed definitions."),
    project: Path | None = ProjectOption,
    as_json: bool = JsonOption,
) -> None:
    """Every definition, at its latest version."""
    with open_project(project) as ws:
        records = ws.features.list(kind, include_removed=include_removed)
    if as_json:
        print_json([r.to_dict() for r in records])
        return
    rows = [
        (r.kind, r.name, r.version, "removed" if r.removed else "", fmt_time(r.created_at))
        for r in records
    ]
    print_table("feature definitions", ["kind", "name", "version", "state", "updated"], rows)


def _summary(definition: dict[str, Any]) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for key, value in sorted(definition.items()):
        if key == "features" and isinstance(value, list):
            value = ", ".join(
                f"{f['name']}: {f['dtype'] or '?'}" if isinstance(f, dict) else str(f)
                for f in value
            )
        elif key == "entities":
            value = ", ".join(f"{e['name']} {e.get('join_keys', '')}" for e in value)
        elif key == "function" and isinstance(value, dict):
            value = value.get("name")
        elif key == "ttl_us":
            from weekend.features import format_duration

            key = "ttl"
            value = format_duration(None if value is None else _us(value))
        out.append((key, value))
    return out


def _when(value: Any) -> str:
    return "" if value is None else str(value.strftime("%Y-%m-%d %H:%M:%S"))


def _us(value: int) -> Any:
    import datetime

    return datetime.timedelta(microseconds=value)


@features_app.command("get")
def show(
    name: str = typer.Argument(..., help="Name of a view, entity or service."),
    kind: str = typer.Option("view", "--kind", "-k", help="view, entity or service."),
    version: int | None = typer.Option(
        None, "--version", "-v", help="A version (default: latest)."
    ),
    project: Path | None = ProjectOption,
    as_json: bool = JsonOption,
) -> None:
    """One definition: its fields, its versions and (views) its materializations."""
    with open_project(project) as ws:
        records = ws.features.versions(name, kind)
        runs = ws.features.materializations(name) if kind == "view" else []
    chosen = [r for r in records if version is None or r.version == version]
    if not chosen:
        from weekend.core.errors import NotFoundError

        raise NotFoundError(f"{kind} {name!r} has no version {version}")
    record = chosen[-1]
    if as_json:
        print_json({**record.to_dict(), "versions": [r.version for r in records], "runs": runs})
        return
    state = " (removed)" if record.removed else ""
    console.print(f"[bold]{record.kind}[/bold] {record.name} v{record.version}{state}")
    print_table("definition", ["field", "value"], _summary(record.definition))
    print_table(
        "versions",
        ["version", "created", "hash", "state"],
        [
            (
                r.version,
                fmt_time(r.created_at),
                r.definition_hash[:12],
                "removed" if r.removed else "",
            )
            for r in records
        ],
    )
    if runs:
        print_table(
            "materializations",
            ["version", "end", "rows", "stored", "store"],
            [
                (
                    m["view_version"],
                    fmt_time(m["end_ts"] // 1_000_000),
                    m["rows"],
                    m["entities"],
                    m["store"],
                )
                for m in runs[-10:]
            ],
        )


_TABLE_SUFFIXES = (".parquet", ".pq", ".csv")

features_app.command("show", hidden=True, help="Old name of 'get'.")(show)


def _read_entities(ws: Any, value: str) -> Any:
    """The entity rows: a CSV or Parquet file, or a dataset reference (``labels/2``)."""
    from weekend.data import read_table

    return read_table(value, what="entity rows", datasets=ws.datasets)


def _check_output(output: Path | None, register_as: str | None) -> None:
    from weekend.core.errors import InvalidValueError

    if output is None and register_as is None:
        raise InvalidValueError(
            "give --output FILE (.parquet or .csv) or --register-as NAME (or both): "
            "the training set has to go somewhere"
        )
    if output is None:
        return
    if output.suffix.lower() not in _TABLE_SUFFIXES:
        raise InvalidValueError(
            f"--output {str(output)!r} must end in .parquet or .csv, got {output.suffix!r}"
        )
    if not output.parent.is_dir() or output.is_dir():
        raise InvalidValueError(
            f"--output {str(output)!r}: its folder must exist and it must not be a folder"
        )


def _write_table(table: Any, output: Path) -> None:
    """Written beside the target, then renamed: a failure leaves no half-written file."""
    import os
    import tempfile

    handle, temp = tempfile.mkstemp(prefix=".weekend-", suffix=output.suffix, dir=output.parent)
    os.close(handle)
    try:
        if output.suffix.lower() == ".csv":
            import pyarrow.csv as pacsv

            pacsv.write_csv(table, temp)
        else:
            import pyarrow.parquet as pq

            pq.write_table(table, temp)
        os.replace(temp, output)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


@features_app.command("training-set")
def training_set(
    entities: str = typer.Argument(
        ..., help="Entity rows: a CSV or Parquet file, or a dataset (labels/2)."
    ),
    features: list[str] = typer.Argument(
        ..., help="'view:feature' references ('view:*' for all), or one feature service name."
    ),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Write the training set here (.parquet or .csv)."
    ),
    register_as: str | None = typer.Option(
        None, "--register-as", help="Register it as the next version of this dataset."
    ),
    description: str | None = typer.Option(None, "--description", help="Of the dataset version."),
    timestamp_column: str = typer.Option(
        "event_timestamp", "--timestamp-column", help="The entity rows' time column."
    ),
    strict: bool = typer.Option(False, "--strict", help="Also require created_ts <= row time."),
    full_feature_names: bool = typer.Option(
        False, "--full-feature-names", help="Name columns view__feature."
    ),
    project: Path | None = ProjectOption,
    as_json: bool = JsonOption,
) -> None:
    """Point-in-time correct features for every entity row (ws.features.training_set)."""
    _check_output(output, register_as)
    chosen: Any = features[0] if len(features) == 1 and ":" not in features[0] else features
    with open_project(project) as ws:
        table = ws.features.training_set(
            _read_entities(ws, entities),
            chosen,
            strict=strict,
            timestamp_column=timestamp_column,
            full_feature_names=full_feature_names,
            register_as=register_as,
            description=description,
            output="arrow",
        )
        views = ws.features.versions_of(chosen)
    if output is not None:
        _write_table(table, output)
    _print_training_set(table, views, output, as_json)


def _print_training_set(
    table: Any, views: dict[str, int], output: Path | None, as_json: bool
) -> None:
    metadata = table.schema.metadata or {}
    dataset = metadata.get(b"weekend.dataset", b"").decode() or None
    if as_json:
        print_json(
            {
                "rows": table.num_rows,
                "columns": table.column_names,
                "feature_views": views,
                "output": None if output is None else str(output),
                "dataset": dataset,
            }
        )
        return
    where = [f"wrote {output}"] if output is not None else []
    where += [f"registered {dataset}"] if dataset else []
    console.print(
        escape(
            f"training set: {table.num_rows} rows x {table.num_columns} columns "
            f"(views {', '.join(f'{k} v{v}' for k, v in views.items())}); {'; '.join(where)}"
        ),
        highlight=False,
    )


@features_app.command("materialize")
def materialize(
    views: list[str] = typer.Argument(None, help="Feature views (default: all)."),
    start: str | None = typer.Option(
        None, "--start", help="ISO time: load exactly [start, end) (e.g. for late rows)."
    ),
    end: str | None = typer.Option(None, "--end", help="ISO time; default: now."),
    full: bool = typer.Option(
        False, "--full", help="Reload from the beginning (a view with a ttl: from end - ttl)."
    ),
    incremental: bool = typer.Option(
        False, "--incremental", "-i", hidden=True, help="The default; kept for scripts."
    ),
    project: Path | None = ProjectOption,
    as_json: bool = JsonOption,
) -> None:
    """Load the latest value per entity into the online store, with a progress bar.

    By default, everything not yet materialized: each view from the end of its last run (its
    watermark) to --end; a view never loaded, or changed since, from the beginning.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    _check_window(start, full, incremental)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with open_project(project) as ws, Progress(*columns, console=console, disable=as_json) as bar:
        tasks: dict[str, Any] = {}

        def progress(view: str, done: int, total: int) -> None:
            if view not in tasks:
                tasks[view] = bar.add_task(view, total=total)
            bar.update(tasks[view], completed=done, total=total)

        names = views or None
        if start is None and not full:
            results = ws.features.materialize_incremental(names, end, progress=progress)
        else:
            results = ws.features.materialize(names, start, end, progress=progress)
    if as_json:
        print_json([r.to_dict() for r in results])
        return
    _print_materialized(results)


def _check_window(start: str | None, full: bool, incremental: bool) -> None:
    from weekend.core.errors import InvalidValueError

    if incremental and (start is not None or full):
        given = "--start" if start is not None else "--full"
        raise InvalidValueError(f"--incremental starts at the watermark; do not pass {given}")
    if full and start is not None:
        raise InvalidValueError("--full loads from the beginning; do not pass --start")


def _print_materialized(results: list[Any]) -> None:
    rows = [
        (r.view, r.version, _when(r.start), _when(r.end), r.rows, r.written, r.skipped_older)
        for r in results
    ]
    if not results:
        console.print(
            "nothing to do: every view was materialized up to this end already (its watermark "
            "is later); to load an earlier window again, pass --start or --full"
        )
        return
    print_table(
        "materialized", ["view", "version", "start", "end", "entities", "written", "older"], rows
    )
    for result in results:
        if result.note:
            console.print(f"[yellow]{escape(result.view)}[/yellow]: {escape(result.note)}")


@features_app.command("skew")
def skew(
    view: str = typer.Argument(..., help="The feature view to check."),
    sample: int = typer.Option(1000, "--sample", "-n", help="How many entities to compare."),
    at: str | None = typer.Option(
        None, "--at", help="ISO time; default: the end of the last materialization, or now."
    ),
    seed: int = typer.Option(0, "--seed", help="Chooses the sample (same seed, same entities)."),
    examples: int = typer.Option(20, "--examples", help="How many mismatches to show."),
    project: Path | None = ProjectOption,
    as_json: bool = JsonOption,
) -> None:
    """Compare online values with offline point-in-time values; exit 1 on any mismatch."""
    with open_project(project) as ws:
        report = ws.features.skew(view, sample, at=at, seed=seed, examples=examples)
    if as_json:
        print_json(report.to_dict())
    else:
        verdict = "[green]no skew[/green]" if report.ok else "[red]skew[/red]"
        console.print(
            f"{verdict}: {report.mismatched} of {report.sampled} entities of view "
            f"{report.view!r} v{report.version} disagree at {_when(report.at)}"
        )
        counts = [(k, v) for k, v in report.by_kind.items() if v]
        counts += [(f"value of {k}", v) for k, v in report.by_feature.items() if v]
        if counts:
            print_table("mismatches", ["kind", "count"], counts)
        if report.examples:
            print_table(
                "examples",
                ["key", "kind", "feature", "offline", "online"],
                [(m.key, m.kind, m.feature, m.offline, m.online) for m in report.examples],
            )
    if not report.ok:
        raise typer.Exit(1)


__all__ = ["features_app"]
