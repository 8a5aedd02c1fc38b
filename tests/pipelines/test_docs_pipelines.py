"""docs/pipelines.md runs as written and prints what it shows."""

from __future__ import annotations

from pathlib import Path

import pytest

from _doc_pages import DOCS, run_page, shown_outputs


def test_pipelines_md(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = DOCS / "pipelines.md"
    with run_page(path, tmp_path, monkeypatch) as page:
        shown = shown_outputs(page.code)
        assert len(shown) == 4
        position = 0
        for out in shown:  # each shown output printed, in order
            position = page.printed.index(out, position) + len(out)
        ws, again = page.namespace["ws"], page.namespace["again"]
        assert "summarising 4 rows" in (ws.pipelines.get(again.id).steps["summarise"].logs or "")
