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


CLI_ONLY = {("runs", "compare"), ("features", "get")}


def _verb_rows() -> list[tuple[str, list[str], str, list[str]]]:
    text = (ROOT / "docs" / "design.md").read_text(encoding="utf-8")
    table = text.split("<!-- verbs:", 1)[1].split("\n\n", 1)[0]
    rows = []
    for line in table.splitlines()[3:]:
        service, sdk, cli = (cell.strip() for cell in line.strip("|").split(" | "))
        group, _, verbs = cli.partition(":")
        rows.append((service, re.findall(r"`(\w+)`", sdk), group, re.findall(r"`([\w-]+)`", verbs)))
    return rows


def test_the_documented_verbs_exist_in_the_sdk_and_the_cli(tmp_path: Path) -> None:
    import typer

    import weekend as wk
    from weekend.cli import app

    rows = _verb_rows()
    assert {row[0] for row in rows} == {"runs", "experiments", "datasets", "models", "features"}
    groups = typer.main.get_command(app).commands  # type: ignore[attr-defined]
    with wk.init(tmp_path / "p") as ws:
        for service, sdk, group, cli in rows:
            obj = getattr(ws, service)
            missing = [verb for verb in sdk if not callable(getattr(obj, verb, None))]
            assert not missing, f"ws.{service} lacks {missing}"
            visible = {name for name, cmd in groups[group].commands.items() if not cmd.hidden}
            assert set(cli) == visible, f"weekend {group}: documented {cli}, found {visible}"
            twins = {verb.replace("-", "_") for verb in cli} - {
                v for g, v in CLI_ONLY if g == group
            }
            assert twins <= set(sdk), (
                f"weekend {group} verbs without an SDK twin: {twins - set(sdk)}"
            )
