"""The ```python blocks of docs/serving.md run as written and print what the page says."""

from __future__ import annotations

from pathlib import Path

import pytest
from _edge import TestClient  # imported once, without starlette's httpx2 notice

from _doc_pages import DOCS, run_page, shown_outputs

__all__ = ["TestClient"]


def test_serving_md(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = DOCS / "serving.md"
    with run_page(path, tmp_path, monkeypatch) as page:
        outputs = shown_outputs(page.code)
        assert len(outputs) == 6, outputs
        for out in outputs:
            assert out in page.printed, f"serving.md shows {out!r}, the code printed otherwise"
        assert page.namespace["bad"].status_code == 422
