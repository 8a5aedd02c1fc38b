"""Bad input at every way in for data: a message naming the file or field, nothing written.

One table of inputs weekend must refuse; each row runs through the SDK (``register``) and
the CLI (``weekend data register``), and the input-reading rows through model evaluation and
batch prediction too. Every row asserts the error class (or exit code), that the message
names the file or field, and that no dataset version, blob, evaluation, output file or
scratch folder was left behind.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sklearn.linear_model import LogisticRegression
from typer.testing import CliRunner

from weekend.artifacts import scratch_prefix
from weekend.cli import app
from weekend.core.errors import InvalidValueError, NotFoundError, UserInputError
from weekend.data import Query, read_frame, read_table
from weekend.workspace import Workspace

runner = CliRunner()
Make = Callable[[Path], Any]


@dataclass(frozen=True)
class Case:
    name: str
    make: Make  # builds the input in a folder and returns it
    error: type[Exception]
    match: str  # a regex the message must match: it names the file, line or field
    files: bool = True  # a path the CLI can take

    def __str__(self) -> str:
        return self.name


def _write(name: str, text: str) -> Make:
    def make(folder: Path) -> Path:
        path = folder / name
        path.write_text(text, encoding="utf-8")
        return path

    return make


def _bytes(name: str, data: bytes) -> Make:
    def make(folder: Path) -> Path:
        path = folder / name
        path.write_bytes(data)
        return path

    return make


def _far_down(name: str, bad: str) -> Make:
    """60,000 good rows and one bad one on line 50,002: beyond what a sniffer samples."""

    def make(folder: Path) -> Path:
        lines = ["a,b,c", *(f"{i},{i * 2}.5,x{i}" for i in range(60_000))]
        lines[50_001] = bad
        path = folder / name
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    return make


def _truncated_parquet(folder: Path) -> Path:
    path = folder / "cut.parquet"
    pq.write_table(pa.table({"a": list(range(100))}), path)
    path.write_bytes(path.read_bytes()[:-20])
    return path


def _folder_with_a_bad_part(folder: Path) -> Path:
    parts = folder / "parts"
    parts.mkdir()
    (parts / "a.csv").write_text("x,y\n1,2\n3,4\n", encoding="utf-8")
    (parts / "b.csv").write_text("x,y\n1,2\n3\n", encoding="utf-8")
    return parts


def _folder(name: str) -> Make:
    def make(folder: Path) -> Path:
        path = folder / name
        path.mkdir()
        (path / "notes.txt").write_text("not data", encoding="utf-8")
        return path

    return make


def _missing(folder: Path) -> Path:
    return folder / "nowhere.csv"


def _too_long(folder: Path) -> Path:
    return folder / ("x" * 296 + ".csv")


EXPECTED = r"expected a CSV or Parquet file, a folder of Parquet files or a dataset reference"
CASES = [
    Case(
        "ragged rows",
        _write("ragged.csv", "a,b,c\n1,2,3\n4,5\n6,7,8,9\n"),
        InvalidValueError,
        r"file '.*ragged\.csv': line 3: expected 3 fields as in the header, found 2",
    ),
    Case(
        "an open quote",
        _write("quote.csv", 'a,b,c\n1,"two,3\n4,5,6\n'),
        InvalidValueError,
        r"file '.*quote\.csv': line 2: a quote opened on this line is never closed",
    ),
    Case(
        "a ragged row far down",
        _far_down("far.csv", "50000,3"),
        InvalidValueError,
        r"file '.*far\.csv': line 50002: expected 3 fields as in the header, found 2",
    ),
    Case(
        "an open quote far down",
        _far_down("farquote.csv", '50000,"3,x'),
        InvalidValueError,
        r"file '.*farquote\.csv': line 50002: a quote opened on this line is never closed",
    ),
    Case(
        "text far down a number column",
        _far_down("fartext.csv", "50000,abc,x"),
        InvalidValueError,
        r"file '.*fartext\.csv': line 50002: column 'b' holds 'abc', but its earlier values "
        r"made it a float column",
    ),
    Case(
        "a bad part in a folder of CSV files",
        _folder_with_a_bad_part,
        InvalidValueError,
        r"folder '.*parts': file '.*b\.csv', line 3: expected 2 fields as in the header, found 1",
    ),
    Case(
        "a 0-byte CSV file",
        _bytes("empty.csv", b""),
        InvalidValueError,
        r"file '.*empty\.csv' is empty \(0 bytes\); expected a header line",
    ),
    Case(
        "a header-only CSV file",
        _write("header.csv", "a,b,c\n"),
        InvalidValueError,
        r"file '.*header\.csv' has a header line but no rows; pass allow_empty=True "
        r"\(--allow-empty\)",
    ),
    Case(
        "a 0-byte Parquet file",
        _bytes("empty.parquet", b""),
        InvalidValueError,
        r"file '.*empty\.parquet' is empty \(0 bytes\), not Parquet",
    ),
    Case(
        "CSV text named .parquet",
        _write("fake.parquet", "a,b\n1,2\n"),
        InvalidValueError,
        r"file '.*fake\.parquet' is not a Parquet file: it holds text starting 'a,b'",
    ),
    Case(
        "a truncated Parquet file",
        _truncated_parquet,
        InvalidValueError,
        r"file '.*cut\.parquet' is not a Parquet file: it holds a truncated or damaged",
    ),
    Case(
        "JSON",
        _write("rows.json", '[{"a": 1}, {"a": 2}]'),
        InvalidValueError,
        EXPECTED + r" such as 'flights/3'; got 'rows\.json' \(JSON\)",
    ),
    Case(
        "JSON lines named .csv",
        _write("lines.csv", '{"a": 1}\n{"a": 2}\n'),
        InvalidValueError,
        r"file '.*lines\.csv' is not a CSV file: it holds JSON",
    ),
    Case(
        "an Excel workbook",
        _bytes("book.xlsx", b"PK\x03\x04" + b"\x00" * 60),
        InvalidValueError,
        r"got 'book\.xlsx' \(an Excel workbook\)",
    ),
    Case(
        "a folder given for a file",
        _folder("data.csv"),
        InvalidValueError,
        r"folder '.*data\.csv' holds no \.parquet or \.csv files; " + EXPECTED,
    ),
    Case(
        "a missing file",
        _missing,
        InvalidValueError,
        r"'.*nowhere\.csv' does not exist \(looked for '.*nowhere\.csv'\); " + EXPECTED,
    ),
    Case(
        "a 300-character path",
        _too_long,
        InvalidValueError,
        r"the path '.*' is too long for the file system \(\d+ characters, the longest name "
        r"300 bytes",
    ),
    Case(
        "a dataset that does not exist",
        lambda folder: "nope/2",
        NotFoundError,
        r"'nope/2' is neither a path \(no file or folder .*\) nor a dataset \(dataset version "
        r"'nope/2' does not exist\)",
    ),
    Case(
        "a frame without columns",
        lambda folder: pd.DataFrame(),
        InvalidValueError,
        r"the pandas DataFrame has no columns",
        files=False,
    ),
    Case(
        "a frame without rows",
        lambda folder: pd.DataFrame({"a": pd.Series([], dtype="float64")}),
        InvalidValueError,
        r"the pandas DataFrame has no rows; pass allow_empty=True",
        files=False,
    ),
    Case(
        "a number",
        lambda folder: 42,
        InvalidValueError,
        EXPECTED + r".*a weekend Query, a pandas DataFrame or an Arrow table; got int",
        files=False,
    ),
    Case(
        "a NUL in the path",
        lambda folder: "rows\x00.csv",
        InvalidValueError,
        r"is not a file path \(empty, bytes or a NUL character\)",
        files=False,
    ),
    Case(
        "a query on a missing table",
        lambda folder: Query("SELECT * FROM no_such_table"),
        InvalidValueError,
        r"query\[duckdb\]: SELECT \* FROM no_such_table could not be read: Table with name "
        r"no_such_table does not exist",
        files=False,
    ),
    Case(
        "a query with a URL that is not one",
        lambda folder: Query("SELECT 1", url="nonsense:secret@x"),
        InvalidValueError,
        r"Query url '<not a URL: no ://>' is not a database URL; expected a SQLAlchemy URL",
        files=False,
    ),
    Case(
        "a query with an unknown dialect",
        lambda folder: Query("SELECT 1", url="nosuchdb://me:secret@host/db"),
        InvalidValueError,
        r"Query url 'nosuchdb://me:\*\*\*@host/db': no database dialect 'nosuchdb'",
        files=False,
    ),
]


def blobs(ws: Workspace) -> list[Path]:
    root = Path(ws.settings.artifact_root)
    return sorted(p for p in root.rglob("*") if p.is_file())


def leftovers() -> list[str]:
    """This process's scratch folders still in the temporary folder."""
    names = [scratch_prefix(p) for p in ("register", "validate", "input", "duckdb")]
    return sorted(
        p.name for p in Path(tempfile.gettempdir()).iterdir() if p.name.startswith(tuple(names))
    )


def nothing_stored(ws: Workspace) -> None:
    assert ws.datasets.list() == []
    assert blobs(ws) == []
    assert leftovers() == []


def flat(text: str) -> str:
    return " ".join(text.split())


# ---------------------------------------------------------------- the SDK


@pytest.mark.parametrize("case", CASES, ids=str)
def test_register_refuses_and_stores_nothing(ws: Workspace, tmp_path: Path, case: Case) -> None:
    source = case.make(tmp_path)
    with pytest.raises(case.error, match=r"^data: .*" + case.match) as caught:
        ws.datasets.register("junk", source)
    assert "secret" not in str(caught.value)
    assert "Traceback" not in str(caught.value)
    nothing_stored(ws)


@pytest.mark.parametrize("case", [c for c in CASES if c.files], ids=str)
def test_the_command_line_refuses_and_stores_nothing(
    ws: Workspace, tmp_path: Path, case: Case
) -> None:
    source = case.make(tmp_path)
    result = runner.invoke(app, ["data", "register", "junk", str(source), "-p", str(ws.root)])
    assert result.exit_code == (1 if case.error is NotFoundError else 2), result.output
    assert result.stdout == ""
    assert result.stderr.startswith("error: data: ")
    assert re.search(case.match, flat(result.stderr)), result.stderr
    assert "Traceback" not in result.output
    nothing_stored(ws)


def test_empty_data_is_stored_only_when_allowed(ws: Workspace, tmp_path: Path) -> None:
    header = tmp_path / "header.csv"
    header.write_text("a,b,c\n", encoding="utf-8")
    version = ws.datasets.register("empty", header, allow_empty=True)
    assert (version.num_rows, version.num_columns) == (0, 3)
    result = runner.invoke(
        app, ["data", "register", "empty2", str(header), "--allow-empty", "-p", str(ws.root)]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("empty2/1: 0 rows x 3 columns")


def test_a_query_url_never_shows_its_password() -> None:
    for url in (
        "postgresql://me:secret@",
        "postgresql+psycopg://me:secret@[::1:5432/db",  # unparseable for SQLAlchemy
        "nonsense:secret",
        "://:secret@",
        "postgresql://me:se:cr@et@host/db",
    ):
        described = Query("SELECT 1", url=url).describe()  # never raises
        assert "secret" not in described, described
        assert "se:cr@et" not in described, described
    with pytest.raises(InvalidValueError, match="Query url must be a database URL string"):
        Query("SELECT 1", url=5)  # type: ignore[arg-type]
    with pytest.raises(InvalidValueError, match="Query sql must be a non-empty string"):
        Query("  ")


def test_an_unreachable_database_is_named_without_its_password(ws: Workspace) -> None:
    url = "postgresql+psycopg://me:secret@127.0.0.1:9/db"  # port 9: nothing listens
    with pytest.raises(UserInputError, match=r"query\[postgresql\+psycopg://me:\*\*\*@") as caught:
        ws.datasets.register("junk", Query("SELECT 1", url=url))
    assert "secret" not in str(caught.value)
    nothing_stored(ws)


def test_load_names_a_missing_column(ws: Workspace) -> None:
    ws.datasets.register("flights", pd.DataFrame({"carrier": ["AA", "DL"], "delay": [1.0, 2.0]}))
    with pytest.raises(
        InvalidValueError,
        match=r"dataset flights/1 has no column 'nope' \(its columns: 'carrier', 'delay'\)",
    ) as caught:
        ws.datasets.load("flights/1", columns=["carrier", "nope"])
    assert caught.value.field == "nope"
    with pytest.raises(InvalidValueError, match=r"columns must be a list of column names"):
        ws.datasets.load("flights/1", columns="carrier")
    assert list(ws.datasets.load("flights/1", columns=["delay"]).columns) == ["delay"]


# ---------------------------------------------------------------- validation names cells


def test_validate_names_the_offending_cells_of_a_csv_file(ws: Workspace, tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        {
            "mean radius": rng.normal(14, 3, 283).round(2),
            "target": rng.integers(0, 2, 283),
            "seen": pd.date_range("2020-01-01", periods=283, freq="D").strftime("%Y-%m-%d"),
        }
    )
    frame.to_csv(tmp_path / "cancer.csv", index=False)
    ws.datasets.register("cancer", tmp_path / "cancer.csv")
    wrong = frame.astype({"mean radius": object})
    wrong.loc[17, "mean radius"] = "abc"
    wrong.loc[40, "seen"] = "yesterday"
    wrong.loc[41, "mean radius"] = 99.0  # parsed, so still checked against the range
    wrong.to_csv(tmp_path / "wrongtype.csv", index=False)

    report = ws.datasets.validate("cancer/1", tmp_path / "wrongtype.csv")
    radius = report.by_rule("dtype", "mean radius")[0]
    assert (radius.count, radius.cells) == (1, ((17, "abc"),))
    assert radius.message == (
        "column 'mean radius' must be float, got text that is not a number: 1 row, "
        "e.g. 'abc' (row 17)"
    )
    seen = report.by_rule("dtype", "seen")[0]
    assert (seen.count, seen.cells) == (1, ((40, "yesterday"),))
    assert report.by_rule("out_of_range", "mean radius")[0].cells == ((41, "99.0"),)  # as read

    result = runner.invoke(
        app, ["data", "validate", "cancer/1", str(tmp_path / "wrongtype.csv"), "-p", str(ws.root)]
    )
    assert result.exit_code == 1
    assert "'abc' (row 17)" in result.stdout
    assert "283 rows" not in result.stdout.split("\n", 1)[1]  # no rule blames every row


# ---------------------------------------------------------------- the registry's inputs


@pytest.fixture
def model_data(rng: np.random.Generator) -> pd.DataFrame:
    x = rng.normal(size=(200, 2))
    return pd.DataFrame({"x1": x[:, 0], "x2": x[:, 1], "y": (x[:, 0] + x[:, 1] > 0).astype(int)})


@pytest.fixture
def model(ws: Workspace, model_data: pd.DataFrame) -> str:
    features = model_data[["x1", "x2"]]
    fitted = LogisticRegression().fit(features, model_data["y"])
    ws.models.register(fitted, "m", input_example=features)
    ws.models.set_alias("m", 1, "champion")
    return "m/1"


@pytest.mark.parametrize(
    "case",
    [c for c in CASES if c.name not in ("a frame without rows", "a number")],
    ids=str,
)
def test_evaluate_refuses_and_stores_no_evaluation(
    ws: Workspace, tmp_path: Path, model: str, case: Case
) -> None:
    source = case.make(tmp_path)
    with pytest.raises(case.error, match=r"^evaluation data: .*" + case.match):
        ws.models.evaluate(model, data=source, label="y", gates=["auc >= 0.5"])
    assert ws.models.evaluations(model) == []
    assert leftovers() == []


def test_evaluate_refuses_an_empty_frame(ws: Workspace, model: str) -> None:
    empty = pd.DataFrame({"x1": [], "x2": [], "y": []})
    with pytest.raises(InvalidValueError, match="evaluation data: the pandas DataFrame has no"):
        ws.models.evaluate(model, data=empty, label="y")
    assert ws.models.evaluations(model) == []


def test_evaluate_reads_csv_parquet_and_datasets_alike(
    ws: Workspace, tmp_path: Path, model: str, model_data: pd.DataFrame
) -> None:
    model_data.to_csv(tmp_path / "holdout.csv", index=False)
    model_data.to_parquet(tmp_path / "holdout.parquet")
    ws.datasets.register("holdout", model_data)
    scores = [
        ws.models.evaluate(model, data=data, label="y").metrics["auc"]
        for data in (
            model_data,
            tmp_path / "holdout.csv",
            tmp_path / "holdout.parquet",
            "holdout/1",
        )
    ]
    assert len(set(scores)) == 1
    kinds = [e.data["kind"] for e in ws.models.evaluations(model)]
    assert sorted(kinds) == ["dataset", "file", "file", "frame"]


def test_the_evaluate_command_names_an_empty_file(
    ws: Workspace, tmp_path: Path, model: str
) -> None:
    (tmp_path / "empty.csv").write_bytes(b"")
    args = ["models", "evaluate", model, "--data", str(tmp_path / "empty.csv"), "--label", "y"]
    result = runner.invoke(app, [*args, "--gate", "auc >= 0.7", "-p", str(ws.root)])
    assert result.exit_code == 2, result.output
    assert "evaluation data: file" in result.stderr
    assert "is empty (0 bytes)" in flat(result.stderr)
    assert ws.models.evaluations(model) == []


PREDICT_REFUSED = [
    c
    for c in CASES
    if c.files and c.name not in ("a header-only CSV file",)  # empty input: empty output
]


@pytest.mark.parametrize("case", PREDICT_REFUSED, ids=str)
def test_predict_refuses_and_writes_no_output(
    ws: Workspace, tmp_path: Path, model: str, case: Case
) -> None:
    source = case.make(tmp_path)
    out = tmp_path / "out" / "pred.parquet"
    args = ["predict", "m@champion", "--input", str(source), "--output", str(out)]
    result = runner.invoke(app, [*args, "-p", str(ws.root)])
    assert result.exit_code == (1 if case.error is NotFoundError else 2), result.output
    assert result.stderr.startswith("error: input: ") or "error: input: " in result.stderr
    assert re.search(case.match, flat(result.stderr)), result.stderr
    assert "0/?" not in result.stderr  # no progress bar before the input is known good
    assert "Traceback" not in result.output
    assert not out.exists()
    assert leftovers() == []
    with pytest.raises(case.error, match=r"^input: .*" + case.match):
        ws.models.predict_batch("m@champion", source, out)
    assert not out.exists()


def test_predict_reads_csv_and_dataset_references(
    ws: Workspace, tmp_path: Path, model: str, model_data: pd.DataFrame
) -> None:
    model_data.to_parquet(tmp_path / "in.parquet", index=False)
    model_data.to_csv(tmp_path / "in.csv", index=False)
    ws.datasets.register("to-score", model_data)
    outputs = {}
    for name, source in (
        ("pq", tmp_path / "in.parquet"),
        ("csv", tmp_path / "in.csv"),
        ("ds", "to-score/1"),
    ):
        out = tmp_path / f"{name}.parquet"
        args = ["predict", "m@champion", "--input", str(source), "--output", str(out), "--json"]
        result = runner.invoke(app, [*args, "-p", str(ws.root)])
        assert result.exit_code == 0, result.output
        outputs[name] = pd.read_parquet(out)
    pd.testing.assert_frame_equal(outputs["pq"], outputs["csv"])
    pd.testing.assert_frame_equal(outputs["pq"], outputs["ds"])
    batch = ws.models.predict_batch("m@champion", "to-score/1", tmp_path / "sdk.parquet")
    assert (batch.input, batch.rows) == ("dataset to-score/1", 200)
    assert leftovers() == []


def test_predict_refuses_a_folder_as_output(ws: Workspace, tmp_path: Path, model: str) -> None:
    (tmp_path / "in.csv").write_text("x1,x2\n1,2\n", encoding="utf-8")
    args = ["predict", "m", "--input", str(tmp_path / "in.csv"), "--output", str(tmp_path)]
    result = runner.invoke(app, [*args, "-p", str(ws.root)])
    assert result.exit_code == 2
    assert "is a folder; name a Parquet file to write" in flat(result.stderr)


# ---------------------------------------------------------------- the public readers


def test_read_table_and_read_frame(tmp_path: Path) -> None:
    (tmp_path / "semi.csv").write_text("a;b\n1;x\n2;y\n", encoding="utf-8")
    table = read_table(tmp_path / "semi.csv")
    assert table.column_names == ["a", "b"]
    assert read_table(tmp_path / "semi.csv", columns=["b"]).column_names == ["b"]
    with pytest.raises(InvalidValueError, match=r"scores: file '.*semi\.csv' has no column 'c'"):
        read_table(tmp_path / "semi.csv", what="scores", columns=["c"])
    frame = pd.DataFrame({"a": [1, 2]})
    assert read_frame(frame) is frame  # a frame comes back as it is
    assert read_frame(frame.head(0), allow_empty=True).empty
