"""The one mechanism for optional heavy dependencies.

``require("redis", extra="redis")`` imports a module on first use and, when it is missing,
raises a :class:`ConfigurationError` that names the extra to install. Nothing heavy is
imported when ``weekend`` itself is imported.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from weekend.core.errors import ConfigurationError


def require(module: str, extra: str, purpose: str = "") -> ModuleType:
    """Import ``module`` or explain which extra provides it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        why = f" (needed for {purpose})" if purpose else ""
        raise ConfigurationError(
            f"optional dependency {module!r} is not installed{why}; "
            f"install it with: pip install 'weekend[{extra}]'"
        ) from exc
