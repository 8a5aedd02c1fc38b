"""``weekend data register|list|show|validate|profile|diff``: tables for people, JSON too."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner, Result

from _doc_pages import shown_outputs
from weekend.cli import app

runner = CliRunner()
MAIN = "from weekend.cli import main; main()"
DOCS = Path(__file__).parents[2] / "docs" / "datasets.md"


def flights(rng: np.random.Generator, n: int = 120) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "flight": np.arange(n),
            "carrier": rng.choice(["AA", "B6", "DL"], n),
            "dep_delay": rng.normal(5.0, 20.0, n).round(1),
            "distance": rng.integers(100, 3000, n),
        }
    )


@pytest.fixture
def files(tmp_path: Path, rng: np.random.Generator) -> dict[str, Path]:
    """jan.csv, feb.csv (other rows), bad.csv (a new carrier) and folder/ of Parquet parts."""
    jan, feb = flights(rng), flights(rng)
    bad = jan.copy()
    bad.loc[[2, 4], "carrier"] = "ZZ"
    paths = {name: tmp_path / f"{name}.csv" for name in ("jan", "feb", "bad")}
    for name, frame in (("jan", jan), ("feb", feb), ("bad", bad)):
        frame.to_csv(paths[name], index=False)
    folder = tmp_path / "folder"
    folder.mkdir()
    jan.iloc[:60].to_parquet(folder / "a.parquet", index=False)
    jan.iloc[60:].to_parquet(folder / "b.parquet", index=False)
    paths["folder"] = folder
    return paths


def cli(project: Path, *args: str) -> Result:
    return runner.invoke(app, ["data", *args, "--project", str(project)])


def cli_json(project: Path, *args: str) -> Any:
    result = cli(project, *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_register_list_show(project: Path, files: dict[str, Path]) -> None:
    first = cli(project, "register", "flights", str(files["jan"]), "--key", "flight")
    assert first.exit_code == 0, first.output
    assert first.stdout.startswith("flights/1: 120 rows x 4 columns, sha256 ")
    again = cli_json(project, "register", "flights", str(files["jan"]))
    assert (again["ref"], again["num_rows"]) == ("flights/1", 120)  # identical data
    second = cli_json(project, "register", "flights", str(files["feb"]), "-d", "February")
    assert (second["ref"], second["description"]) == ("flights/2", "February")
    folder = cli_json(project, "register", "parts", str(files["folder"]), "-k", "carrier,flight")
    assert folder["schema"]["keys"] == [
        {"columns": ["carrier", "flight"], "unique": True, "duplicate_rows": 0}
    ]

    listed = cli_json(project, "list")
    assert [(d["name"], d["versions"], d["latest"]) for d in listed] == [
        ("flights", 2, 2),
        ("parts", 1, 1),
    ]
    table = cli(project, "list")
    assert table.exit_code == 0
    assert "flights" in table.stdout
    assert "parts" in table.stdout

    shown = cli_json(project, "show", "flights/1")
    assert shown["ref"] == "flights/1"
    assert shown["content_hash"] == again["content_hash"]
    assert shown["source"] == f"path: {files['jan'].resolve()}"
    columns = {c["name"]: c for c in shown["schema"]["columns"]}
    assert columns["carrier"]["categories"] == ["AA", "B6", "DL"]
    assert columns["flight"]["type"] == "int"
    assert shown["schema"]["keys"][0] == {
        "columns": ["flight"],
        "unique": True,
        "duplicate_rows": 0,
    }
    assert cli_json(project, "show", "flights")["ref"] == "flights/2"
    text = cli(project, "show", "flights/1")
    assert text.exit_code == 0
    for part in ("flights/1", "120 rows", "schema", "carrier", "category", "key (flight): unique"):
        assert part in text.stdout


def test_profile_and_diff(project: Path, files: dict[str, Path], tmp_path: Path) -> None:
    cli(project, "register", "flights", str(files["jan"]))
    jan = pd.read_csv(files["jan"])
    shifted = jan.drop(columns="distance").assign(dep_delay=jan["dep_delay"] + 50.0)
    shifted.loc[0, "carrier"] = "WN"
    shifted.to_csv(tmp_path / "shifted.csv", index=False)
    cli(project, "register", "flights", str(tmp_path / "shifted.csv"))

    prof = cli_json(project, "profile", "flights/1")
    assert prof["n_rows"] == 120
    delay = next(c for c in prof["columns"] if c["name"] == "dep_delay")
    assert delay["numeric"]["mean"] == pytest.approx(jan["dep_delay"].mean())
    assert delay["missing_share"] == 0.0
    carrier = next(c for c in prof["columns"] if c["name"] == "carrier")
    assert dict(carrier["categorical"]["top"]) == jan["carrier"].value_counts().to_dict()
    table = cli(project, "profile", "flights/1")
    assert table.exit_code == 0
    assert "profile of flights/1 (120 rows)" in table.stdout

    changes = cli_json(project, "diff", "flights/1", "flights/2")
    assert (changes["a"], changes["b"]) == ("flights/1", "flights/2")
    schema = {(c["kind"], c["column"]) for c in changes["schema_changes"]}
    assert {("column_removed", "distance"), ("categories_added", "carrier")} <= schema
    profile = {(c["kind"], c["column"]) for c in changes["profile_changes"]}
    assert ("mean_shifted", "dep_delay") in profile
    text = cli(project, "diff", "flights/1", "flights/2")
    assert text.exit_code == 0
    assert "schema changes flights/1 -> flights/2" in text.stdout
    assert "column_removed" in text.stdout


def test_validate_exit_codes(project: Path, files: dict[str, Path], tmp_path: Path) -> None:
    cli(project, "register", "flights", str(files["jan"]), "--key", "flight")
    ok = cli(project, "validate", "flights/1", str(files["jan"]))
    assert ok.exit_code == 0, ok.output
    assert ok.stdout.startswith("OK: 120 rows, 0 errors, 0 warnings")

    failed = cli(project, "validate", "flights", str(files["bad"]))
    assert failed.exit_code == 1
    assert failed.stdout.startswith("FAILED: 120 rows, 1 error, 0 warnings")
    assert "new_category" in failed.stdout
    assert "'ZZ' (row 2), 'ZZ' (row 4)" in failed.stdout
    report = json.loads(cli(project, "validate", "flights", str(files["bad"]), "--json").stdout)
    [violation] = report["violations"]
    assert (report["ok"], violation["rule"], violation["column"], violation["count"]) == (
        False,
        "new_category",
        "carrier",
        2,
    )
    assert violation["examples"] == ["ZZ"]

    expectations = tmp_path / "expect.json"
    expectations.write_text(
        json.dumps(
            [
                {"rule": "in_range", "column": "distance", "min": 100, "max": 1000},
                {"rule": "row_count", "min": 1, "severity": "warning"},
                {"rule": "unique", "columns": ["flight"]},
            ]
        )
    )
    declared = cli(project, "validate", "flights/1", str(files["jan"]), "-x", str(expectations))
    assert declared.exit_code == 1
    assert "in_range" in declared.stdout
    assert "must be within [100, 1000]" in declared.stdout
    warnings_only = tmp_path / "warn.json"
    warnings_only.write_text(
        json.dumps([{"rule": "in_range", "column": "distance", "max": 1000, "severity": "warning"}])
    )
    warned = cli(project, "validate", "flights/1", str(files["jan"]), "-x", str(warnings_only))
    assert warned.exit_code == 0
    assert "1 warning" in warned.stdout


def test_register_refused_by_validation(project: Path, files: dict[str, Path]) -> None:
    cli(project, "register", "flights", str(files["jan"]))
    refused = cli(
        project, "register", "flights", str(files["bad"]), "--validate-against", "flights/1"
    )
    assert refused.exit_code != 0
    assert [d["versions"] for d in cli_json(project, "list")] == [1]


def test_values_that_look_like_markup_are_printed_as_text(project: Path, tmp_path: Path) -> None:
    old, new = tmp_path / "old.csv", tmp_path / "new.csv"
    pd.DataFrame({"[b]": ["a", "[/x]"] * 5}).to_csv(old, index=False)
    pd.DataFrame({"[b]": ["a", "[/y]"] * 5}).to_csv(new, index=False)
    assert cli(project, "register", "tags", str(old)).exit_code == 0
    assert cli(project, "register", "tags", str(new)).exit_code == 0
    for args, code in (
        (("show", "tags/1"), 0),
        (("profile", "tags/1"), 0),
        (("diff", "tags/1", "tags/2"), 0),
        (("validate", "tags/1", str(new)), 1),
    ):
        result = cli(project, *args)
        assert result.exit_code == code, result.output
        assert "[b]" in result.stdout
        assert "[/x]" in result.stdout or "[/y]" in result.stdout, result.stdout


def main(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``weekend ...`` through its real entry point, in a child process."""
    return subprocess.run(
        [sys.executable, "-c", MAIN, *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
    )


def assert_error(
    done: subprocess.CompletedProcess[str], code: int, text: str, *, one_line: bool = True
) -> None:
    assert done.returncode == code, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""
    assert done.stderr.startswith("error: ")
    assert text in " ".join(done.stderr.split()), done.stderr
    if one_line:  # long ones wrap: see test_a_long_error_stays_on_one_line
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_errors_are_one_line_messages_with_exit_codes(
    project: Path, files: dict[str, Path], tmp_path: Path
) -> None:
    run = tmp_path  # relative paths keep the messages short
    cli(project, "register", "flights", str(files["jan"]))
    p = ["-p", "project"]
    assert_error(
        main(run, "data", "register", "x", "nowhere.csv", *p),
        2,
        "data: 'nowhere.csv' does not exist (looked for",
    )
    assert_error(
        main(run, "data", "show", "x/0", *p),
        2,
        "'x/0': the version after '/' must be a positive integer",
    )
    (tmp_path / "broken.json").write_text("[{")
    assert_error(
        main(run, "data", "validate", "flights", "jan.csv", "-x", "broken.json", *p),
        2,
        "--expectations broken.json: not a JSON file (unexpected end of data",
        one_line=False,
    )
    assert_error(main(run, "data", "show", "nope", *p), 1, "dataset 'nope' does not exist")
    assert_error(main(run, "data", "diff", "flights/1", "flights/3", *p), 1, "'flights/3' does")


def test_a_long_error_stays_on_one_line(
    project: Path, files: dict[str, Path], tmp_path: Path
) -> None:
    cli(project, "register", "flights", str(files["jan"]))
    p = ["-p", "project"]
    refused = main(
        tmp_path, "data", "register", "flights", "bad.csv", "--validate-against", "flights", *p
    )
    assert refused.returncode == 2  # holds today; the one-line check below does not
    assert "1 validation error in 120 rows" in refused.stderr
    assert_error(main(tmp_path, "data", "show", "../../etc/passwd", *p), 2, "'..' is not allowed")
    assert_error(refused, 2, "1 validation error in 120 rows")


def fenced(text: str, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)


def test_the_examples_of_the_docs_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every ```python block of docs/datasets.md in order, then its ```console commands."""
    text = DOCS.read_text(encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    code = "\n".join(fenced(text, "python"))
    exec(compile(code, str(DOCS), "exec"), {"__name__": "docs_datasets"})
    printed = " ".join(capsys.readouterr().out.split())
    outputs = shown_outputs(code)
    assert len(outputs) > 20
    for out in outputs:
        assert out in printed, f"docs/datasets.md shows {out!r}, the code printed something else"
    [console] = fenced(text, "console")
    commands: list[tuple[list[str], list[str]]] = []
    for line in console.splitlines():
        if line.startswith("$ "):
            commands.append((shlex.split(line[2:]), []))
        else:
            commands[-1][1].append(line)
    assert len(commands) >= 8
    for args, shown in commands:
        assert args[:2] == ["weekend", "data"]
        result = runner.invoke(app, args[1:])
        allowed = (0, 1) if args[2] == "validate" else (0,)
        assert result.exit_code in allowed, (args, result.output)
        for line in shown:  # the output the page shows (hashes vary with the writer)
            assert line.split(" sha256 ")[0] in result.stdout, (args, result.stdout)
