"""``weekend features apply | plan | list | show | materialize | skew``."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from feature_project import hours, open_ws, stats_frame
from weekend.cli import app

DEFINITIONS = textwrap.dedent(
    """
    import weekend as wk

    driver = wk.Entity("driver", ["driver_id"])
    stats = wk.FeatureView(
        "driver_stats", [driver], "stats.parquet", "event_ts",
        features={"trips": "int64", "rating": "float64"}, ttl="{ttl}",
    )
    model = wk.FeatureService("model", [stats])
    """
)


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def files(project: Path) -> Path:
    stats_frame().to_parquet(project / "stats.parquet")
    definitions = project / "features.py"
    definitions.write_text(DEFINITIONS.replace("{ttl}", "2h"))
    return project


def run(runner: CliRunner, project: Path, *args: str, code: int = 0) -> str:
    result = runner.invoke(app, ["features", *args, "--project", str(project)])
    assert result.exit_code == code, (result.output, result.exception)
    return result.output


def test_plan_apply_list_show(runner: CliRunner, files: Path) -> None:
    definitions = str(files / "features.py")
    planned = run(runner, files, "plan", definitions)
    assert "+ feature view 'driver_stats' v1" in planned
    assert "3 added, 0 changed, 0 removed, 0 unchanged" in planned
    assert json.loads(run(runner, files, "list", "--json")) == []
    applied = run(runner, files, "apply", definitions)
    assert "applied" in applied
    assert "+ feature service 'model' v1" in applied
    (files / "features.py").write_text(DEFINITIONS.replace("{ttl}", "3h"))
    changed = json.loads(run(runner, files, "apply", definitions, "--json"))
    assert [(c["name"], c["version"], c["new_version"]) for c in changed["changed"]] == [
        ("driver_stats", 1, 2)
    ]
    listed = json.loads(run(runner, files, "list", "--json", "--kind", "view"))
    assert [(r["name"], r["version"]) for r in listed] == [("driver_stats", 2)]
    shown = run(runner, files, "show", "driver_stats")
    assert "feature_view driver_stats v2" in shown
    assert "3h" in shown
    assert "trips: int64" in shown
    old = json.loads(run(runner, files, "show", "driver_stats", "--version", "1", "--json"))
    assert old["definition"]["ttl_us"] == 2 * 3600 * 1_000_000
    assert old["versions"] == [1, 2]
    dry = run(runner, files, "apply", definitions, "--dry-run", "--prune")
    assert "plan (nothing written)" in dry


def test_materialize_and_skew(runner: CliRunner, files: Path) -> None:
    run(runner, files, "apply", str(files / "features.py"))
    end = hours(6).isoformat()
    out = json.loads(run(runner, files, "materialize", "--end", end, "--json"))
    assert [(r["view"], r["rows"], r["written"], r["note"]) for r in out] == [
        ("driver_stats", 1, 1, "")
    ]
    # by default, only what is not materialized yet: here nothing
    assert "nothing to do" in run(runner, files, "materialize", "driver_stats", "--end", end)
    assert "nothing to do" in run(runner, files, "materialize", "-i", "--end", end)
    table = run(runner, files, "materialize", "driver_stats", "--full", "--end", end)
    assert "materialized" in table
    assert "driver_stats" in table
    assert "nothing to do" not in table
    clean = run(runner, files, "skew", "driver_stats", "--sample", "10")
    assert "no skew: 0 of 3 entities" in clean
    with open_ws(files) as ws:
        stamp = pa.array([hours(5).value], pa.int64()).cast(pa.timestamp("ns", "UTC"))
        wrong = pa.table({"driver_id": [1], "ts": stamp, "trips": [7], "rating": [4.8]})
        ws.features.online_store.delete_view("driver_stats")
        ws.features.online_store.write(
            "driver_stats",
            ["driver_id"],
            wrong,
            timestamp_field="ts",
            created_timestamp_field="ts",
            features=["trips", "rating"],
        )
    skewed = run(runner, files, "skew", "driver_stats", code=1)
    assert "skew: 1 of 3 entities" in skewed
    assert "value of trips" in skewed
    report = json.loads(run(runner, files, "skew", "driver_stats", "--json", code=1))
    assert report["examples"][0] == {
        "key": {"driver_id": 1},
        "kind": "value",
        "feature": "trips",
        "offline": 3,
        "online": 7,
    }


def test_errors_are_messages_and_exit_codes(runner: CliRunner, files: Path) -> None:
    (files / "broken.py").write_text("raise ValueError('nope')\n")
    result = runner.invoke(app, ["features", "apply", str(files / "broken.py"), "-p", str(files)])
    assert result.exit_code == 1  # a UserCodeError
    assert "failed: ValueError: nope" in result.stderr
    result = runner.invoke(app, ["features", "materialize", "-i", "--start", "2024-01-01"])
    assert result.exit_code == 2  # a UserInputError
    assert "error: --incremental starts at the watermark" in result.stderr


def test_the_command_prints_a_clear_error(files: Path) -> None:
    code = "from weekend.cli import main; main()"
    out = subprocess.run(
        [sys.executable, "-c", code, "features", "show", "nope", "-p", str(files)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 1
    assert "error:" in out.stderr
    assert "'nope' does not exist" in out.stderr
    assert "Traceback" not in out.stderr


def test_materialize_defaults_to_what_is_not_loaded_yet(runner: CliRunner, files: Path) -> None:
    run(runner, files, "apply", str(files / "features.py"))
    first = json.loads(run(runner, files, "materialize", "--end", hours(1).isoformat(), "--json"))
    # never loaded: from end - ttl (ttl 2h, the window is inclusive of it)
    assert [(r["start"][:19], r["rows"]) for r in first] == [("2023-12-31T22:59:59", 3)]
    later = json.loads(run(runner, files, "materialize", "--end", hours(6).isoformat(), "--json"))
    # from the first run's end (its watermark): drivers 1 (h1, h5) and 2 (h2) changed since
    assert [(r["start"], r["rows"], r["written"]) for r in later] == [(hours(1).isoformat(), 2, 2)]
    with open_ws(files) as ws:
        rows = ws.features.online(
            [{"driver_id": 1}, {"driver_id": 2}], ["driver_stats:trips"], now=hours(5.5)
        ).rows
    assert rows == [{"trips": 3}, {"trips": None}]  # driver 2's h2 value expired (ttl 2h)


@pytest.mark.parametrize(
    ("args", "why"),
    [
        # the source ends at h5; a ttl of 2h at the end h30 keeps nothing
        (["--end", hours(30).isoformat()], "older than the view's ttl (2h) allows at the end"),
        (["--end", hours(-5).isoformat()], "the first event is at 2024-01-01 00:00:00"),
        (
            ["--start", hours(6).isoformat(), "--end", hours(7).isoformat()],
            "the newest event (2024-01-01 05:00:00) is before the start",
        ),
    ],
)
def test_an_empty_window_is_explained(
    runner: CliRunner, files: Path, args: list[str], why: str
) -> None:
    run(runner, files, "apply", str(files / "features.py"))
    out = run(runner, files, "materialize", *args)
    assert "driver_stats: no event in [" in out
    assert why in " ".join(out.split())
    window = dict(zip(args[::2], args[1::2], strict=True))
    with open_ws(files) as ws:  # the SDK says the same in the result's note
        (result,) = ws.features.materialize(start=window.get("--start"), end=window["--end"])
    assert (result.rows, result.written) == (0, 0)
    assert why in result.note


def test_nothing_new_since_the_last_run_is_explained(runner: CliRunner, files: Path) -> None:
    run(runner, files, "apply", str(files / "features.py"))
    run(runner, files, "materialize", "--end", hours(6).isoformat())
    (again,) = json.loads(
        run(runner, files, "materialize", "--end", hours(7).isoformat(), "--json")
    )
    assert (again["start"], again["rows"]) == (hours(6).isoformat(), 0)
    assert (
        "nothing new since the last run (the newest event is 2024-01-01 05:00:00)"
        in (again["note"])
    )


def test_materialize_window_options_conflict(runner: CliRunner, files: Path) -> None:
    for args, message in [
        (["--full", "--start", "2024-01-01"], "--full loads from the beginning"),
        (["-i", "--full"], "do not pass --full"),
    ]:
        result = runner.invoke(app, ["features", "materialize", *args, "-p", str(files)])
        assert result.exit_code == 2, result.output
        assert message in result.stderr


def test_training_set(runner: CliRunner, files: Path) -> None:
    run(runner, files, "apply", str(files / "features.py"))
    entities = pd.DataFrame(
        {"driver_id": [1, 2, 3], "event_timestamp": [hours(1.5), hours(2.5), hours(3)]}
    )
    entities.to_csv(files / "labels.csv", index=False)
    out = run(
        runner, files, "training-set", str(files / "labels.csv"), "driver_stats:trips",
        "driver_stats:rating", "--output", str(files / "train.parquet"),
    )  # fmt: skip
    assert "training set: 3 rows x 4 columns (views driver_stats v1); wrote" in out
    train = pd.read_parquet(files / "train.parquet")
    with open_ws(files) as ws:
        expected = ws.features.training_set(entities, ["driver_stats:trips", "driver_stats:rating"])
    pd.testing.assert_frame_equal(train, expected, check_dtype=False)  # CSV: ms timestamps
    assert train["trips"].tolist()[:2] == [2, 20]  # driver 3's h0 value expired at h3 (ttl 2h)
    assert train["trips"].isna().tolist() == [False, False, True]
    assert train["rating"].tolist()[:2] == [4.5, 3.5]
    # a feature service by name, registered as a dataset, from a dataset of entity rows
    summary = json.loads(
        run(
            runner, files, "training-set", str(files / "labels.csv"), "model",
            "--register-as", "train", "--full-feature-names", "--json",
        )
    )  # fmt: skip
    assert summary["dataset"] == "train/1"
    assert summary["columns"] == [
        "driver_id", "event_timestamp", "driver_stats__trips", "driver_stats__rating"
    ]  # fmt: skip
    with open_ws(files) as ws:
        ws.datasets.register("labels", entities)
    run(runner, files, "training-set", "labels/1", "driver_stats:*", "-o", str(files / "t.csv"))
    assert pd.read_csv(files / "t.csv").columns.tolist() == [
        "driver_id", "event_timestamp", "trips", "rating"
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["labels.csv", "driver_stats:trips"], "give --output FILE"),
        (["labels.csv", "driver_stats:trips", "-o", "x.json"], "must end in .parquet or .csv"),
        (["labels.csv", "driver_stats:trips", "-o", "no/such/x.csv"], "its folder must exist"),
        (["missing.csv", "driver_stats:trips", "-o", "x.csv"],
         "entity rows: 'DIR/missing.csv' does not exist"),
        (["empty.csv", "driver_stats:trips", "-o", "x.csv"],
         "entity rows: file 'DIR/empty.csv' is empty (0 bytes)"),
        (["text.parquet", "driver_stats:trips", "-o", "x.csv"],
         "entity rows: file 'DIR/text.parquet' is not a Parquet file"),
        (["labels.json", "driver_stats:trips", "-o", "x.csv"],
         "expected a CSV or Parquet file, a folder of Parquet files or a dataset reference such "
         "as 'flights/3'; got 'labels.json' (JSON)"),
        (["labels.csv", "driver_stats:nope", "-o", "x.csv"], "unknown feature 'driver_stats:no"),
        (["labels.csv", "driver_stats:trips", "-o", "x.csv", "--timestamp-column", "ts"],
         "entity frame has no timestamp column 'ts'"),
        (["nolabels/3", "driver_stats:trips", "-o", "x.csv"],
         "dataset version 'nolabels/3' does not exist"),
        (["labels.csv", "driver_stats:trips", "driver_stats:trips", "-o", "x.csv"],
         "more than once"),
    ],
)  # fmt: skip
def test_training_set_bad_input(
    runner: CliRunner, files: Path, args: list[str], message: str
) -> None:
    run(runner, files, "apply", str(files / "features.py"))
    pd.DataFrame({"driver_id": [1], "event_timestamp": [hours(1)]}).to_csv(
        files / "labels.csv", index=False
    )
    (files / "empty.csv").write_bytes(b"")
    (files / "text.parquet").write_text("driver_id,event_timestamp\n1,2024-01-01\n")
    (files / "labels.json").write_text('[{"driver_id": 1}]')
    before = sorted(p.name for p in files.iterdir())
    args = [str(files / a) if a.endswith((".csv", ".json", ".parquet")) else a for a in args]
    result = runner.invoke(app, ["features", "training-set", *args, "-p", str(files)])
    assert result.exit_code in (1, 2), result.output
    assert message.replace("DIR", str(files)) in " ".join(result.stderr.split())
    assert sorted(p.name for p in files.iterdir()) == before  # nothing written
