"""``weekend pipelines run|list|show|explain``: run a pipeline and read its history."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import typer

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

pipelines_app = typer.Typer(help="Run pipelines; list, show and explain their runs.")


def _params(items: list[str]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.isidentifier():
            raise InvalidValueError(
                f"--param takes name=value (the value as JSON, else text), got {item!r:.80}",
                field="param",
            )
        try:
            params[key] = orjson.loads(text)
        except orjson.JSONDecodeError:
            params[key] = text
    return params


def _show(run: Any) -> None:
    console.print(
        f"run {run.id}  pipeline {run.pipeline}  {run.status}  executor {run.executor}  "
        f"{run.duration if run.duration is not None else '-'} s"
    )
    rows = [
        [s.name, s.status, "hit" if s.cached else "", s.attempts, s.duration, s.output_kind]
        for s in run.steps.values()
    ]
    print_table("steps", ["step", "status", "cache", "attempts", "seconds", "output"], rows)
    if run.error:
        console.print(f"error: {run.error.splitlines()[0]}", markup=False)


@pipelines_app.command("run")
def run(
    pipeline: str = typer.Argument(..., help="module:function or file.py:function"),
    param: list[str] = typer.Option([], "--param", help="name=value (JSON, else text)."),
    executor: str = typer.Option("local", "--executor", help="local | process | ray"),
    address: str | None = typer.Option(None, "--address", help="Ray cluster address."),
    project: Path | None = ProjectOption,
    as_json: bool = JsonOption,
) -> None:
    """Run a pipeline; exit 1 when a step failed."""
    from weekend.pipelines import load_pipeline

    params = _params(param)
    options = {"address": address} if executor == "ray" and address else {}
    with open_project(project) as ws:
        flow = load_pipeline(pipeline, root=ws.root)
        result = ws.pipelines.run(flow, executor=executor, executor_options=options, **params)
    if as_json:
        print_json(result.to_dict())
    else:
        _show(result)
    if result.status != "succeeded":
        raise typer.Exit(1)


@pipelines_app.command("list")
def list_runs(
    pipeline: str | None = typer.Option(None, "--pipeline", help="Only runs of this pipeline."),
    limit: int = typer.Option(50, "--limit", min=1, help="At most this many runs."),
    project: Path | None = ProjectOption,
    as_json: bool = JsonOption,
) -> None:
    """Pipeline runs, newest first."""
    with open_project(project) as ws:
        runs = ws.pipelines.list(pipeline, limit=limit)
    if as_json:
        print_json([r.to_dict() for r in runs])
        return
    rows = [
        [
            r.id,
            r.pipeline,
            r.status,
            fmt_time(r.started_at),
            r.duration,
            sum(s.cached for s in r.steps.values()),
            len(r.steps),
        ]
        for r in runs
    ]
    print_table(
        "pipeline runs", ["run", "pipeline", "status", "started", "seconds", "hits", "steps"], rows
    )


@pipelines_app.command("show")
def show(
    run_id: str = typer.Argument(..., help="The run's id."),
    project: Path | None = ProjectOption,
    as_json: bool = JsonOption,
) -> None:
    """One run with its steps."""
    with open_project(project) as ws:
        found = ws.pipelines.get(run_id)
    if as_json:
        print_json(found.to_dict())
    else:
        _show(found)


@pipelines_app.command("explain")
def explain(
    run_id: str = typer.Argument(..., help="The run's id."),
    step: str = typer.Argument(..., help="The step's name."),
    project: Path | None = ProjectOption,
    as_json: bool = JsonOption,
) -> None:
    """Why a step hit or missed the cache: which part of its key changed."""
    with open_project(project) as ws:
        why = ws.pipelines.explain(run_id, step)
    if as_json:
        print_json(
            {
                "run": why.run_id,
                "step": why.step,
                "hit": why.hit,
                "compared_with": why.compared_with,
                "reasons": why.reasons,
            }
        )
        return
    head = "hit" if why.hit else "miss"
    against = f" (compared with run {why.compared_with})" if why.compared_with else ""
    console.print(f"{step}: cache {head}{against}")
    for reason in why.reasons:
        console.print(f"  - {reason}", markup=False)


__all__ = ["pipelines_app"]
