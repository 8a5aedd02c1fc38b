"""The README's tour runs as written: every ```python block, in order, in an empty folder."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from _doc_pages import ROOT, run_page

README = ROOT / "README.md"


def test_the_tour_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with run_page(README, tmp_path, monkeypatch) as page:
        assert page.blocks == 6
        tour = page.namespace
        ws = tour["ws"]
        assert ws.root == tmp_path.resolve()
        # tracking
        best = tour["best"]
        assert [b.metrics["auc"] for b in best] == [0.91]
        assert best[0].params == {"model": "gbm", "lr": "0.1"}
        assert best[0].tags["team"] == "growth"
        # datasets: the missing amounts are an error; the clean rows became orders/2
        assert not tour["report"].ok
        assert "not_null" in page.printed
        assert (tour["v1"].num_rows, tour["v2"].ref, tour["v2"].num_rows) == (1000, "orders/2", 990)
        # features: the online value is the latest one, as in the last training row
        train = tour["train"]
        assert len(train) == 3
        assert train["spend_30d"].notna().all()
        assert tour["online"].rows == [{"spend_30d": train["spend_30d"].iloc[2]}]
        # models: the candidate beat the first champion and scored the batch
        assert tour["evaluation"].blessed
        assert ws.models.aliases("churn") == {"champion": 2}
        scored = pd.read_parquet(tmp_path / "out.parquet")
        assert len(scored) == 500
        assert set(scored["model_version"]) == {"churn/2"}
