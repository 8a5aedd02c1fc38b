"""``weekend init | runs | experiments`` end to end through the real command."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import weekend as wk
from weekend.cli import app

runner = CliRunner()


@pytest.fixture
def logged(project: Path) -> tuple[Path, list[str]]:
    ws = wk.open(project)
    ids = []
    try:
        for i, (model, auc) in enumerate([("gbm", 0.91), ("gbm", 0.85), ("logistic", 0.7)]):
            with ws.runs.start("churn", name=f"r{i}", params={"model": model}) as run:
                run.log_metric("auc", auc)
                run.log_metric("loss", 1.0 - auc, step=3)
            ids.append(run.id)
        with pytest.raises(RuntimeError), ws.runs.start("churn", name="broken") as run:
            raise RuntimeError("out of memory")
        ids.append(run.id)
    finally:
        ws.close()
    return project, ids


def invoke(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_init_creates_a_project(tmp_path: Path) -> None:
    invoke("init", str(tmp_path / "new"))
    assert (tmp_path / "new" / "weekend.toml").is_file()
    assert (tmp_path / "new" / ".weekend" / "catalog.db").is_file()


def test_list_search_show_compare(logged: tuple[Path, list[str]]) -> None:
    project, ids = logged
    p = ["-p", str(project)]
    listed = json.loads(invoke("runs", "list", *p, "--json"))
    assert {r["id"] for r in listed} == set(ids)
    found = json.loads(
        invoke(
            "runs", "search", "metrics.auc > 0.8 and params.model = 'gbm'",
            "-o", "metrics.auc desc", *p, "--json",
        )
    )  # fmt: skip
    assert [r["id"] for r in found] == ids[:2]
    assert "r0" in invoke("runs", "search", "params.model = 'gbm'", *p)
    shown = json.loads(invoke("runs", "show", ids[0], *p, "--json"))
    assert shown["params"] == {"model": "gbm"}
    assert shown["histories"]["loss"][0][0] == 3
    failed = json.loads(invoke("runs", "show", ids[3][:8], *p, "--json"))  # a unique prefix
    assert failed["status"] == "failed"
    assert failed["error"] == "RuntimeError: out of memory"
    table = invoke("runs", "show", ids[0], *p)
    assert "auc" in table
    assert "0.91" in table
    compared = json.loads(invoke("runs", "compare", ids[0], ids[2], *p, "--json"))
    assert compared["rows"]["param model"] == ["gbm", "logistic"]
    experiments = json.loads(invoke("experiments", "list", *p, "--json"))
    assert [(e["name"], e["runs"]) for e in experiments] == [("churn", 4)]


def test_delete_and_gc(logged: tuple[Path, list[str]]) -> None:
    project, ids = logged
    p = ["-p", str(project)]
    invoke("runs", "delete", ids[2], *p)
    assert ids[2] not in {r["id"] for r in json.loads(invoke("runs", "list", *p, "--json"))}
    gc = json.loads(invoke("runs", "gc", "--purge-deleted", *p, "--json"))
    assert gc == {"killed": [], "purged": [ids[2]]}


def _main(*args: str) -> subprocess.CompletedProcess[str]:
    code = "import sys; from weekend.cli import main; sys.argv = ['weekend', *sys.argv[1:]]; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=False
    )


def test_bad_input_is_a_message_and_an_exit_code(logged: tuple[Path, list[str]]) -> None:
    project, _ = logged
    p = ["-p", str(project)]
    bad_filter = _main("runs", "search", "metrics.auc >", *p)
    assert bad_filter.returncode == 2
    assert "missing value after '>' at position 13" in bad_filter.stderr
    assert "Traceback" not in bad_filter.stderr
    missing = _main("runs", "show", "0" * 32, *p)
    assert missing.returncode == 1
    assert "does not exist" in missing.stderr
    short = _main("runs", "show", "ab", *p)
    assert short.returncode == 2
    assert "at least 6 hex characters" in short.stderr


@pytest.fixture
def many_metrics(project: Path) -> tuple[Path, list[str]]:
    ws = wk.open(project)
    ids = []
    metrics = {"accuracy": 0.87, "auc": 0.91, "f1": 0.5, "log loss": 0.3, "precision": 0.6}
    metrics |= {"recall": 0.4, "validation_accuracy": 0.85}
    try:
        for i in range(2):
            with ws.runs.start("churn-prediction-experiment", name=f"gradient-boosting-{i}") as run:
                run.log_metrics({k: v + i / 100 for k, v in metrics.items()})
            ids.append(run.id)
    finally:
        ws.close()
    return project, ids[::-1]  # newest first


def test_piped_runs_are_plain_tab_separated_columns(many_metrics: tuple[Path, list[str]]) -> None:
    project, ids = many_metrics
    result = runner.invoke(app, ["runs", "list", "-p", str(project)])
    assert result.exit_code == 0, result.output
    header, *rows = result.stdout.splitlines()
    # at most 5 metric columns, the first by name; the rest are named on stderr
    assert header.split("\t") == [
        "run", "experiment", "name", "status", "started",
        "accuracy", "auc", "f1", "log loss", "precision",
    ]  # fmt: skip
    assert [row.split("\t")[0] for row in rows] == ids  # full ids, never cut or wrapped
    assert rows[0].split("\t")[1:4] == [
        "churn-prediction-experiment", "gradient-boosting-1", "finished"
    ]  # fmt: skip
    assert rows[0].split("\t")[5:7] == ["0.88", "0.92"]
    assert "2 more metric(s) not shown (recall, validation_accuracy)" in result.stderr
    assert "--metrics a,b" in result.stderr


def test_metrics_chooses_the_columns(many_metrics: tuple[Path, list[str]]) -> None:
    project, _ = many_metrics
    result = runner.invoke(
        app, ["runs", "search", "metrics.auc > 0.9", "--metrics", "validation_accuracy, auc",
              "-p", str(project)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split("\t")[5:] == ["validation_accuracy", "auc"]
    assert [line.split("\t")[5:] for line in lines[1:]] == [["0.86", "0.92"], ["0.85", "0.91"]]
    assert "5 more metric(s) not shown" in result.stderr


def test_a_terminal_of_80_columns_never_wraps_ids_or_headers(
    many_metrics: tuple[Path, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    from rich.console import Console

    import weekend.cli.runs as runs_cli

    project, ids = many_metrics
    screen = io.StringIO()
    terminal = Console(file=screen, force_terminal=True, width=80, color_system=None)
    monkeypatch.setattr(runs_cli, "console", terminal)
    result = runner.invoke(app, ["runs", "list", "-p", str(project)])
    assert result.exit_code == 0, result.output
    lines = screen.getvalue().splitlines()
    assert all(len(line) <= 80 for line in lines), lines
    assert lines[0].strip() == "runs"
    header, *rows = lines[1:]
    assert header.split()[:1] == ["run"]
    assert "status" in header.split()
    assert "started" in header.split()
    assert [row.split()[0] for row in rows] == [i[:12] for i in ids]  # one line per run
    assert "auc" in header.split()  # as many metrics as fit, whole
    assert "not shown" in result.stderr
