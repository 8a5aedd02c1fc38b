"""The ```python blocks of docs/tracking.md, registry.md and features.md run as written.

Each page runs in order, in an empty folder, and prints what it says it prints
(``print(...)  # output``); docs/datasets.md is run by tests/data/test_data_cli.py.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from _doc_pages import DOCS, Page, run_page, shown_outputs


def check_outputs(page: Page, path: Path, at_least: int) -> None:
    outputs, printed = shown_outputs(page.code), page.printed
    assert len(outputs) >= at_least, outputs
    for out in outputs:
        assert out in printed, f"{path.name} shows {out!r}, the code printed something else"


def test_tracking_md(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import matplotlib.pyplot as plt

    path = DOCS / "tracking.md"
    try:
        with run_page(path, tmp_path, monkeypatch) as page:
            check_outputs(page, path, at_least=4)
            ws, run = page.namespace["ws"], page.namespace["run"]
            assert ws.root == tmp_path.resolve() / "demo"
            record = ws.runs.get(run.id)
            assert record.status == "finished"
            assert record.metrics == {"acc": 0.88, "auc": 0.91, "loss": 0.2, "val": 0.4}
            assert {a["name"] for a in record.artifacts} == {
                "config.json",
                "data/eval.parquet",
                "notes.txt",
                "out/weights.txt",
                "plots/roc.png",
            }
            [child] = ws.runs.search(f"attributes.parent_id = '{run.id}'")
            assert (child.name, child.metrics) == ("fold-1", {"auc": 0.9})
    finally:
        plt.close("all")


def test_registry_md(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = DOCS / "registry.md"
    with run_page(path, tmp_path, monkeypatch) as page:
        check_outputs(page, path, at_least=6)
        ws = page.namespace["ws"]
        assert [v.version for v in ws.models.versions("flight-delay")] == [1, 2, 3]
        moves = ws.models.alias_history("flight-delay", "champion")
        assert [(m.action, m.from_version, m.to_version) for m in moves] == [
            ("set", None, 1),
            ("promote", 1, 2),
            ("promote", 2, 3),
            ("rollback", 3, 2),
        ]
        assert page.namespace["evaluation"].blessed
        scored = pd.read_parquet(tmp_path / "out.parquet")
        assert len(scored) == 1000
        assert set(scored["model_version"]) == {"flight-delay/2"}
        assert scored["prediction"].isin([0, 1]).all()


def test_features_md(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = DOCS / "features.md"
    with run_page(path, tmp_path, monkeypatch) as page:
        check_outputs(page, path, at_least=12)
        ws = page.namespace["ws"]
        assert ws.root == tmp_path.resolve()
        train = page.namespace["train"]
        assert list(train.columns) == [
            "driver_id",
            "event_timestamp",
            "fare",
            "trips",
            "rating",
            "expected_tip",
        ]
        assert ws.datasets.get("orders_train").num_rows == 3
        report = page.namespace["report"]
        assert (report.sampled, report.mismatched) == (2, 0)
        assert len(list((tmp_path / ".weekend" / "features" / "push").rglob("*.parquet"))) == 1
