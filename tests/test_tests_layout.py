"""The test tree's own rules: pytest (rootdir-relative imports, no ``__init__.py``) and mypy
(``tests/mypy.ini``: every folder is a base) both name a module by its file name alone."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def test_every_module_name_under_tests_is_unique() -> None:
    seen: defaultdict[str, list[str]] = defaultdict(list)
    for path in sorted(TESTS.rglob("*.py")):
        if "__pycache__" not in path.parts:
            seen[path.stem].append(str(path.relative_to(TESTS)))
    clashes = {name: paths for name, paths in seen.items() if len(paths) > 1}
    assert clashes == {}, f"rename one of each pair (e.g. test_<area>_cli.py): {clashes}"


def test_every_folder_of_tests_is_a_mypy_base() -> None:
    config = (TESTS / "mypy.ini").read_text(encoding="utf-8")
    [line] = [x for x in config.splitlines() if x.startswith("mypy_path")]
    bases = set(line.split("=", 1)[1].strip().split(":"))
    folders = {
        str(p.relative_to(TESTS.parent))
        for p in TESTS.iterdir()
        if p.is_dir() and any(p.glob("*.py"))
    }
    assert folders - bases == set(), "add these folders to mypy_path in tests/mypy.ini"
