"""weekend pipelines run|list|show|explain on a pipeline file in the project."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from weekend.cli import app

runner = CliRunner()

FLOW = """
import pandas as pd
import weekend as wk

@wk.step
def monthly(month: int) -> pd.DataFrame:
    return pd.DataFrame({"month": [month] * 3, "x": [1.0, 2.0, 3.0]})

@wk.step(retries=1)
def fit(df: pd.DataFrame, lr: float) -> dict:
    if lr < 0:
        raise ValueError("lr must be positive")
    return {"mean": float(df["x"].mean()) * lr}

@wk.pipeline
def training(month: int, lr: float = 0.1):
    return fit(monthly(month), lr)
"""


def invoke(project: Path, *args: str, code: int = 0) -> str:
    result = runner.invoke(app, [*args, "-p", str(project)])
    assert result.exit_code == code, result.output
    return result.output


def test_run_list_show_explain(project: Path) -> None:
    (project / "flows.py").write_text(FLOW)
    first = json.loads(
        invoke(project, "pipelines", "run", "flows.py:training", "--param", "month=4", "--json")
    )
    assert first["status"] == "succeeded"
    assert first["steps"]["monthly"]["output_kind"] == "parquet"
    again = json.loads(
        invoke(
            project,
            "pipelines",
            "run",
            "flows.py:training",
            "--param",
            "month=4",
            "--param",
            "lr=0.5",
            "--json",
        )
    )
    assert again["steps"]["monthly"]["cached"] is True
    assert again["steps"]["fit"]["cached"] is False
    out = invoke(project, "pipelines", "explain", again["id"], "fit")
    assert "cache miss" in out
    assert "params: 'lr' changed" in out
    assert "cache hit" in invoke(project, "pipelines", "explain", again["id"], "monthly")
    listed = json.loads(invoke(project, "pipelines", "list", "--json"))
    assert [r["id"] for r in listed] == [again["id"], first["id"]]
    assert "succeeded" in invoke(project, "pipelines", "show", first["id"])
    failed = invoke(
        project,
        "pipelines",
        "run",
        "flows.py:training",
        "--param",
        "month=4",
        "--param",
        "lr=-1",
        code=1,
    )
    assert "lr must be positive" in failed


def test_bad_references_and_params_are_refused(project: Path) -> None:
    (project / "flows.py").write_text(FLOW)
    out = invoke(project, "pipelines", "run", "flows.py", code=2)
    assert "module:function" in out
    out = invoke(project, "pipelines", "run", "flows.py:monthly", code=1)
    assert "not a function decorated with @pipeline" in out
    out = invoke(project, "pipelines", "run", "flows.py:training", "--param", "month", code=2)
    assert "name=value" in out
    out = invoke(project, "pipelines", "run", "flows.py:training", code=2)
    assert "missing a required argument: 'month'" in out
    out = invoke(project, "pipelines", "show", "nope", code=1)
    assert "no pipeline run 'nope'" in out
