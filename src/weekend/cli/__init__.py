"""The ``weekend`` command."""

from __future__ import annotations

from pathlib import Path

import typer

from weekend.cli._common import DEBUG_ENV, WeekendGroup, console
from weekend.cli.data import data_app
from weekend.cli.features import features_app
from weekend.cli.gc import gc
from weekend.cli.models import models_app, predict
from weekend.cli.monitor import monitor_app
from weekend.cli.pipelines import pipelines_app
from weekend.cli.runs import experiments_app, runs_app
from weekend.cli.serve import serve
from weekend.cli.tokens import tokens_app

app = typer.Typer(
    cls=WeekendGroup,  # errors become messages and exit codes inside the app
    help=(
        "weekend: from raw data to a production model. Datasets, features, tracked runs, a "
        "model registry with gates, batch prediction, an online prediction service, "
        "monitoring with alerts. Planned: retraining, a dashboard."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root(
    ctx: typer.Context,
    debug: bool = typer.Option(
        False, "--debug", help=f"Show the traceback of an internal error (or {DEBUG_ENV}=1)."
    ),
) -> None:
    ctx.meta["weekend.debug"] = debug


app.add_typer(runs_app, name="runs")
app.add_typer(experiments_app, name="experiments")
app.add_typer(data_app, name="data")
app.add_typer(features_app, name="features")
app.add_typer(models_app, name="models")
app.add_typer(tokens_app, name="tokens")
app.add_typer(pipelines_app, name="pipelines")
app.add_typer(monitor_app, name="monitor")
app.command("predict")(predict)
app.command("gc")(gc)
app.command("serve")(serve)


@app.command("init")
def init(
    directory: Path = typer.Argument(Path(), help="Project folder (created if needed)."),
) -> None:
    """Create a project: weekend.toml and a .weekend/ folder."""
    from weekend.workspace import init_workspace

    with init_workspace(directory) as ws:
        console.print(f"initialised weekend project in {ws.root}")
        console.print(f"  settings  {ws.root / 'weekend.toml'}")
        console.print(f"  catalog   {ws.settings.catalog_url}")


@app.command("version")
def version() -> None:
    """Print the version."""
    from weekend import __version__

    console.print(__version__)


def main() -> None:
    """Entry point. Errors become messages and exit codes inside the app (``WeekendGroup``)."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
