"""The flavor contract: how a model becomes files in a folder, and files become a model again.

A *flavor* knows one family of models. Like a scikit-learn estimator, its constructor only
stores configuration; the behaviour lives in four verbs:

``matches(model)``
    whether this flavor can package ``model``;
``save(model, folder)``
    write the model's files into ``folder`` (atomically, file by file) and return a
    :class:`FlavorInfo`, a JSON-able dict the registry keeps in its catalog;
``load(folder, info, *, trusted)``
    read the files back into a :class:`LoadedModel`. Flavors whose format can run code when
    read (pickle) have ``trusted_required = True`` and refuse with
    :class:`~weekend.core.errors.UnsafeModelError` unless ``trusted=True``.

Flavors live in a registry of kinds: :func:`register_flavor` (a class decorator) makes a
flavor known by its name, :func:`flavor_named` finds it again when a stored model is loaded,
and :func:`flavor_for` asks the registered flavors in order of :attr:`Flavor.priority` which
one can store a model. A new flavor is a class and one registration, not an edit of a list;
``weekend.testing.flavor_checks`` is the contract it must pass. The built-in flavors:

======== ============================================ ============= =================
name     models                                       format        runs code on load
======== ============================================ ============= =================
sklearn  scikit-learn estimators and pipelines        skops         no (allow-list)
lightgbm ``LGBMClassifier/Regressor``, Booster        LightGBM text no
xgboost  ``XGBClassifier/Regressor``, Booster         XGBoost JSON  no
onnx     ONNX models; scikit-learn exports on request ONNX protobuf no
pyfunc   anything else with ``predict(df)``           cloudpickle   **yes**
======== ============================================ ============= =================

Optional libraries (LightGBM, XGBoost, cloudpickle, ONNX) are imported only when a flavor
that needs them is used, through :func:`weekend.core.optional.require`.
"""

from __future__ import annotations

import abc
import contextlib
import importlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar, TypedDict, TypeVar

import numpy as np
import pandas as pd

from weekend.core.errors import ConfigurationError, IntegrityError, InvalidValueError

FORMAT_VERSION = 1
"""Version of the folder layout written by the flavors; bumped on incompatible changes."""


class FlavorInfo(TypedDict):
    """What a flavor wrote: kept in the catalog next to the model version, JSON-able."""

    flavor: str
    """The flavor's name, used to pick the flavor again at load time."""
    format: str
    """The file format, e.g. ``"skops"``, ``"lightgbm-text"``, ``"xgboost-json"``."""
    format_version: int
    """:data:`FORMAT_VERSION` at save time."""
    files: list[str]
    """The file names written into the folder (plain names, no directories)."""
    packages: list[str]
    """The distributions needed to load the model (see ``requirements_for``)."""
    details: dict[str, Any]
    """Flavor-specific facts: model class, task, classes, objective, ..."""


class LoadedModel(abc.ABC):
    """A model read back from its folder, ready to predict on a pandas DataFrame.

    ``classes_`` holds the class labels of a classifier (the order of the
    ``predict_proba`` columns) and is ``None`` for other models.
    """

    flavor: ClassVar[str] = ""
    classes_: np.ndarray[Any, Any] | None = None

    @abc.abstractmethod
    def predict(self, df: pd.DataFrame) -> np.ndarray[Any, Any]:
        """Predictions, one per row of ``df``."""

    def predict_proba(self, df: pd.DataFrame) -> np.ndarray[Any, Any] | None:
        """Class probabilities (rows × ``classes_``), or ``None`` if the model has none."""
        return None

    @property
    def has_proba(self) -> bool:
        """Whether :meth:`predict_proba` gives probabilities (not ``None``)."""
        return self.classes_ is not None

    @property
    def labels_follow_proba(self) -> bool:
        """Whether :meth:`predict` is the class of highest probability (ties aside), so that
        batch prediction may take labels from the probabilities instead of a second pass."""
        return False

    @property
    @abc.abstractmethod
    def raw(self) -> Any:
        """The underlying model object (estimator, booster, session ...)."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} flavor={self.flavor!r} model={type(self.raw).__name__}>"


class Flavor(abc.ABC):
    """One way of storing a family of models; constructor arguments are configuration only,
    and every flavor can be constructed without arguments."""

    name: ClassVar[str] = ""
    """The flavor's name, recorded with every model it saves (letters, digits, ``_``, ``-``)."""
    trusted_required: ClassVar[bool] = False
    """Whether reading the format can run code (then a load needs ``trusted=True``)."""
    priority: ClassVar[int] = 100
    """:func:`flavor_for` asks flavors with lower numbers first: libraries with their own
    format (100) before the scikit-learn flavor (500), which takes every estimator, before
    the pickle fallback (1000), which takes anything with ``predict``."""

    @abc.abstractmethod
    def matches(self, model: object) -> bool:
        """Whether this flavor can save ``model``."""

    @abc.abstractmethod
    def save(self, model: Any, folder: Path) -> FlavorInfo:
        """Write ``model`` into ``folder`` (created if needed) and describe what was written."""

    @abc.abstractmethod
    def load(self, folder: Path, info: FlavorInfo, *, trusted: bool = False) -> LoadedModel:
        """Read the model that :meth:`save` wrote into ``folder``."""

    def __repr__(self) -> str:
        config = ", ".join(f"{k}={v!r}" for k, v in sorted(vars(self).items()))
        return f"{type(self).__name__}({config})"


# -- helpers shared by the flavor modules -----------------------------------------------------


def module_roots(model: object) -> set[str]:
    """Top-level package names of ``type(model)`` and its bases (no import needed)."""
    return {cls.__module__.split(".", 1)[0] for cls in type(model).__mro__}


def qualified_name(model: object) -> str:
    """``module.QualName`` of the type of ``model``."""
    cls = type(model)
    return f"{cls.__module__}.{cls.__qualname__}"


def labels_to_json(classes: Any) -> list[Any]:
    """Class labels as plain JSON values; refuses labels JSON cannot carry."""
    values = np.asarray(classes).tolist()
    for value in values:
        if not isinstance(value, str | int | float | bool):
            raise InvalidValueError(
                f"class labels must be strings, numbers or booleans to be stored, "
                f"got {type(value).__name__} {value!r}"
            )
    return list(values)


def labels_from_json(values: list[Any] | None) -> np.ndarray[Any, Any] | None:
    """Inverse of :func:`labels_to_json` (strings come back as an object array)."""
    if values is None:
        return None
    if all(isinstance(v, str) for v in values):
        return np.asarray(values, dtype=object)
    return np.asarray(values)


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; move it onto ``target`` only on success.

    The temporary name keeps the target's suffix, because some libraries choose the file
    format from it (XGBoost).
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".tmp-{uuid.uuid4().hex[:12]}-{target.name}")
    try:
        yield tmp
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)


def check_info(info: FlavorInfo, flavor: str) -> None:
    """Refuse a :class:`FlavorInfo` that another flavor, or a newer weekend, wrote."""
    if not isinstance(info, dict):
        raise InvalidValueError(f"flavor info must be a dict, got {type(info).__name__}")
    got = info.get("flavor")
    if got != flavor:
        raise InvalidValueError(
            f"flavor info is for flavor {got!r}, but the {flavor!r} flavor was asked to load it; "
            "use load_model(folder, info), which picks the flavor from the info"
        )
    version = info.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise IntegrityError(
            f"model folder has format_version {version!r}; this weekend reads up to "
            f"{FORMAT_VERSION}: upgrade weekend to load it"
        )


def model_file(folder: Path, info: FlavorInfo, name: str) -> Path:
    """The path of the file ``name`` that ``info`` lists, checked to exist."""
    if name not in info.get("files", []):
        raise IntegrityError(
            f"flavor info does not list the file {name!r} (files: {info.get('files')!r})"
        )
    path = Path(folder) / name
    if not path.is_file():
        raise IntegrityError(f"model file {name!r} is missing from the model folder")
    return path


# -- the registry of kinds ----------------------------------------------------------------------

_BUILTIN_MODULES = (
    "weekend.registry._flavor_boost",
    "weekend.registry._flavor_onnx",
    "weekend.registry._flavor_sklearn",
    "weekend.registry._flavor_pyfunc",
)
"""Modules that register weekend's own flavors when imported (on first use of the registry)."""

_KINDS: dict[str, type[Flavor]] = {}
_builtins_loaded = False

F = TypeVar("F", bound=type[Flavor])


def register_flavor(cls: F) -> F:
    """Make the flavor class ``cls`` known by its :attr:`~Flavor.name` (a class decorator).

    Registering a name again replaces its class. A package that provides a flavor registers
    it when imported, and must be imported before a model stored with it is loaded.
    """
    if not (isinstance(cls, type) and issubclass(cls, Flavor)):
        raise ConfigurationError(f"a flavor must be a Flavor subclass, got {cls!r:.80}")
    name = cls.name
    if not isinstance(name, str) or not name.replace("_", "").replace("-", "").isalnum():
        raise ConfigurationError(
            f"flavor class {cls.__qualname__} needs a name of letters, digits, '_' and '-', "
            f"got {name!r:.40}"
        )
    if isinstance(cls.priority, bool) or not isinstance(cls.priority, int):
        raise ConfigurationError(f"flavor {name!r}: priority must be an integer")
    _KINDS[name] = cls
    return cls


def _kinds() -> dict[str, type[Flavor]]:
    global _builtins_loaded
    if not _builtins_loaded:
        for module in _BUILTIN_MODULES:  # each registers its flavors
            importlib.import_module(module)
        _builtins_loaded = True
    return _KINDS


def flavor_kinds() -> list[str]:
    """The names of the registered flavors, sorted."""
    return sorted(_kinds())


def flavor_for(model: object) -> Flavor:
    """The flavor that stores ``model`` in the safest format available: the first registered
    flavor, by :attr:`~Flavor.priority`, whose ``matches(model)`` is true.

    With weekend's own flavors: LightGBM and XGBoost models get their native formats, ONNX
    models stay ONNX, scikit-learn estimators and pipelines get skops, and anything else with
    a ``predict`` method falls back to the pickle-based ``pyfunc`` flavor (which needs
    ``trusted=True`` to load).
    """
    for cls in sorted(_kinds().values(), key=lambda kind: kind.priority):  # stable: ties
        flavor = cls()  # keep their registration order
        if flavor.matches(model):
            return flavor
    raise InvalidValueError(
        f"cannot store a {qualified_name(model)}: expected a scikit-learn estimator, a LightGBM "
        "or XGBoost model, an ONNX model, or any object with a predict(df) method (or register "
        "a flavor for it with weekend.registry.register_flavor)"
    )


def flavor_named(name: str) -> Flavor:
    """The flavor called ``name`` (as recorded in :attr:`FlavorInfo.flavor`)."""
    kinds = _kinds()
    if name not in kinds:
        raise InvalidValueError(
            f"unknown model flavor {name!r}; registered flavors: {', '.join(sorted(kinds))}. "
            "A flavor from another package is known once that package is imported"
        )
    return kinds[name]()


def save_model(model: Any, folder: Path) -> FlavorInfo:
    """Save ``model`` with the flavor :func:`flavor_for` picks."""
    return flavor_for(model).save(model, Path(folder))


def load_model(folder: Path, info: FlavorInfo, *, trusted: bool = False) -> LoadedModel:
    """Load a model saved by any flavor, picking the flavor from ``info``."""
    if not isinstance(info, dict) or not isinstance(info.get("flavor"), str):
        raise InvalidValueError("flavor info must be a dict with a 'flavor' name")
    return flavor_named(info["flavor"]).load(Path(folder), info, trusted=trusted)


__all__ = [
    "FORMAT_VERSION",
    "Flavor",
    "FlavorInfo",
    "LoadedModel",
    "atomic_path",
    "check_info",
    "flavor_for",
    "flavor_kinds",
    "flavor_named",
    "labels_from_json",
    "labels_to_json",
    "load_model",
    "model_file",
    "module_roots",
    "qualified_name",
    "register_flavor",
    "save_model",
]
