"""The README's self-contained snippets run as written."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def test_the_tour_starts_and_tracks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("WEEKEND_") and "REQUIRE" not in n]:
        monkeypatch.delenv(name)
    blocks = _python_blocks()
    namespace: dict[str, object] = {}
    exec(blocks[0] + blocks[1], namespace)  # init, then the tracking tour
    best = namespace["best"]
    assert isinstance(best, list)
    assert best[0].metrics["auc"] == 0.91
    assert best[0].params == {"model": "gbm", "lr": "0.1"}
    namespace["ws"].close()  # type: ignore[attr-defined]
