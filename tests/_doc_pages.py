"""Running the ```python blocks of a Markdown page as written, in order, in one namespace.

Import into a test module: ``from _doc_pages import DOCS, run_page, shown_outputs``.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
FENCE = re.compile(r"^```python\n(.*?)^```$", flags=re.MULTILINE | re.DOTALL)


@dataclass
class Page:
    """What running a page left: its namespace, what it printed, the code and block count."""

    namespace: dict[str, Any] = field(repr=False)
    printed: str
    code: str = field(repr=False)
    blocks: int


def python_code(text: str) -> tuple[str, int]:
    """The page's ```python blocks as one program, and how many blocks it has.

    Every line of code keeps its line number in the page (other lines are blank), so a
    traceback points into the page and ``inspect.getsource`` finds a function defined in
    it, as on-demand feature views need.
    """
    lines = [""] * (text.count("\n") + 1)
    blocks = 0
    for match in FENCE.finditer(text):
        first = text.count("\n", 0, match.start(1))
        for offset, line in enumerate(match.group(1).splitlines()):
            lines[first + offset] = line
        blocks += 1
    assert blocks == text.count("```python\n"), "a ```python block is not closed by a ``` line"
    return "\n".join(lines) + "\n", blocks


def shown_outputs(code: str) -> list[str]:
    """The outputs a page shows: ``print(...)  # out`` and ``# out`` lines after a print."""
    found, after_print = [], False
    for line in code.splitlines():
        text = line.strip()
        if after_print and text.startswith("# "):
            found.append(text[2:])
            continue
        after_print = text.startswith("print(")
        if after_print and "  # " in text:
            found.append(text.split("  # ", 1)[1])
    return [" ".join(out.split()) for out in found if "..." not in out]


@contextmanager
def run_page(path: Path, folder: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Page]:
    """Run the page in ``folder`` (empty) with no ``WEEKEND_*`` settings from the
    environment; the page's ``ws`` is closed afterwards."""
    monkeypatch.chdir(folder)
    for name in [n for n in os.environ if n.startswith("WEEKEND_")]:
        if name != "WEEKEND_REQUIRE_SERVICES":
            monkeypatch.delenv(name)
    code, blocks = python_code(path.read_text(encoding="utf-8"))
    namespace: dict[str, Any] = {"__name__": "docs_" + path.stem.lower()}
    out = io.StringIO()
    try:
        with redirect_stdout(out):
            exec(compile(code, str(path), "exec"), namespace)
        yield Page(namespace, " ".join(out.getvalue().split()), code, blocks)
    finally:
        ws = namespace.get("ws")
        if ws is not None:
            ws.close()
