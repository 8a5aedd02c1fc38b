"""Public names that load on first use: how a package offers its API and stays light to import.

A package lists ``name -> module`` and sets ``__getattr__ = lazy_attributes(__name__, _LAZY)``;
``from weekend.data import Datasets`` then imports ``weekend.data.datasets`` only at that moment.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_attributes(package: str, names: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports ``names[name]`` and returns its attribute."""

    def __getattr__(name: str) -> Any:  # noqa: N807 - the module hook, by its name
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(module), name)

    return __getattr__


__all__ = ["lazy_attributes"]
