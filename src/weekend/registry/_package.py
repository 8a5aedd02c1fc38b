"""Model packages: the files of a model version in the artifact store, and their local cache.

A package is a flat set of files written by a flavor (``model.skops``, ``model.txt`` ...) plus
``flavor.json``, the :class:`~weekend.registry._flavors.FlavorInfo` that says how to read
them; an optional ONNX export sits under ``onnx/`` with its own ``flavor.json``. Every file
is a blob in the artifact store, and the version's *manifest* maps each relative file name
to its sha256 and size::

    {"flavor.json": {"sha256": "9f2c...", "size": 412},
     "model.skops": {"sha256": "04be...", "size": 18233}}

Loading materialises the package into ``<state_dir>/cache/models/<sha256 of the manifest>/``:
built under a temporary name from verified blob reads, then renamed into place, so a cache
folder is either complete or absent. A cached folder is hashed again on every load; a file
whose content does not match the manifest is refused with
:class:`~weekend.core.errors.IntegrityError` (it was altered after it was cached), while a
missing file only makes the folder be rebuilt from the store.
"""

from __future__ import annotations

import contextlib
import shutil
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import orjson

from weekend.artifacts import ArtifactStore, new_scratch_dir
from weekend.core.errors import IntegrityError, InvalidNameError, InvalidValueError
from weekend.core.hashing import sha256_bytes, sha256_file
from weekend.core.names import validate_artifact_name
from weekend.registry._flavors import FlavorInfo, flavor_named, save_model
from weekend.registry._packages import requirements_for

FLAVOR_FILE = "flavor.json"
ONNX_DIR = "onnx"
REFERENCE_SAMPLE = "reference/sample.parquet"
"""The reference sample of the training data, when registration drew one: drift tests
compare windows with its exact values (``weekend.monitoring``; docs/monitoring.md)."""

Manifest = dict[str, dict[str, Any]]


@dataclass(frozen=True)
class Package:
    """What :func:`write_package` stored: the manifest and the facts the catalog keeps."""

    manifest: Manifest
    flavor_info: FlavorInfo
    onnx_info: FlavorInfo | None
    requirements: dict[str, str]
    trusted_required: bool


def _needs_trust(info: FlavorInfo) -> bool:
    details = info.get("details") or {}
    return flavor_named(info["flavor"]).trusted_required or bool(details.get("needs_trusted"))


@contextlib.contextmanager
def _scratch() -> Iterator[Path]:
    folder = new_scratch_dir("package")  # named for weekend gc, should a kill skip the rmtree
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _write_info(folder: Path, info: FlavorInfo) -> None:
    (folder / FLAVOR_FILE).write_bytes(orjson.dumps(dict(info), option=orjson.OPT_SORT_KEYS))


def write_package(
    store: ArtifactStore,
    model: Any,
    *,
    signature: Any = None,
    export_onnx: bool = False,
    reference: Any = None,
) -> Package:
    """Save ``model`` with its flavor (and as ONNX if asked) and store every file as a blob;
    ``reference`` (an Arrow table) becomes the package's :data:`REFERENCE_SAMPLE`."""
    with _scratch() as folder:
        info = save_model(model, folder)
        _write_info(folder, info)
        if reference is not None:
            import pyarrow.parquet as pq

            (folder / REFERENCE_SAMPLE).parent.mkdir()
            pq.write_table(reference, folder / REFERENCE_SAMPLE)
        onnx_info: FlavorInfo | None = None
        if export_onnx:
            if signature is None:
                raise InvalidValueError(
                    "export_onnx=True needs the model's signature: pass input_example= (or "
                    "signature=) so the ONNX inputs can be typed"
                )
            from weekend.registry._flavor_onnx import export_onnx as to_onnx

            onnx_folder = folder / ONNX_DIR
            onnx_folder.mkdir()
            onnx_info = to_onnx(model, signature, onnx_folder)
            _write_info(onnx_folder, onnx_info)
        manifest: Manifest = {}
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            name = validate_artifact_name(path.relative_to(folder).as_posix())
            blob = store.put_file(path)
            manifest[name] = {"sha256": blob.sha256, "size": blob.size}
    requirements = requirements_for(info)
    if onnx_info is not None:
        requirements.update(requirements_for(onnx_info))
    return Package(
        manifest=manifest,
        flavor_info=info,
        onnx_info=onnx_info,
        requirements=requirements,
        trusted_required=_needs_trust(info),
    )


# -- reading back -------------------------------------------------------------------------------


def check_manifest(manifest: object) -> Manifest:
    """Refuse a manifest whose names could escape a folder or whose entries are malformed."""
    if not isinstance(manifest, dict) or not manifest:
        raise IntegrityError(f"model manifest must be a non-empty mapping, got {manifest!r:.80}")
    for name, entry in manifest.items():
        try:
            validate_artifact_name(name)
        except InvalidNameError as exc:
            raise IntegrityError(f"model manifest lists an unsafe file name: {exc}") from None
        if (
            not isinstance(entry, dict)
            or not isinstance(entry.get("sha256"), str)
            or not isinstance(entry.get("size"), int)
        ):
            raise IntegrityError(f"model manifest entry {name!r} is malformed: {entry!r:.80}")
    return cast(Manifest, manifest)


def manifest_key(manifest: Mapping[str, Any]) -> str:
    """The sha256 of the manifest's canonical JSON: the package's identity and cache folder."""
    return sha256_bytes(orjson.dumps(dict(manifest), option=orjson.OPT_SORT_KEYS))


def _verify_folder(folder: Path, manifest: Manifest) -> bool:
    """Hash every file of a cached package. False if a file is missing (rebuild); an
    :class:`IntegrityError` if one was altered."""
    for name, entry in manifest.items():
        path = folder / name
        if not path.is_file():
            return False
        actual = sha256_file(path)
        if actual != entry["sha256"]:
            raise IntegrityError(
                f"cached model file {name!r} in {folder} hashes to {actual}, but the catalog "
                f"records {entry['sha256']}: it was altered after it was cached. Delete the "
                "folder to fetch a verified copy from the artifact store again"
            )
    return True


def materialize(store: ArtifactStore, manifest: object, cache_root: Path) -> Path:
    """A local folder holding the package, every file verified against the manifest."""
    checked = check_manifest(manifest)
    folder = cache_root / manifest_key(checked)
    if folder.is_dir():
        if _verify_folder(folder, checked):
            return folder
        shutil.rmtree(folder, ignore_errors=True)  # incomplete: rebuild from the store
    cache_root.mkdir(parents=True, exist_ok=True)
    tmp = cache_root / f".tmp-{uuid.uuid4().hex}"
    try:
        for name, entry in checked.items():
            dest = store.get_file(entry["sha256"], tmp / name)  # verifies the blob's hash
            if dest.stat().st_size != entry["size"]:
                raise IntegrityError(
                    f"model file {name!r} has {dest.stat().st_size} bytes, the catalog records "
                    f"{entry['size']}"
                )
        try:
            tmp.rename(folder)
        except OSError:
            # Another process finished the same folder first: use (and check) theirs.
            if not folder.is_dir() or not _verify_folder(folder, checked):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def read_flavor_info(folder: Path, manifest: Manifest, prefix: str = "") -> FlavorInfo:
    """The flavor info stored in the (verified) package folder."""
    name = f"{prefix}{FLAVOR_FILE}"
    if name not in manifest:
        raise IntegrityError(f"model package has no {name!r}")
    try:
        data = orjson.loads((folder / name).read_bytes())
    except orjson.JSONDecodeError as exc:
        raise IntegrityError(f"{name!r} of the model package is not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("flavor"), str):
        raise IntegrityError(f"{name!r} of the model package has no flavor name")
    return cast(FlavorInfo, data)


def stored_flavor_info(store: ArtifactStore, manifest: object) -> FlavorInfo:
    """The flavor info read straight from the artifact store (verified), without a cache."""
    checked = check_manifest(manifest)
    if FLAVOR_FILE not in checked:
        raise IntegrityError(f"model package has no {FLAVOR_FILE!r}")
    data = orjson.loads(store.read_bytes(checked[FLAVOR_FILE]["sha256"]))
    return cast(FlavorInfo, data)


__all__ = [
    "FLAVOR_FILE",
    "ONNX_DIR",
    "REFERENCE_SAMPLE",
    "Package",
    "check_manifest",
    "manifest_key",
    "materialize",
    "read_flavor_info",
    "stored_flavor_info",
    "write_package",
]
