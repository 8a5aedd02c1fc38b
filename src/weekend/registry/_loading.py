"""Loading a version: trust first, then packages, verified files, and the flavor that reads
them, with a small per-process cache of model objects.

A version's package may hold other forms of the same model in sub-folders named after their
flavor (``onnx/`` for ``export_onnx=True``), each with its own ``flavor.json``;
``load(flavor="onnx")`` reads that form instead of the native one.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING

from weekend.core.errors import InvalidValueError, UnsafeModelError
from weekend.registry._loaded import LoadedVersion
from weekend.registry._records import ModelVersion, to_json

if TYPE_CHECKING:
    from weekend.artifacts import ArtifactStore
    from weekend.registry._compile import CompileSlot
    from weekend.registry._flavors import LoadedModel
    from weekend.registry._package import Manifest

CACHE_SIZE = 8
"""Model objects a process keeps for reuse (by the sha256 of their verified manifest)."""


def _form(version: ModelVersion, manifest: Manifest, flavor: str | None) -> str:
    """The folder prefix of the asked form of the model: ``""`` for the native one."""
    from weekend.registry._package import FLAVOR_FILE

    if flavor is None or flavor == version.flavor:
        return ""
    if f"{flavor}/{FLAVOR_FILE}" not in manifest:
        others = sorted(n.split("/")[0] for n in manifest if n.endswith(f"/{FLAVOR_FILE}"))
        exports = f" with exports: {', '.join(others)}" if others else ""
        raise InvalidValueError(
            f"model {version.ref} has no {flavor!r} form (it is {version.flavor!r}{exports})"
        )
    return f"{flavor}/"


class ModelLoader:
    """Loads verified versions; reuses model objects read from the same verified files."""

    def __init__(self, artifacts: ArtifactStore, cache_root: Path, size: int = CACHE_SIZE):
        self._artifacts = artifacts
        self._cache_root = cache_root
        self._size = size
        self._models: OrderedDict[tuple[str, str], LoadedModel] = OrderedDict()
        self._slots: dict[tuple[str, str], CompileSlot] = {}  # compiled forms of _models
        self._compiled_root = cache_root.parent / "compiled"  # checks, by package hash
        self._checked: set[str] = set()  # requirement sets found compatible
        self._lock = threading.Lock()

    def load(
        self, version: ModelVersion, *, trusted: bool, flavor: str | None, cache: bool
    ) -> LoadedVersion:
        """See :meth:`weekend.registry.Models.load`."""
        from weekend.registry._compile import CompileSlot
        from weekend.registry._flavors import load_model
        from weekend.registry._package import (
            check_manifest,
            manifest_key,
            materialize,
            read_flavor_info,
        )

        if version.trusted_required and not trusted:
            raise UnsafeModelError(
                f"model {version.ref} is stored as {version.flavor!r}, a format that can run code "
                "when it is read; load it only if you trust where it came from, with trusted=True"
            )
        manifest = check_manifest(version.manifest)
        prefix = _form(version, manifest, flavor)
        self._check_packages(version.requirements)
        folder = materialize(self._artifacts, manifest, self._cache_root)  # hashes every file
        key = (manifest_key(manifest), prefix)
        with self._lock:
            model = self._models.get(key) if cache else None
            slot = self._slots.get(key) if cache else None
            if model is not None:
                self._models.move_to_end(key)
        if model is None or slot is None:
            info = read_flavor_info(folder, manifest, prefix)
            model = load_model(folder / prefix if prefix else folder, info, trusted=trusted)
            record = self._compiled_root if not prefix else None  # exports are not compiled
            slot = CompileSlot(key[0], record)
            if cache:
                with self._lock:
                    self._models[key] = model
                    self._slots[key] = slot
                    while len(self._models) > self._size:
                        self._slots.pop(self._models.popitem(last=False)[0], None)
        return LoadedVersion(
            version,
            model,
            flavor=model.flavor or version.flavor,
            folder=folder / prefix,
            compile_slot=slot,
        )

    def _check_packages(self, requirements: dict[str, str]) -> None:
        from weekend.registry._packages import check_requirements

        key = to_json(requirements)
        if key in self._checked:
            return
        found = check_requirements(requirements)  # raises on a major mismatch, warns on minor
        if not found:
            self._checked.add(key)


__all__ = ["CACHE_SIZE", "ModelLoader"]
