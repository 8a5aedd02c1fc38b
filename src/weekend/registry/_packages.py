"""The packages a stored model needs, and whether this environment has compatible ones.

:func:`requirements_for` records the exact installed versions when a model is saved (Python,
numpy, pandas and the distributions the flavor lists). :func:`check_requirements` compares a
record with what is installed when the model is loaded:

* a missing package, or another **major** version, raises
  :class:`~weekend.core.errors.ConfigurationError` (the model may not load, or may predict
  differently); for ``0.x`` versions the minor number counts as major, as semantic
  versioning has it;
* another **minor** version gives a :class:`PackageVersionWarning`, emitted and returned;
* another patch version is fine.
"""

from __future__ import annotations

import importlib.metadata
import platform
import re
import warnings
from collections.abc import Mapping
from typing import Any

from weekend.core.errors import ConfigurationError, InvalidValueError

ALWAYS = ("numpy", "pandas")
"""Distributions every model needs, whatever its flavor."""

_RELEASE = re.compile(r"(\d+)(?:\.(\d+))?")


class PackageVersionWarning(UserWarning):
    """An installed package differs in its minor version from the one a model was saved with."""

    def __init__(self, message: str, package: str, recorded: str, installed: str) -> None:
        super().__init__(message)
        self.package = package
        self.recorded = recorded
        self.installed = installed


_VERSION_LINE = re.compile(r"^Version:[ \t]*(\S+)", re.MULTILINE)
_found: dict[str, str] = {}


def _installed(package: str) -> str | None:
    """The installed version of a distribution, remembered for the life of the process (what
    a process has imported does not change under it when someone upgrades the package)."""
    if package == "python":
        return platform.python_version()
    known = _found.get(package)
    if known is not None:
        return known
    try:
        dist = importlib.metadata.distribution(package)
    except importlib.metadata.PackageNotFoundError:
        return None
    # Only the header: ``dist.version`` parses the whole file (description included) as an
    # e-mail message, a few milliseconds per package on the first load of a model.
    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO") or ""
    match = _VERSION_LINE.search(text.split("\n\n", 1)[0])
    version = match.group(1) if match else dist.version
    _found[package] = version
    return version


def requirements_for(flavor_info: Mapping[str, Any]) -> dict[str, str]:
    """Exact installed versions of Python and every package the model in ``flavor_info`` needs."""
    packages = flavor_info.get("packages") if isinstance(flavor_info, Mapping) else None
    if not isinstance(packages, list) or not all(isinstance(p, str) for p in packages):
        raise InvalidValueError(
            f"flavor info must have a 'packages' list of names, got {packages!r}"
        )
    found: dict[str, str] = {}
    for package in ("python", *ALWAYS, *packages):
        version = _installed(package)
        if version is None:
            raise ConfigurationError(
                f"package {package!r}, needed by the {flavor_info.get('flavor')!r} model, is not "
                f"installed; install it with: pip install {package}"
            )
        found[package] = version
    return found


def _levels(version: str) -> tuple[tuple[int, ...], tuple[int, ...]] | None:
    """``(major key, minor key)`` of a version; 0.x versions use the minor number as major."""
    match = _RELEASE.match(version.strip())
    if match is None:
        return None
    major, minor = int(match.group(1)), int(match.group(2) or 0)
    return ((0, minor) if major == 0 else (major,)), (major, minor)


def check_requirements(
    recorded: Mapping[str, str], *, emit: bool = True
) -> list[PackageVersionWarning]:
    """Compare ``recorded`` (from :func:`requirements_for`) with the installed versions.

    Raises :class:`ConfigurationError` naming every missing or major-incompatible package;
    returns (and, with ``emit``, also warns) a :class:`PackageVersionWarning` per minor
    difference.
    """
    if not isinstance(recorded, Mapping):
        raise InvalidValueError(
            f"recorded requirements must be a mapping of package to version, "
            f"got {type(recorded).__name__}"
        )
    errors: list[str] = []
    found: list[PackageVersionWarning] = []
    for package, want in recorded.items():
        have = _installed(package)
        if have is None:
            errors.append(f"{package} {want} is not installed (pip install '{package}=={want}')")
            continue
        if have == want:
            continue
        want_levels, have_levels = _levels(str(want)), _levels(have)
        if want_levels is None or have_levels is None:
            same_major, same_minor = False, False
        else:
            same_major = want_levels[0] == have_levels[0]
            same_minor = want_levels[1] == have_levels[1]
        if not same_major and want_levels is not None and have_levels is not None:
            errors.append(
                f"{package} {have} is installed but the model was saved with {want}, another major "
                f"version (pip install '{package}=={want}', or re-train the model)"
            )
        elif not same_minor:
            found.append(
                PackageVersionWarning(
                    f"{package} {have} is installed but the model was saved with {want}; it "
                    "should load, but predictions may differ slightly",
                    package,
                    str(want),
                    have,
                )
            )
    if errors:
        raise ConfigurationError(
            "the model needs packages this environment does not have: " + "; ".join(errors)
        )
    if emit:
        for warning in found:
            warnings.warn(warning, stacklevel=2)
    return found


__all__ = ["ALWAYS", "PackageVersionWarning", "check_requirements", "requirements_for"]
