"""``weekend features apply | plan | list | show | materialize | skew``."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow as pa
import pytest
from feature_project import hours, open_ws, stats_frame
from typer.testing import CliRunner

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
    assert [(r["view"], r["rows"], r["written"]) for r in out] == [("driver_stats", 1, 1)]
    table = run(runner, files, "materialize", "driver_stats", "--end", end)
    assert "materialized" in table
    assert "nothing to do" in run(runner, files, "materialize", "-i", "--end", end)
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
