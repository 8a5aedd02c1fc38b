"""``weekend data ...``: register, list, show, validate, profile and diff datasets."""

from __future__ import annotations

from pathlib import Path

import orjson
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
from weekend.core.errors import InvalidValueError

SOURCE_HELP = "A CSV or Parquet file, a folder of Parquet files, or a dataset reference (name/3)."
AllowEmptyOption = typer.Option(
    False, "--allow-empty", help="Accept data without rows (a header-only CSV file)."
)

data_app = typer.Typer(
    help="Datasets: versioned data with schemas, profiles and checks.", no_args_is_help=True
)


@data_app.command("register")
def register(
    name: str = typer.Argument(..., help="Dataset name."),
    source: str = typer.Argument(..., help=SOURCE_HELP),
    key: list[str] = typer.Option([], "--key", "-k", help="Key column (repeat for several)."),
    description: str | None = typer.Option(None, "--description", "-d"),
    validate_against: str | None = typer.Option(
        None, "--validate-against", help="Refuse the data if it breaks this version's schema."
    ),
    allow_empty: bool = AllowEmptyOption,
    project: Path | None = ProjectOption,
    as_json: bool = JsonOption,
) -> None:
    """Store a new version (or find the identical one)."""
    with open_project(project) as ws, console.status(f"registering {name} ..."):
        version = ws.datasets.register(
            name,
            source,
            keys=[tuple(k.split(",")) if "," in k else k for k in key],
            description=description,
            validate_against=validate_against,
            allow_empty=allow_empty,
        )
    if as_json:
        print_json(version.to_dict())
        return
    console.print(
        f"{version.ref}: {version.num_rows:,} rows x {version.num_columns} columns, "
        f"sha256 {version.content_hash[:16]}"
    )


@data_app.command("list")
def list_datasets(project: Path | None = ProjectOption, as_json: bool = JsonOption) -> None:
    """Every dataset with its number of versions."""
    with open_project(project) as ws:
        items = ws.datasets.list()
    if as_json:
        print_json(items)
        return
    print_table(
        "datasets",
        ["name", "versions", "latest", "updated"],
        [(i["name"], i["versions"], i["latest"], fmt_time(i["updated_at"])) for i in items],
    )


@data_app.command("get")
def show(
    ref: str = typer.Argument(..., help="'name' (latest) or 'name/3'."),
    project: Path | None = ProjectOption,
    as_json: bool = JsonOption,
) -> None:
    """A version: size, source, lineage and schema."""
    with open_project(project) as ws:
        version = ws.datasets.get(ref)
    if as_json:
        print_json(version.to_dict())
        return
    console.print(f"[bold]{version.ref}[/bold]  {version.num_rows:,} rows  {version.size:,} bytes")
    console.print(f"sha256 {version.content_hash}")
    # user data (paths, SQL, values) is printed as text, never read as rich markup
    console.print(f"source {version.source}   created {fmt_time(version.created_at)}", markup=False)
    if version.run_id:
        console.print(f"run {version.run_id}", markup=False)
    if version.lineage:
        console.print(f"lineage {orjson.dumps(version.lineage).decode()}", markup=False)
    print_table(
        "schema",
        ["column", "type", "nullable", "min", "max", "categories"],
        [
            (
                escape(c.name),
                c.logical_type,
                c.nullable,
                c.min,
                c.max,
                "" if c.categories is None else escape(", ".join(c.categories[:8])),
            )
            for c in version.schema.columns
        ],
    )
    for key in version.schema.keys:
        state = "unique" if key.unique else f"{key.duplicate_rows} duplicate rows"
        console.print(f"key ({', '.join(key.columns)}): {state}", markup=False)


data_app.command("show", hidden=True, help="Old name of 'get'.")(show)


@data_app.command("profile")
def profile(
    ref: str = typer.Argument(...),
    project: Path | None = ProjectOption,
    as_json: bool = JsonOption,
) -> None:
    """Per-column statistics of a version."""
    with open_project(project) as ws:
        prof = ws.datasets.profile(ref)
    data = prof.to_dict()
    if as_json:
        print_json(data)
        return
    rows = []
    for column in data["columns"]:
        stats = column.get("numeric") or column.get("temporal") or {}
        top = (column.get("categorical") or {}).get("top") or []
        quantiles = stats.get("quantiles") or {}
        rows.append(
            (
                escape(column["name"]),
                column.get("type"),
                f"{column.get('missing_share', 0.0):.1%}",
                stats.get("min"),
                quantiles.get("p50"),
                stats.get("mean"),
                stats.get("max"),
                escape(", ".join(f"{value}:{count}" for value, count in top[:4])),
            )
        )
    print_table(
        f"profile of {ref} ({prof.n_rows:,} rows)",
        ["column", "type", "missing", "min", "median", "mean", "max", "top categories"],
        rows,
    )


@data_app.command("validate")
def validate(
    ref: str = typer.Argument(..., help="The version whose schema the data must match."),
    source: str = typer.Argument(..., help=SOURCE_HELP),
    expectations: Path | None = typer.Option(
        None, "--expectations", "-x", help="A JSON file with a list of expectations."
    ),
    allow_empty: bool = AllowEmptyOption,
    project: Path | None = ProjectOption,
    as_json: bool = JsonOption,
) -> None:
    """Check new data against a version's schema and expectations (exit 1 on errors)."""
    from weekend.data import Expectation

    declared = []
    if expectations is not None:
        if expectations.is_dir():
            raise InvalidValueError(f"--expectations {expectations}: a folder; name a JSON file")
        try:
            items = orjson.loads(expectations.read_bytes())
        except (OSError, orjson.JSONDecodeError) as exc:
            raise InvalidValueError(
                f"--expectations {expectations}: not a JSON file ({exc})"
            ) from None
        if not isinstance(items, list):
            raise InvalidValueError("--expectations must hold a JSON list of expectations")
        declared = [Expectation.from_dict(item) for item in items]
    with open_project(project) as ws, console.status("validating ..."):
        report = ws.datasets.validate(ref, source, declared, allow_empty=allow_empty)
    if as_json:
        print_json(report.to_dict())
    else:
        console.print(report.summary(), highlight=False, markup=False, soft_wrap=True)
    if not report.ok:
        raise typer.Exit(1)


@data_app.command("diff")
def diff(
    a: str = typer.Argument(..., help="The older version, e.g. flights/1."),
    b: str = typer.Argument(..., help="The newer version, e.g. flights/2."),
    project: Path | None = ProjectOption,
    as_json: bool = JsonOption,
) -> None:
    """Schema and profile changes between two versions."""
    with open_project(project) as ws:
        result = ws.datasets.diff(a, b)
    if as_json:
        print_json(result.to_dict())
        return
    print_table(
        f"schema changes {result.a} -> {result.b}",
        ["kind", "column", "change"],
        [(c.kind, escape(c.column or ""), escape(c.message)) for c in result.schema_changes],
    )
    print_table(
        f"profile changes {result.a} -> {result.b}",
        ["kind", "column", "change"],
        [(c.kind, escape(c.column or ""), escape(c.message)) for c in result.profile_changes],
    )
