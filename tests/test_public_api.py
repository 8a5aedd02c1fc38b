"""The public surface: ``weekend.__all__`` is sorted and complete; ``import weekend`` is light."""

from __future__ import annotations
import __future__

import functools
import json
import re
import subprocess
import sys
import types

import pytest

import weekend

# Optional or heavy dependencies that ``import weekend`` must not pull in.
HEAVY = (
    "alembic",
    "duckdb",
    "lightgbm",
    "onnxruntime",
    "pandas",
    "psycopg",
    "ray",
    "redis",
    "sklearn",
    "xgboost",
)


def _is_public(name: str, value: object) -> bool:
    """A name the package itself offers (not a submodule, not an import helper)."""
    if name.startswith("_"):
        return name == "__version__"
    if isinstance(value, types.ModuleType | type(__future__.annotations)):
        return False
    if name == "TYPE_CHECKING":
        return False
    return getattr(value, "__module__", None) not in ("typing", "typing_extensions")


def test_all_is_sorted_and_unique() -> None:
    assert weekend.__all__ == sorted(weekend.__all__)
    assert len(weekend.__all__) == len(set(weekend.__all__))


def test_all_lists_every_public_attribute() -> None:
    public = {name for name, value in vars(weekend).items() if _is_public(name, value)}
    missing = public - set(weekend.__all__)
    assert not missing, f"public attributes missing from weekend.__all__: {sorted(missing)}"


def test_every_listed_name_is_importable() -> None:
    for name in weekend.__all__:
        assert getattr(weekend, name) is not None, name
    namespace: dict[str, object] = {}
    exec("from weekend import *", namespace)
    assert set(weekend.__all__) <= set(namespace)
    assert namespace["Workspace"] is weekend.Workspace


def test_errors_are_exported_from_one_tree() -> None:
    from weekend.core import errors

    for name in errors.__all__:
        assert getattr(weekend, name) is getattr(errors, name)
        assert name in weekend.__all__
        assert issubclass(getattr(weekend, name), weekend.WeekendError)


def test_unknown_attributes_raise_attribute_error() -> None:
    with pytest.raises(AttributeError, match="module 'weekend' has no attribute 'no_such_thing'"):
        weekend.no_such_thing  # noqa: B018


def test_import_weekend_loads_no_heavy_dependency() -> None:
    code = "import json, sys\nimport weekend\nprint(json.dumps(sorted(sys.modules)))\n"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    loaded = {name.split(".")[0] for name in json.loads(out.stdout)}
    assert "weekend" in loaded
    assert sorted(loaded & set(HEAVY)) == []


# -- every type a user receives is importable from a public module --------------------------

PUBLIC_PACKAGES = (
    "weekend",
    "weekend.artifacts",
    "weekend.catalog",
    "weekend.data",
    "weekend.features",
    "weekend.features.online",
    "weekend.monitoring",
    "weekend.pipelines",
    "weekend.predictions",
    "weekend.registry",
    "weekend.tracking",
)
SERVICES = ("Runs", "Experiments", "Datasets", "Models", "FeatureStore", "Workspace")


def _weekend_classes() -> dict[str, type]:
    """Every public class defined in weekend's modules, by name (imports every module)."""
    import importlib
    import inspect
    import pkgutil

    found: dict[str, type] = {}
    for info in pkgutil.walk_packages(weekend.__path__, "weekend."):
        if ".migrations" in info.name:
            continue
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if inspect.isclass(value) and value.__module__ == info.name and name[0] != "_":
                found.setdefault(name, value)
    return found


def _annotation_names(cls: type) -> set[str]:
    """Names in the annotations of ``cls``'s public methods, properties and fields."""
    import inspect

    fields = getattr(cls, "__annotations__", {}).items()
    texts: list[str] = [str(v) for k, v in fields if not k.startswith("_")]
    for name, member in vars(cls).items():
        if name.startswith("_"):
            continue
        function = member.fget if isinstance(member, property) else member
        function = getattr(function, "func", function)  # cached_property
        if callable(function):
            texts += [str(v) for v in getattr(function, "__annotations__", {}).values()]
        elif isinstance(member, functools.cached_property):
            texts += [str(v) for v in member.func.__annotations__.values()]
    del inspect
    return {word for text in texts for word in re.findall(r"\b[A-Z]\w+", text)}


def test_every_type_a_service_hands_out_is_exported() -> None:
    import importlib

    classes = _weekend_classes()
    exported = {
        name
        for package in PUBLIC_PACKAGES
        for name in getattr(importlib.import_module(package), "__all__", [])
    }
    seen: set[str] = set()
    todo = list(SERVICES)
    while todo:
        name = todo.pop()
        if name in seen or name not in classes:
            continue
        seen.add(name)
        todo += sorted(_annotation_names(classes[name]) - seen)
    reachable = {name for name in seen if classes[name].__module__.startswith("weekend.")}
    missing = sorted(reachable - exported)
    assert not missing, f"types users receive but cannot import from a public module: {missing}"
    assert {"RunRecord", "DatasetVersion", "ModelVersion", "Evaluation"} <= reachable
