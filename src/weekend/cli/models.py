"""``weekend models ...`` and ``weekend predict``.

Tables for people, ``--json`` for scripts. ``weekend models evaluate`` exits with code 3 when
the evaluation is not blessed, so that a CI step can gate on it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import typer

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

models_app = typer.Typer(
    help="Registered models: versions, aliases, evaluation gates, promotion, lineage.",
    no_args_is_help=True,
)

NOT_BLESSED_EXIT = 3
ReasonOption = typer.Option(None, "--reason", "-r", help="Why (kept in the audit log).")
ActorOption = typer.Option(None, "--actor", help="Who (default: the operating-system user).")
TrustedOption = typer.Option(
    False,
    "--trusted",
    help="Allow formats that run code when read (pickle). Only for models whose origin you trust.",
)


def _event_row(e: Any) -> list[Any]:
    evidence = e.evidence.get("evaluation_id") or ""
    if "undoes_seq" in e.evidence:
        evidence = f"undoes #{e.evidence['undoes_seq']}"
    return [
        e.seq,
        fmt_time(e.created_at),
        e.alias,
        e.action + (" (forced)" if e.forced else ""),
        e.from_version,
        e.to_version,
        e.actor,
        e.reason,
        str(evidence)[:12],
    ]


def _print_event(event: Any, as_json: bool, what: str) -> None:
    if as_json:
        print_json(None if event is None else event.to_dict())
        return
    if event is None:
        console.print(f"nothing to do: {what}")
        return
    target = "deleted" if event.to_version is None else f"-> version {event.to_version}"
    forced = " [red](forced)[/red]" if event.forced else ""
    console.print(
        f"{event.name}@{event.alias}: version {event.from_version or '-'} {target} "
        f"({event.action}{forced}, #{event.seq} by {event.actor})"
    )


@models_app.command("list")
def list_models(project: Path | None = ProjectOption, as_json: bool = JsonOption) -> None:
    """Every registered model with its latest version and aliases."""
    with open_project(project) as ws:
        items = ws.models.list()
    if as_json:
        print_json([m.to_dict() for m in items])
        return
    print_table(
        "models",
        ["name", "versions", "latest", "aliases", "created", "description"],
        [
            (
                m.name,
                m.num_versions,
                m.latest_version,
                ", ".join(f"{a}={v}" for a, v in m.aliases.items()),
                fmt_time(m.created_at),
                m.description,
            )
            for m in items
        ],
    )


@models_app.command("versions")
def list_versions(
    name: str = typer.Argument(..., help="Model name."),
    project: Path | None = ProjectOption,
    as_json: bool = JsonOption,
) -> None:
    """All versions of a model, oldest first."""
    with open_project(project) as ws:
        versions = ws.models.versions(name)
    if as_json:
        print_json([v.to_dict() for v in versions])
        return
    print_table(
        f"versions of {name}",
        ["version", "flavor", "task", "aliases", "run", "created", "description"],
        [
            (
                v.version,
                v.flavor + (" (trusted only)" if v.trusted_required else ""),
                v.task,
                ", ".join(v.aliases),
                (v.run_id or "")[:12],
                fmt_time(v.created_at),
                v.description,
            )
            for v in versions
        ],
    )


@models_app.command("get")
def get(
    ref: str = typer.Argument(..., help="name, name/3 or name@alias"),
    project: Path | None = ProjectOption,
    as_json: bool = JsonOption,
) -> None:
    """One version: flavor, signature, packages, aliases, latest evaluation."""
    with open_project(project) as ws:
        version = ws.models.get(ref)
        evaluations = ws.models.evaluations(version.ref)
    latest = evaluations[0] if evaluations else None
    if as_json:
        data = version.to_dict()
        data["latest_evaluation"] = None if latest is None else latest.to_dict()
        print_json(data)
        return
    aliases = f"  aliases {', '.join(version.aliases)}" if version.aliases else ""
    console.print(
        f"[bold]{version.ref}[/bold]  {version.flavor}  {version.task}{aliases}", highlight=False
    )
    console.print(f"created {fmt_time(version.created_at)}  run {version.run_id or '-'}")
    if version.trusted_required:
        console.print("[yellow]loads only with --trusted (its format can run code)[/yellow]")
    if version.description:
        console.print(version.description, highlight=False)
    signature = version.signature
    if signature is not None:
        print_table(
            "signature",
            ["column", "type", "dtype", "nullable", "categories"],
            [
                (
                    c.name,
                    c.type,
                    c.dtype,
                    "yes" if c.nullable else "no",
                    "" if c.categories is None else ", ".join(map(str, c.categories[:8])),
                )
                for c in signature.inputs
            ],
        )
        if signature.output is not None:
            out = signature.output
            classes = "" if out.classes is None else f" classes {list(out.classes)}"
            console.print(f"output: {out.type} ({out.dtype}){classes}", highlight=False)
    print_table("packages", ["package", "version"], sorted(version.requirements.items()))
    if version.tags:
        print_table("tags", ["key", "value"], sorted(version.tags.items()))
    if latest is not None:
        verdict = "[green]blessed[/green]" if latest.blessed else "[red]not blessed[/red]"
        console.print(
            f"latest evaluation {latest.id[:12]} ({fmt_time(latest.created_at)}): {verdict}, "
            f"{len(latest.gates) - len(latest.failed_gates)}/{len(latest.gates)} gates passed"
        )


models_app.command("show", hidden=True, help="Old name of 'get'.")(get)

AliasArgument = typer.Argument(..., metavar="ALIAS", help="e.g. champion")


@models_app.command("aliases")
def aliases(
    name: str = typer.Argument(..., help="Model name."),
    project: Path | None = ProjectOption,
    as_json: bool = JsonOption,
) -> None:
    """Current aliases of a model: alias -> version."""
    with open_project(project) as ws:
        current = ws.models.aliases(name)
    if as_json:
        print_json(current)
        return
    print_table(f"aliases of {name}", ["alias", "version"], sorted(current.items()))


@models_app.command("set-alias")
def set_alias(
    name: str = typer.Argument(..., help="Model name."),
    version: int = typer.Argument(..., help="Version to point the alias at."),
    alias_name: str = AliasArgument,
    reason: str | None = ReasonOption,
    actor: str | None = ActorOption,
    project: Path | None = ProjectOption,
    as_json: bool = JsonOption,
) -> None:
    """Point ALIAS at VERSION, logged. No gate is checked: 'promote' checks them."""
    with open_project(project) as ws:
        event = ws.models.set_alias(name, version, alias_name, reason=reason, actor=actor)
    _print_event(event, as_json, f"{name}@{alias_name} already points at version {version}")


@models_app.command("delete-alias")
def delete_alias(
    name: str = typer.Argument(..., help="Model name."),
    alias_name: str = AliasArgument,
    reason: str | None = ReasonOption,
    actor: str | None = ActorOption,
    project: Path | None = ProjectOption,
    as_json: bool = JsonOption,
) -> None:
    """Remove ALIAS, logged ('rollback' restores it)."""
    with open_project(project) as ws:
        event = ws.models.delete_alias(name, alias_name, reason=reason, actor=actor)
    _print_event(event, as_json, "")


@models_app.command("alias-history")
def alias_history(
    name: str = typer.Argument(..., help="Model name."),
    alias_name: str | None = typer.Argument(None, metavar="[ALIAS]", help="Only this alias."),
    project: Path | None = ProjectOption,
    as_json: bool = JsonOption,
) -> None:
    """The audit log of alias moves (of one alias, or all), oldest first."""
    with open_project(project) as ws:
        events = ws.models.alias_history(name, alias_name)
    if as_json:
        print_json([e.to_dict() for e in events])
        return
    print_table(
        f"alias history of {name}",
        ["#", "when", "alias", "action", "from", "to", "who", "why", "evidence"],
        [_event_row(e) for e in events],
    )


@models_app.command("copy-version")
def copy_version(
    source: str = typer.Argument(..., help="The version to copy: name/3 or name@alias."),
    name: str = typer.Argument(..., help="The model that gets it as its next version."),
    description: str | None = typer.Option(None, "--description", help="Default: the source's."),
    project: Path | None = ProjectOption,
    as_json: bool = JsonOption,
) -> None:
    """Register an existing version as the next version of NAME, sharing its files."""
    with open_project(project) as ws:
        version = ws.models.copy_version(source, name, description=description)
    if as_json:
        print_json(version.to_dict())
        return
    console.print(f"registered {version.ref} (a copy of {source})")


models_app.command("copy", hidden=True, help="Old name of 'copy-version'.")(copy_version)


@models_app.command("evaluate")
def evaluate(
    ref: str = typer.Argument(..., help="The candidate: name/4, name@challenger or name"),
    data: str = typer.Option(
        ...,
        "--data",
        "-d",
        help="CSV or Parquet file, folder of Parquet files, or dataset reference (holdout/2).",
    ),
    label: str = typer.Option(..., "--label", "-l", help="Label column in the data."),
    baseline: str | None = typer.Option(
        None, "--baseline", "-b", help="Alias (champion), version, or ref to compare against."
    ),
    slices: list[str] = typer.Option([], "--slice", "-s", help="Column to slice by (repeat)."),
    gates: list[str] = typer.Option(
        [], "--gate", "-g", help="e.g. 'auc >= 0.7' or 'slice: auc >= baseline.auc - 0.02'"
    ),
    min_slice_rows: int = typer.Option(30, "--min-slice-rows", help="Smaller slices: not gated."),
    trusted: bool = TrustedOption,
    project: Path | None = ProjectOption,
    as_json: bool = JsonOption,
) -> None:
    """Score a version (and a baseline) on data, check gates, store the evaluation.

    Exit code 3 when the evaluation is not blessed.
    """
    with open_project(project) as ws:
        evaluation = ws.models.evaluate(
            ref,
            data=data,
            label=label,
            baseline=baseline,
            slices=slices,
            gates=gates,
            min_slice_rows=min_slice_rows,
            trusted=trusted,
        )
    if as_json:
        print_json(evaluation.to_dict())
    else:
        console.print(evaluation.summary(), highlight=False, markup=False)
        console.print(f"evaluation id: {evaluation.id}")
    if not evaluation.blessed:
        raise typer.Exit(NOT_BLESSED_EXIT)


@models_app.command("promote")
def promote(
    name: str = typer.Argument(..., help="Model name."),
    version: int = typer.Argument(..., help="Version to promote."),
    alias_name: str = typer.Option("champion", "--alias", "-a", help="Alias to move."),
    evaluation: str | None = typer.Option(
        None, "--evaluation", "-e", help="Evaluation id (default: the version's latest)."
    ),
    force: bool = typer.Option(False, "--force", help="Promote even if not blessed (recorded)."),
    reason: str | None = ReasonOption,
    actor: str | None = ActorOption,
    project: Path | None = ProjectOption,
    as_json: bool = JsonOption,
) -> None:
    """Move an alias to a version whose evaluation is blessed (or --force, with --reason)."""
    from weekend.core.errors import InvalidValueError
    from weekend.registry.models import PromotionRefusedError

    if force and not reason:
        raise InvalidValueError("--force needs --reason '...' for the audit log")
    with open_project(project) as ws:
        try:
            event = ws.models.promote(
                name,
                version,
                alias_name,
                evaluation=evaluation,
                force=force,
                reason=reason,
                actor=actor,
            )
        except PromotionRefusedError as exc:  # say it in options, not in Python arguments
            how = (
                f"Evaluate it with gates (weekend models evaluate {exc.ref} --data FILE "
                "--label COLUMN --gate 'auc >= 0.8'), or pass --force --reason '...'"
            )
            raise PromotionRefusedError(exc.ref, exc.alias, exc.problems, how) from None
    _print_event(event, as_json, f"{name}@{alias_name} already points at version {version}")


@models_app.command("rollback")
def rollback(
    name: str = typer.Argument(..., help="Model name."),
    alias_name: str = typer.Option("champion", "--alias", "-a", help="Alias to move back."),
    reason: str | None = ReasonOption,
    actor: str | None = ActorOption,
    project: Path | None = ProjectOption,
    as_json: bool = JsonOption,
) -> None:
    """Move an alias back to where it pointed before its latest move."""
    with open_project(project) as ws:
        event = ws.models.rollback(name, alias_name, reason=reason, actor=actor)
    _print_event(event, as_json, "")


def _lineage_tree(chain: dict[str, Any]) -> Any:
    from rich.markup import escape
    from rich.tree import Tree

    model = chain["model"]
    aliases = f", aliases {', '.join(model['aliases'])}" if model["aliases"] else ""
    tree = Tree(f"[bold]{escape(model['ref'])}[/bold] ({model['flavor']}{escape(aliases)})")
    copied = chain.get("copied_from")
    if copied:
        tree.add(f"copied from {escape(copied['ref'])} (the same files)")
    run = chain["run"]
    if run is None:
        tree.add("run: none recorded")
    else:
        state = "missing from the catalog" if run.get("missing") else run.get("status", "")
        node = tree.add(
            f"run {run['id'][:12]} {escape(run['name'])} "
            f"(experiment {escape(run['experiment'])}, {state})"
        )
        for key, value in sorted((run.get("params") or {}).items()):
            node.add(f"param {escape(key)} = {escape(value)}")
    datasets = tree.add("datasets" if chain["datasets"] else "datasets: none recorded")
    for d in chain["datasets"]:
        gone = " [red](missing)[/red]" if d.get("missing") else ""
        datasets.add(
            f"{d['role']}: {escape(d['ref'])} ({fmt(d.get('num_rows'))} rows, "
            f"sha256 {d['content_hash'][:12]}){gone}"
        )
    features = tree.add("feature views" if chain["features"] else "feature views: none recorded")
    for f in chain["features"]:
        features.add(f"{escape(f['view'])} version {f['version']}")
    code = chain["code"]
    if code is None:
        tree.add("code: no commit recorded")
    else:
        extra = ", uncommitted changes" if code.get("dirty") else ""
        tree.add(f"code: commit {code['commit'][:12]} ({escape(code.get('branch') or '?')}{extra})")
    return tree


@models_app.command("lineage")
def lineage(
    ref: str = typer.Argument(..., help="name, name/3 or name@alias"),
    project: Path | None = ProjectOption,
    as_json: bool = JsonOption,
) -> None:
    """The chain from a version back to its run, datasets, feature views and commit."""
    with open_project(project) as ws:
        chain = ws.models.lineage(ref)
    if as_json:
        print_json(chain)
        return
    console.print(_lineage_tree(chain))


@contextlib.contextmanager
def _chunk_progress(description: str) -> Iterator[Callable[[int, int], None]]:
    """A progress callback whose bar appears at its first call, when the total is known (the
    input was read and its first chunk validated): no '0/?' bar before a failure."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TimeRemainingColumn

    columns = (
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err_console) as bar:
        task: TaskID | None = None

        def advance(done: int, total: int) -> None:
            nonlocal task
            if task is None:
                task = bar.add_task(description, total=total)
            bar.update(task, completed=done, total=total)

        yield advance


def predict(
    ref: str = typer.Argument(..., help="Model: name@champion, name/3 or name"),
    input: str = typer.Option(
        ...,
        "--input",
        "-i",
        help="CSV or Parquet file, folder of Parquet files, or dataset reference (flights/3).",
    ),
    output: Path = typer.Option(..., "--output", "-o", help="Parquet file to write."),
    chunk_rows: int = typer.Option(100_000, "--chunk-rows", help="Rows per chunk (memory)."),
    keep: list[str] = typer.Option(
        [], "--keep", "-k", help="Input column to copy to the output (repeat; default: all)."
    ),
    no_proba: bool = typer.Option(False, "--no-proba", help="Skip class probabilities."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output."),
    trusted: bool = TrustedOption,
    project: Path | None = ProjectOption,
    as_json: bool = JsonOption,
) -> None:
    """Batch prediction: CSV or Parquet in, Parquet with predictions and model_version out."""
    from weekend.core.errors import InvalidValueError

    if output.is_dir():
        raise InvalidValueError(
            f"--output {str(output)!r} is a folder; name a Parquet file to write"
        )
    with open_project(project) as ws, _chunk_progress(f"predicting with {ref}") as advance:
        result = ws.models.predict_batch(
            ref,
            input,
            output,
            chunk_rows=chunk_rows,
            keep=keep or None,
            probabilities=not no_proba,
            overwrite=overwrite,
            trusted=trusted,
            progress=advance,
        )
    if as_json:
        print_json(result.to_dict())
        return
    console.print(
        f"wrote {result.rows} predictions of {result.model} to {result.output} "
        f"({result.chunks} chunks, {result.seconds:.2f} s)",
        highlight=False,
    )


__all__ = ["models_app", "predict"]
