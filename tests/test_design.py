"""docs/design.md and the code agree: the layer table is the import contract, and it bites."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).parent / "lint-imports"


def _contract_layers() -> list[set[str]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    (layers,) = [c for c in config["tool"]["importlinter"]["contracts"] if c["type"] == "layers"]
    return [
        {part.strip().strip("()").removeprefix("weekend.") for part in layer.split("|")}
        for layer in layers["layers"]
    ]


def _documented_layers() -> list[set[str]]:
    text = (ROOT / "docs" / "design.md").read_text(encoding="utf-8")
    table = text.split("<!-- layers:", 1)[1].split("\n\n", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| ") and "(under" not in line]
    cells = [row.split(" | ") for row in rows if "`" in row]
    return [set(re.findall(r"`(\w+)`", row[1])) for row in cells]


def test_the_documented_layers_are_the_contract() -> None:
    assert _documented_layers() == _contract_layers()


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT), "--config", str(root / "pyproject.toml"), "--no-cache"],
        cwd=root,
        env={"PYTHONPATH": str(root / "src"), "PATH": str(Path(sys.executable).parent)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the package and its contracts, to break on purpose."""
    root = tmp_path_factory.mktemp("contract")
    shutil.copytree(
        ROOT / "src" / "weekend",
        root / "src" / "weekend",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    return root


def test_the_tree_keeps_its_contracts(tree: Path) -> None:
    done = _lint(tree)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "broken" not in done.stdout.split("Contracts:")[-1].split("\n")[0].replace(
        "0 broken", ""
    )


@pytest.mark.parametrize(
    ("module", "code", "expected"),
    [
        (
            "core/_upward.py",
            "import weekend.registry\n",
            "weekend.core is not allowed to import weekend.registry",
        ),
        (
            "data/_upward.py",
            "from weekend.tracking import Runs\n",
            "weekend.data is not allowed to import weekend.tracking",
        ),
        (
            "features/_sideways.py",
            "import weekend.registry.models\n",
            "weekend.features is not allowed to import weekend.registry",
        ),
        (
            "registry/_peek.py",
            "from weekend.data._ingest import Query\n",
            "weekend.registry._peek -> weekend.data._ingest",
        ),
    ],
)
def test_a_bad_import_breaks_the_check(tree: Path, module: str, code: str, expected: str) -> None:
    bad = tree / "src" / "weekend" / module
    bad.write_text(code, encoding="utf-8")
    try:
        done = _lint(tree)
    finally:
        bad.unlink()
    assert done.returncode == 1, done.stdout[-3000:]
    assert expected in done.stdout, done.stdout[-3000:]
