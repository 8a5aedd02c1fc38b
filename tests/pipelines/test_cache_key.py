"""The cache key changes exactly when what a step computes from changes.

Must change: the step's source, a project-local helper it calls (directly or through another
helper), a module constant it reads, a parameter, an input's content, the installed packages.
Must not change: moving the file or renaming its module, comments, blank lines and layout,
decorator options, re-running, another process.
"""

from __future__ import annotations

import importlib.util
import itertools
import subprocess
import sys
import textwrap
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from weekend.pipelines import Step
from weekend.pipelines._cachekey import cache_key, environment_hash, key_parts
from weekend.workspace import Workspace

_counter = itertools.count()

BASE = """
import weekend as wk

FACTOR = 3

def double(x):
    return x * 2

def helper(x):
    return double(x) + 1

@wk.step(cache=True)
def source(n: int) -> dict:
    return {"values": list(range(n))}

@wk.step(cache=True)
def compute(data: dict, scale: float) -> dict:
    # a comment
    return {"total": helper(sum(data["values"])) * scale * FACTOR}

@wk.pipeline
def flow(n: int, scale: float = 1.0):
    return compute(source(n), scale)
"""


def load(folder: Path, text: str, module: str | None = None) -> ModuleType:
    """Write ``text`` as a new module file under ``folder`` and import it."""
    name = module or f"wk_flow_{next(_counter)}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.py"
    path.write_text(textwrap.dedent(text))
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    found = importlib.util.module_from_spec(spec)
    sys.modules[name] = found
    spec.loader.exec_module(found)
    return found


def key_of(step: Step[Any, Any], params: dict[str, Any], inputs: dict[str, str]) -> str:
    return cache_key(key_parts(step.fn, params, inputs, step.name))


def compute_key(module: ModuleType, scale: float = 1.0, data: str = "a" * 64) -> str:
    return key_of(module.compute, {"scale": scale}, {"data": data})


@pytest.fixture
def base(tmp_path: Path) -> ModuleType:
    return load(tmp_path / "v0", BASE)


def test_the_same_code_twice_gives_the_same_key(base: ModuleType, tmp_path: Path) -> None:
    assert compute_key(base) == compute_key(base)
    assert compute_key(load(tmp_path / "again", BASE)) == compute_key(base)


def test_moving_the_file_or_renaming_the_module_keeps_the_key(
    base: ModuleType, tmp_path: Path
) -> None:
    moved = load(tmp_path / "elsewhere" / "deeper", BASE, module="renamed_module")
    assert compute_key(moved) == compute_key(base)


def test_comments_layout_and_decorator_options_do_not_count(
    base: ModuleType, tmp_path: Path
) -> None:
    text = BASE.replace("    # a comment\n", "\n\n    # another comment, and blank lines\n")
    text = text.replace('return {"total": helper(', 'return {\n        "total": helper(')
    text = text.replace(
        "@wk.step(cache=True)\ndef compute", "@wk.step(cache=True, retries=3)\ndef compute"
    )
    assert text != BASE
    assert compute_key(load(tmp_path / "v1", text)) == compute_key(base)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("* scale * FACTOR}", "* scale * FACTOR + 0}"),  # the step's source
        ("return double(x) + 1", "return double(x) + 2"),  # a helper it calls
        ("return x * 2", "return x * 3"),  # a helper's helper
        ("FACTOR = 3", "FACTOR = 4"),  # a constant it reads
    ],
    ids=["source", "helper", "helper-of-helper", "constant"],
)
def test_an_edit_to_what_the_step_runs_changes_the_key(
    base: ModuleType, tmp_path: Path, old: str, new: str
) -> None:
    assert old in BASE
    assert compute_key(load(tmp_path / "edited", BASE.replace(old, new))) != compute_key(base)


def test_an_edit_to_code_the_step_does_not_reach_keeps_the_key(
    base: ModuleType, tmp_path: Path
) -> None:
    edited = load(tmp_path / "v2", BASE + "\ndef unrelated():\n    return 1\n")
    assert compute_key(edited) == compute_key(base)


def test_parameters_and_input_content_change_the_key(base: ModuleType) -> None:
    assert compute_key(base, scale=2.0) != compute_key(base)
    assert compute_key(base, data="b" * 64) != compute_key(base)


def test_library_code_is_covered_by_the_environment_not_walked(base: ModuleType) -> None:
    parts = key_parts(base.compute.fn, {"scale": 1.0}, {}, "compute")
    assert set(parts["helpers"]) == {"double", "helper", "compute:FACTOR"}


def test_installing_a_package_changes_the_key(
    base: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = compute_key(base)
    site = tmp_path / "site"
    info = site / "wk_cache_probe-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: wk-cache-probe\nVersion: 1.0\n")
    monkeypatch.syspath_prepend(str(site))
    environment_hash.cache_clear()
    try:
        assert compute_key(base) != before
    finally:
        monkeypatch.undo()
        environment_hash.cache_clear()
    assert compute_key(base) == before


def test_another_process_computes_the_same_key(base: ModuleType) -> None:
    path = Path(base.__file__ or "")
    code = textwrap.dedent(
        f"""
        import importlib.util, sys
        from weekend.pipelines._cachekey import cache_key, key_parts
        spec = importlib.util.spec_from_file_location("other_name", {str(path)!r})
        module = importlib.util.module_from_spec(spec)
        sys.modules["other_name"] = module
        spec.loader.exec_module(module)
        parts = key_parts(module.compute.fn, {{"scale": 1.0}}, {{"data": "a" * 64}}, "compute")
        print(cache_key(parts))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == compute_key(base)


def test_explain_names_the_part_that_changed(ws: Workspace, tmp_path: Path) -> None:
    first = ws.pipelines.run(load(tmp_path / "a", BASE).flow, n=3)
    assert first.status == "succeeded", first.error
    assert "first run" in str(ws.pipelines.explain(first.id, "compute"))
    again = ws.pipelines.run(load(tmp_path / "b", BASE).flow, n=3)
    assert again.steps["compute"].cached
    assert ws.pipelines.explain(again.id, "compute").hit
    edited = load(tmp_path / "c", BASE.replace("return x * 2", "return x * 5"))
    changed = ws.pipelines.run(edited.flow, n=3, scale=2.0)
    assert changed.steps["source"].cached
    assert not changed.steps["compute"].cached
    why = ws.pipelines.explain(changed.id, "compute")
    assert why.compared_with == again.id
    assert why.reasons == ["helpers: 'double' changed", "params: 'scale' changed"]
    assert ws.pipelines.output(changed.id, "compute") == {"total": (3 * 5 + 1) * 2.0 * 3}
    fed = ws.pipelines.run(edited.flow, n=4, scale=2.0)
    assert ws.pipelines.explain(fed.id, "compute").reasons == ["inputs: 'data' changed"]
