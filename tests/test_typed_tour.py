"""A user's ``mypy --strict`` on the README's tour: it type-checks, no ``Any`` leaks from weekend.

The README's Python blocks become one script; ``reveal_type`` lines ask mypy what each object
the tour handles is; none may be ``Any`` (an untyped service would make every call on it
unchecked, in the user's IDE and in their CI).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from _doc_pages import ROOT, python_code

# The objects a user meets in the tour, by the expression that names them.
REVEALED = [
    "ws",
    "ws.runs",
    "ws.experiments",
    "ws.datasets",
    "ws.models",
    "ws.features",
    "run",
    "best",
    "best[0]",
    "v1",
    "report",
    "v2",
    "ws.datasets.diff('orders/1', 'orders/2')",
    "train",
    "online",
    "version",
    "evaluation",
    "model",
    "ws.models.get('churn@champion')",
    "ws.runs.get(run.id)",
    "ws.experiments.list()",
]

CONFIG = """\
[mypy]
strict = True
python_version = 3.11
[mypy-sklearn.*,skops.*,pyarrow.*,duckdb.*,fsspec.*,pandera.*,filelock.*,scipy.*]
ignore_missing_imports = True
"""


@pytest.mark.slow
def test_the_readme_tour_type_checks_strictly_with_no_any_from_weekend(tmp_path: Path) -> None:
    code, _ = python_code((ROOT / "README.md").read_text(encoding="utf-8"))
    code += "".join(f"reveal_type({expr})\n" for expr in REVEALED)
    script = tmp_path / "tour.py"
    script.write_text(code, encoding="utf-8")
    config = tmp_path / "mypy.ini"
    config.write_text(CONFIG, encoding="utf-8")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            str(config),
            "--no-incremental",
            "--cache-dir",
            str(tmp_path / "cache"),
            str(script),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={"MYPYPATH": str(ROOT / "src"), "PATH": str(Path(sys.executable).parent)},
    )
    lines = done.stdout.splitlines()
    errors = [line for line in lines if ": error:" in line]
    assert not errors, "\n".join(errors)
    revealed = [line for line in lines if "Revealed type is" in line]
    assert len(revealed) == len(REVEALED), done.stdout
    untyped = [
        f"{expr}: {line.split('Revealed type is ', 1)[1]}"
        for expr, line in zip(REVEALED, revealed, strict=True)
        if re.search(r"\bAny\b", line)
    ]
    assert not untyped, "Any leaks from weekend:\n" + "\n".join(untyped)
