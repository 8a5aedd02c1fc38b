"""``weekend serve``: the prediction service over HTTP (docs/serving.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from weekend.cli._common import ProjectOption


def serve(
    models: list[str] = typer.Argument(
        ..., help="What to serve: NAME@ALIAS (followed when it moves) or NAME/VERSION; repeat."
    ),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind."),
    port: int = typer.Option(8000, "--port", help="Port to bind."),
    workers: int = typer.Option(1, "--workers", help="Worker processes (uvicorn supervisor)."),
    canary: list[str] = typer.Option(
        [], "--canary", help="[NAME@]ALIAS=PERCENT: a stable share of request keys, e.g. 10%."
    ),
    shadow: list[str] = typer.Option(
        [], "--shadow", help="[NAME@]ALIAS scored off the request path, logged, never returned."
    ),
    row_key: str | None = typer.Option(
        None, "--row-key", help="Column identifying a row (prediction log, canary split)."
    ),
    definitions: Path | None = typer.Option(
        None, "--features", help="Feature definitions file (the code of on-demand views)."
    ),
    reload_seconds: float = typer.Option(
        5.0, "--reload-seconds", help="How often aliases are read (0: never follow them)."
    ),
    threads: int = typer.Option(4, "--threads", help="Work pool threads per worker."),
    batch_wait_ms: float | None = typer.Option(
        None, "--batch-wait-ms", help="Micro-batching: the longest a request waits (off)."
    ),
    no_log: bool = typer.Option(False, "--no-log", help="Do not log predictions."),
    insecure: bool = typer.Option(
        False, "--insecure", help="Allow a non-loopback address without a token."
    ),
    on: str = typer.Option("local", "--on", help="local (uvicorn) or ray (Ray Serve)."),
    replicas: int = typer.Option(1, "--replicas", help="Ray Serve replicas (with --on ray)."),
    trusted: bool = typer.Option(False, "--trusted", help="Load models whose format runs code."),
    project: Path | None = ProjectOption,
) -> None:
    """Serve models over HTTP: predictions, health, readiness, metrics, OpenAPI."""
    from weekend.serving import ServeConfig

    config = ServeConfig(
        project=str(_root(project)),
        models=models,
        canary=canary,
        shadow=shadow,
        trusted=trusted,
        reload_seconds=reload_seconds or None,
        row_key=row_key,
        definitions=None if definitions is None else str(definitions.resolve()),
        threads=threads,
        batch_wait_ms=batch_wait_ms,
        log_predictions=not no_log,
        insecure=insecure,
    )
    _start(config, on=on, host=host, port=port, workers=workers, replicas=replicas)


def _root(project: Path | None) -> Path:
    """The project's folder (the usual error when there is none)."""
    from weekend.cli._common import open_project
    from weekend.core.settings import find_root

    root = find_root(project or Path.cwd())
    if root is None:
        open_project(project)  # raises the "no weekend project" error
        raise AssertionError("unreachable")  # pragma: no cover
    return root


def _start(config: Any, *, on: str, host: str, port: int, workers: int, replicas: int) -> None:
    from weekend.core.errors import InvalidValueError
    from weekend.serving import run_on_ray, run_service

    if on == "ray":
        run_on_ray(config, host=host, port=port, replicas=replicas)
        return
    if on != "local":
        raise InvalidValueError(f"--on must be local or ray, got {on!r}")
    if replicas != 1:
        raise InvalidValueError("--replicas goes with --on ray; locally, use --workers")
    run_service(config, host=host, port=port, workers=workers)


__all__ = ["serve"]
