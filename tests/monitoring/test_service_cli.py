"""weekend monitor: the served-traffic report, data, list, show, alerts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
from _traffic import FEATURES, serve
from typer.testing import CliRunner

from conftest import open_ws
from weekend.cli import app

runner = CliRunner()


def test_monitor_commands(project: Path, tmp_path: Path) -> None:
    with open_ws(project) as ws:
        traffic = serve(ws, np.random.default_rng(9), rows=300, shifts=(0.0, 900.0))
    reference = tmp_path / "train.parquet"
    traffic.train[FEATURES].to_parquet(reference)
    current = tmp_path / "current.parquet"
    traffic.days[1][FEATURES].to_parquet(current)
    p = ["-p", str(project)]

    args = ["monitor", "flight-delay@champion", "--window", "1d", "--from", "2013-06-01"]
    done = runner.invoke(app, [*args, "--to", "2013-06-03", "--reference", str(reference), *p])
    assert done.exit_code == 0, done.output
    assert "flight-delay/1" in done.stdout
    assert "distance" in done.stdout
    assert "weekend monitor show" in done.stdout

    as_json = runner.invoke(app, [*args, "--reference", str(reference), "--json", *p])
    assert as_json.exit_code == 0, as_json.output
    body = orjson.loads(as_json.stdout)
    assert [w["rows"] for w in body["windows"]] == [300, 300]
    assert body["drifted"] == ["distance"]

    listed = runner.invoke(app, ["monitor", "list", "--json", *p])
    reports = orjson.loads(listed.stdout)
    assert len(reports) == 2
    page = tmp_path / "report.html"
    shown = runner.invoke(app, ["monitor", "show", reports[0]["id"][:10], "--html", str(page), *p])
    assert shown.exit_code == 0, shown.output
    assert page.read_text().startswith("<!DOCTYPE html>")

    data = runner.invoke(app, ["monitor", "data", str(reference), str(current), *p])
    assert data.exit_code == 1  # a column drifts
    assert "distance" in data.stdout
    alerts = runner.invoke(app, ["monitor", "alerts", "--json", *p])
    assert alerts.exit_code == 0
    assert orjson.loads(alerts.stdout) == []  # no policy configured


def test_monitor_errors_are_messages(project: Path) -> None:
    p = ["-p", str(project)]
    bad = runner.invoke(app, ["monitor", "flight-delay@champion", "--window", "daily", *p])
    assert bad.exit_code != 0
    assert "error:" in bad.output
    assert "Traceback" not in bad.output
    status = runner.invoke(app, ["monitor", "alerts", "--status", "closed", *p])
    assert status.exit_code == 2
    assert "status must be 'open' or 'cleared'" in status.output
