"""``weekend.registry`` names what the registry hands out: every record a verb returns is an
instance of a public name, and the public list is complete, unique and importable."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _registry_data import classifier, features, flights

import weekend.registry as registry
from weekend.core.settings import init_project, load_settings
from weekend.workspace import Workspace


def test_every_public_name_imports_and_nothing_private_leaks() -> None:
    assert len(registry.__all__) == len(set(registry.__all__))
    namespace: dict[str, object] = {}
    exec("from weekend.registry import *", namespace)
    for name in registry.__all__:
        value = getattr(registry, name)
        assert namespace[name] is value
        module = getattr(value, "__module__", "weekend.registry") or ""
        assert module.startswith(("weekend.registry", "weekend.core")), (name, module)
    with pytest.raises(AttributeError, match="has no attribute '_store'"):
        registry.__getattr__("_store")


def _registry_classes() -> set[str]:
    """Public class names defined in the registry's modules (imports every one)."""
    names: set[str] = set()
    for info in pkgutil.iter_modules(registry.__path__, "weekend.registry."):
        module = importlib.import_module(info.name)
        names |= {
            name
            for name, value in vars(module).items()
            if inspect.isclass(value) and value.__module__ == info.name and name[0] != "_"
        }
    return names


def _returned_names(cls: type) -> set[str]:
    """Registry classes named in the return annotations of ``cls``'s public methods."""
    words: set[str] = set()
    for name, member in vars(cls).items():
        function = member.fget if isinstance(member, property) else member
        if name.startswith("_") or not callable(function):
            continue
        returned = getattr(function, "__annotations__", {}).get("return", "")
        words |= set(re.findall(r"\b[A-Z]\w+", str(returned)))
    return words & _registry_classes()


def test_what_the_service_returns_is_exported() -> None:
    returned = _returned_names(registry.Models) | _returned_names(registry.LoadedVersion)
    assert {"ModelVersion", "RegisteredModel", "AliasEvent", "LoadedVersion"} <= returned
    assert returned <= set(registry.__all__), returned - set(registry.__all__)


def test_the_records_a_user_meets_are_the_public_names(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    train, holdout = flights(rng, 300), flights(rng, 300)
    with Workspace(load_settings(init_project(tmp_path / "project"))) as ws:
        version = ws.models.register(classifier(train), "delay", input_example=features(train))
        event = ws.models.set_alias("delay", 1, "champion")
        evaluation = ws.models.evaluate(
            "delay/1", data=holdout, label="delayed", slices=["origin"], gates=["auc >= 0"]
        )
        loaded = ws.models.load("delay@champion")
        features(holdout).to_parquet(tmp_path / "in.parquet")
        batch = ws.models.predict_batch("delay/1", tmp_path / "in.parquet", tmp_path / "o.pq")
        [listed] = ws.models.list()
        assert isinstance(version, registry.ModelVersion)
        assert isinstance(ws.models.versions("delay")[0], registry.ModelVersion)
        assert isinstance(listed, registry.RegisteredModel)
        assert isinstance(ws.models.get_model("delay"), registry.RegisteredModel)
        assert isinstance(event, registry.AliasEvent)
        assert isinstance(ws.models.alias_history("delay")[0], registry.AliasEvent)
        assert isinstance(evaluation, registry.Evaluation)
        assert isinstance(evaluation.gates[0], registry.GateResult)
        assert isinstance(evaluation.slices[0], registry.SliceResult)
        assert isinstance(loaded, registry.LoadedVersion)
        assert isinstance(loaded.model, registry.LoadedModel)
        assert isinstance(batch, registry.BatchResult)
        signature = version.signature
        assert isinstance(signature, registry.Signature)
        assert isinstance(signature.inputs[0], registry.ColumnSpec)
        assert isinstance(signature.output, registry.OutputSpec)
        assert pd.read_parquet(tmp_path / "o.pq").shape[0] == len(holdout)
