"""Conformance checks of model flavors: what every flavor (weekend's own and a third party's,
registered with :func:`weekend.registry.register_flavor`) does with a model it stores.

Each check takes a :class:`FlavorSubject`, a fitted model with rows it predicts on, an empty
folder and the registry of an empty project, and raises :class:`AssertionError` when the
flavor breaks the contract:

- the flavor is registered, picked for the model by :func:`~weekend.registry.flavor_for`
  and constructed without arguments;
- ``save`` writes exactly the files it lists and describes them in JSON;
- ``save`` then ``load`` predicts what the model predicts (labels exactly, numbers within
  ``rtol``), row by row too, with probabilities for classifiers;
- trust: a flavor whose format runs code when read refuses to load without
  ``trusted=True``, every other loads without it;
- info written by another flavor or a newer weekend, and missing files, are refused;
- a registered version keeps its signature, and loads only from files that match their
  recorded sha256.

Run them with :func:`weekend.testing.parametrize_with_checks` (pytest) or
:func:`weekend.testing.run_checks`, over :func:`flavor_checks`.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from weekend.core.errors import IntegrityError, InvalidValueError, UnsafeModelError
from weekend.registry import (
    FORMAT_VERSION,
    Flavor,
    FlavorInfo,
    LoadedModel,
    flavor_for,
    flavor_kinds,
    flavor_named,
    infer_signature,
)
from weekend.testing._checks import Check, raises, suite

if TYPE_CHECKING:
    import pandas as pd

    from weekend.registry import Models

Array = np.ndarray[Any, Any]


@dataclass
class FlavorSubject:
    """A model to put through the flavor contract, and where to do it."""

    model: Any
    """A fitted model."""
    frame: pd.DataFrame
    """Rows the model predicts on, with only the model's input columns (also the input
    example it is registered with)."""
    flavor: str
    """The name of the flavor expected to store the model."""
    folder: Path
    """An empty folder for the flavor's files."""
    models: Models
    """The model registry (``ws.models``) of an empty project."""
    reference: Callable[[pd.DataFrame], Any] | None = None
    """The predictions to match (default: ``model.predict``)."""
    proba_reference: Callable[[pd.DataFrame], Any] | None = None
    """The probabilities to match (default: ``model.predict_proba`` if the model has it)."""
    rtol: float = 1e-9
    """Relative tolerance of numbers (ONNX computes in float32); labels match exactly."""

    def expected(self, frame: pd.DataFrame) -> Array:
        predict = self.reference or self.model.predict
        return np.asarray(predict(frame))

    def expected_proba(self, frame: pd.DataFrame) -> Array | None:
        predict = self.proba_reference or getattr(self.model, "predict_proba", None)
        return None if predict is None else np.asarray(predict(frame))


def _flavor(subject: FlavorSubject) -> Flavor:
    return flavor_named(subject.flavor)


def _saved(subject: FlavorSubject, folder: Path | None = None) -> tuple[Flavor, FlavorInfo]:
    """Save the model; the info comes back as the catalog keeps it (through JSON)."""
    flavor = _flavor(subject)
    info = flavor.save(subject.model, folder or subject.folder)
    return flavor, json.loads(json.dumps(info))


def _same(got: Any, expected: Array, rtol: float, what: str) -> None:
    got = np.asarray(got)
    assert got.shape == expected.shape, f"{what}: shape {got.shape}, expected {expected.shape}"
    if expected.dtype.kind in "fc" and got.dtype.kind in "fc":
        np.testing.assert_allclose(got, expected, rtol=rtol, atol=rtol, err_msg=what)
    else:
        assert np.array_equal(got, expected), f"{what}: {got[:5]!r} differ from {expected[:5]!r}"


def check_the_flavor_is_registered_and_picked(subject: FlavorSubject) -> None:
    assert subject.flavor in flavor_kinds(), f"flavor {subject.flavor!r} is not registered"
    picked = flavor_for(subject.model)
    assert picked.name == subject.flavor, f"flavor_for picked {picked.name!r}"
    named = _flavor(subject)
    assert type(named) is type(picked), "flavor_named and flavor_for disagree"
    assert isinstance(named, Flavor)
    assert isinstance(type(named).trusted_required, bool)
    assert isinstance(type(named).priority, int)
    assert repr(named).startswith(type(named).__name__), "repr shows the configuration"
    with raises(InvalidValueError, match="unknown model flavor"):
        flavor_named(f"{subject.flavor}-no-such-flavor")


def check_save_lists_its_files_and_describes_them_in_json(subject: FlavorSubject) -> None:
    _, info = _saved(subject)
    assert info["flavor"] == subject.flavor
    assert info["format_version"] == FORMAT_VERSION
    assert isinstance(info["format"], str), "format names the file format"
    assert info["format"], "format names the file format"
    files = info["files"]
    assert files, "a flavor writes at least one file"
    assert len(files) == len(set(files)), f"files {files!r}"
    for name in files:
        plain = Path(name).name == name and "\\" not in name and name not in (".", "..")
        assert plain, f"file {name!r} is not a plain name"
    written = sorted(p.name for p in subject.folder.iterdir())
    assert written == sorted(files), f"wrote {written}, listed {sorted(files)} (leftovers?)"
    assert all(isinstance(p, str) for p in info["packages"])
    assert isinstance(info["details"], dict)


def check_load_predicts_what_the_model_predicts(subject: FlavorSubject) -> None:
    flavor, info = _saved(subject)
    loaded = flavor.load(subject.folder, info, trusted=flavor.trusted_required)
    assert isinstance(loaded, LoadedModel)
    assert loaded.flavor == subject.flavor
    frame = subject.frame
    _same(loaded.predict(frame), subject.expected(frame), subject.rtol, "predict")
    for i in range(min(3, len(frame))):
        row = frame.iloc[[i]]
        _same(loaded.predict(row), subject.expected(row), subject.rtol, f"predict of row {i}")
    proba = loaded.predict_proba(frame)
    if loaded.classes_ is None:
        assert proba is None, "a model without classes gives no probabilities"
        return
    assert proba is not None, "a model with classes gives probabilities"
    assert proba.shape == (len(frame), len(loaded.classes_)), f"proba shape {proba.shape}"
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    expected = subject.expected_proba(frame)
    if expected is not None:
        _same(proba, expected, max(subject.rtol, 1e-12), "predict_proba")
    if loaded.labels_follow_proba:
        best = loaded.classes_[proba.argmax(axis=1)]
        _same(best, np.asarray(loaded.predict(frame)), 0.0, "labels from probabilities")


def check_trust_is_required_exactly_when_the_format_runs_code(subject: FlavorSubject) -> None:
    flavor, info = _saved(subject)
    if flavor.trusted_required:
        with raises(UnsafeModelError, match="trusted=True"):
            flavor.load(subject.folder, info, trusted=False)
        flavor.load(subject.folder, info, trusted=True)
    else:
        flavor.load(subject.folder, info, trusted=False)


def check_foreign_info_and_missing_files_are_refused(subject: FlavorSubject) -> None:
    flavor, info = _saved(subject)
    trusted = flavor.trusted_required
    with raises(InvalidValueError, match="flavor"):
        flavor.load(subject.folder, {**info, "flavor": "another-flavor"}, trusted=trusted)
    with raises(IntegrityError, match="format_version"):
        flavor.load(subject.folder, {**info, "format_version": FORMAT_VERSION + 1}, trusted=trusted)
    moved = subject.folder / "elsewhere"
    moved.mkdir()
    for name in info["files"]:
        shutil.move(str(subject.folder / name), moved / name)
    with raises(IntegrityError, match="missing"):
        flavor.load(subject.folder, info, trusted=trusted)


def check_a_registered_version_keeps_its_signature(subject: FlavorSubject) -> None:
    models, frame = subject.models, subject.frame
    version = models.register(subject.model, "conformance", input_example=frame)
    assert version.flavor == subject.flavor
    assert models.flavor_info(version.ref)["flavor"] == subject.flavor
    assert version.trusted_required >= _flavor(subject).trusted_required
    assert version.signature is not None, "an input example gives a signature"
    assert version.signature.names == [str(c) for c in frame.columns]
    again = models.get(version.ref)
    assert again.signature is not None
    assert again.signature.to_dict() == version.signature.to_dict()
    given = infer_signature(frame)
    explicit = models.register(subject.model, "conformance", signature=given)
    assert explicit.signature is not None
    assert models.get(explicit.ref).signature == given


def check_a_registered_version_loads_verified_and_predicts(subject: FlavorSubject) -> None:
    models, frame = subject.models, subject.frame
    version = models.register(subject.model, "conformance", input_example=frame)
    trusted = version.trusted_required
    if trusted:
        with raises(UnsafeModelError, match="trusted=True"):
            models.load(version.ref)
    loaded = models.load(version.ref, trusted=trusted)
    assert loaded.flavor == subject.flavor
    assert loaded.version.ref == version.ref
    _same(loaded.predict(frame), subject.expected(frame), subject.rtol, "predict")
    assert loaded.folder is not None
    name = models.flavor_info(version.ref)["files"][0]
    damaged = loaded.folder / name
    damaged.chmod(0o644)
    damaged.write_bytes(damaged.read_bytes()[:-1] + b"!")
    with raises(IntegrityError, match="altered"):
        models.load(version.ref, trusted=trusted)


def flavor_checks() -> list[Check[FlavorSubject]]:
    """The checks every model flavor passes; each takes a fresh :class:`FlavorSubject`."""
    return suite(
        check_the_flavor_is_registered_and_picked,
        check_save_lists_its_files_and_describes_them_in_json,
        check_load_predicts_what_the_model_predicts,
        check_trust_is_required_exactly_when_the_format_runs_code,
        check_foreign_info_and_missing_files_are_refused,
        check_a_registered_version_keeps_its_signature,
        check_a_registered_version_loads_verified_and_predicts,
    )


__all__ = ["FlavorSubject", "flavor_checks"]
