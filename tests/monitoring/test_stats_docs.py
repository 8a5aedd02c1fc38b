"""The ```python blocks of docs/monitoring.md's Statistics and Estimation sections run as
written and print what they say they print."""

from __future__ import annotations

import io
from contextlib import redirect_stdout
from typing import Any

from _doc_pages import DOCS, python_code, shown_outputs


def _sections(text: str, first: str, stop: str) -> str:
    start = text.index(f"\n## {first}\n")
    return text[start : text.index(f"\n## {stop}", start)]


def test_statistics_and_estimation_examples_run_as_written() -> None:
    page = (DOCS / "monitoring.md").read_text(encoding="utf-8")
    code, blocks = python_code(_sections(page, "Statistics", "Served traffic"))
    assert blocks == 2
    out = io.StringIO()
    namespace: dict[str, Any] = {"__name__": "docs_monitoring_statistics"}
    with redirect_stdout(out):
        exec(compile(code, "docs/monitoring.md (Statistics, Estimation)", "exec"), namespace)
    printed = " ".join(out.getvalue().split())
    outputs = shown_outputs(code)
    assert len(outputs) == 5, outputs
    for shown in outputs:
        assert shown in printed, f"the page shows {shown!r}; the code printed {printed!r}"
