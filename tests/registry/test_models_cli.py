"""``weekend models ...`` and ``weekend predict``: tables for people, JSON for scripts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from _registry_data import classifier, features, flights
from typer.testing import CliRunner, Result

from conftest import open_ws
from weekend.cli import app

runner = CliRunner()


@pytest.fixture
def project(project: Path, tmp_path: Path, rng: np.random.Generator) -> Path:
    """The conftest's project with two versions of 'delay' (v1 is the champion), and a
    holdout file beside it."""
    root = project
    train, holdout = flights(rng, 300), flights(rng, 300)
    with open_ws(root) as ws:
        dataset = ws.datasets.register("flights", train)
        with ws.runs.start("delays", params={"C": 1.0}) as run:
            run.log_model(
                classifier(train), "delay", input_example=features(train), datasets=dataset
            )
        ws.models.register(classifier(train, c=0.1), "delay", input_example=features(train))
        ws.models.set_alias("delay", 1, "champion", reason="first")
    holdout.to_parquet(tmp_path / "holdout.parquet")
    return root


def _run(project: Path, *args: str) -> Result:
    result = runner.invoke(app, [*args, "--project", str(project)])
    return result


def _json(project: Path, *args: str) -> Any:
    result = runner.invoke(app, [*args, "--project", str(project), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_list_versions_and_show(project: Path) -> None:
    [model] = _json(project, "models", "list")
    assert (model["name"], model["num_versions"], model["aliases"]) == ("delay", 2, {"champion": 1})
    versions = _json(project, "models", "versions", "delay")
    assert [v["ref"] for v in versions] == ["delay/1", "delay/2"]
    shown = _json(project, "models", "get", "delay@champion")
    assert shown["ref"] == "delay/1"
    assert shown["task"] == "classifier"
    assert shown["latest_evaluation"] is None
    table = _run(project, "models", "get", "delay/2")
    assert table.exit_code == 0
    for text in ("delay/2", "signature", "dep_hour", "scikit-learn", "output: label"):
        assert text in table.stdout


def test_alias_verbs_are_the_sdk_verbs(project: Path) -> None:
    event = _json(project, "models", "set-alias", "delay", "2", "challenger", "--reason", "try")
    assert (event["from_version"], event["to_version"]) == (None, 2)
    assert _json(project, "models", "aliases", "delay") == {"champion": 1, "challenger": 2}
    same = _run(project, "models", "set-alias", "delay", "2", "challenger")
    assert "nothing to do" in same.stdout
    deleted = _run(project, "models", "delete-alias", "delay", "challenger")
    assert "deleted" in deleted.stdout
    history = _json(project, "models", "alias-history", "delay")
    assert [(e["alias"], e["action"]) for e in history] == [
        ("champion", "set"),
        ("challenger", "set"),
        ("challenger", "delete"),
    ]
    assert len(_json(project, "models", "alias-history", "delay", "champion")) == 1
    table = _run(project, "models", "alias-history", "delay")
    assert "first" in table.stdout
    old_order = _run(project, "models", "set-alias", "delay", "champion", "2")
    assert old_order.exit_code == 2
    assert "Invalid value for 'version'" in old_order.output
    missing = _run(project, "models", "set-alias", "delay", "2")
    assert missing.exit_code == 2
    assert "Missing argument 'ALIAS'" in missing.output


def test_every_models_command_is_named_after_its_sdk_verb() -> None:
    import typer.main

    from weekend.registry import Models

    group: Any = typer.main.get_command(app)
    commands = group.commands["models"].commands
    visible = {name for name, command in commands.items() if not command.hidden}
    hidden = {name for name, command in commands.items() if command.hidden}
    assert hidden == {"show", "copy"}  # the old names still work
    for name in visible:
        assert callable(getattr(Models, name.replace("-", "_"), None)), name


def test_evaluate_promote_rollback(project: Path, tmp_path: Path) -> None:
    holdout = str(tmp_path / "holdout.parquet")
    common = ["--data", holdout, "--label", "delayed", "--baseline", "champion"]
    failed = _run(project, "models", "evaluate", "delay/2", *common, "--gate", "auc >= 0.99")
    assert failed.exit_code == 3
    assert "NOT BLESSED" in failed.stdout
    assert "FAIL  auc >= 0.99" in failed.stdout
    refused = _run(project, "models", "promote", "delay", "2")
    assert refused.exit_code == 1
    assert "error: cannot promote delay/2" in refused.stderr
    gates = ["--gate", "auc >= 0.5", "--gate", "slice: accuracy >= 0", "--slice", "origin"]
    blessed = _json(project, "models", "evaluate", "delay/2", *common, *gates)
    assert blessed["blessed"]
    assert len(blessed["slices"]) == 3
    event = _json(project, "models", "promote", "delay", "2", "--reason", "better")
    assert event["evidence"]["evaluation_id"] == blessed["id"]
    back = _json(project, "models", "rollback", "delay", "--reason", "oops")
    assert (back["from_version"], back["to_version"]) == (2, 1)
    forced = _run(project, "models", "promote", "delay", "1", "-a", "canary", "--force", "-r", "x")
    assert "(forced)" in forced.stdout


def test_lineage_tree_and_json(project: Path) -> None:
    chain = _json(project, "models", "lineage", "delay/1")
    assert chain["run"]["experiment"] == "delays"
    assert chain["datasets"][0]["ref"] == "flights/1"
    tree = _run(project, "models", "lineage", "delay@champion")
    for text in ("delay/1", "experiment delays", "param C = 1.0", "training: flights/1"):
        assert text in tree.stdout
    bare = _run(project, "models", "lineage", "delay/2")
    assert "run: none recorded" in bare.stdout


def test_copy_registers_the_same_files_under_another_model(project: Path) -> None:
    copied = _json(project, "models", "copy-version", "delay@champion", "delay-prod")
    assert copied["ref"] == "delay-prod/1"
    tree = _run(project, "models", "lineage", "delay-prod/1")
    assert "copied from delay/1" in tree.output
    missing = _run(project, "models", "copy", "delay/9", "delay-prod")
    assert "has no version 9" in missing.stderr


def test_predict_command(project: Path, tmp_path: Path) -> None:
    target = tmp_path / "scored.parquet"
    args = ["predict", "delay@champion", "-i", str(tmp_path / "holdout.parquet"), "-o", str(target)]
    result = _json(project, *args, "--chunk-rows", "100", "--keep", "carrier")
    assert (result["rows"], result["chunks"], result["model"]) == (300, 3, "delay/1")
    out = pd.read_parquet(target)
    assert list(out.columns) == ["carrier", "prediction", "proba_0", "proba_1", "model_version"]
    again = _run(project, *args)
    assert again.exit_code == 1
    assert "error:" in again.stderr
    text = _run(project, *args, "--overwrite", "--no-proba")
    assert "wrote 300 predictions of delay/1" in text.stdout


def test_errors_are_messages_with_exit_codes(project: Path) -> None:
    code = "from weekend.cli import main; main()"
    bad = subprocess.run(
        [sys.executable, "-c", code, "models", "get", "a/b/c", "-p", str(project)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2
    assert "error:" in bad.stderr
    assert "more than one '/'" in bad.stderr
    assert "Traceback" not in bad.stderr
    refused = subprocess.run(
        [sys.executable, "-c", code, "models", "promote", "delay", "2", "-p", str(project)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert refused.returncode == 1
    assert "delay/2 has no evaluation" in refused.stderr
