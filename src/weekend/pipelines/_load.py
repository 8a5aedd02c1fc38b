"""Find a pipeline by reference: ``package.module:name`` or ``path/to/file.py:name``."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Any

from weekend.core.errors import InvalidValueError, NotFoundError
from weekend.pipelines._steps import Pipeline


def load_pipeline(ref: str, *, root: Path | None = None) -> Pipeline[..., Any]:
    """The pipeline ``ref`` names; a module is looked up from ``root`` (the project) too."""
    where, sep, name = ref.rpartition(":")
    if not sep or not where or not name.isidentifier():
        raise InvalidValueError(
            f"a pipeline is named 'module:function' or 'file.py:function', got {ref!r:.120}",
            field="pipeline",
        )
    if where.endswith(".py"):
        path = Path(where) if Path(where).is_absolute() or root is None else root / where
        if not path.is_file():
            path = Path(where)
        if not path.is_file():
            raise NotFoundError(f"pipeline file {where!r} does not exist", field="pipeline")
        module_name = f"weekend_pipeline_{path.stem}"
        spec = importlib.util.spec_from_file_location(module_name, path)
        if spec is None or spec.loader is None:  # pragma: no cover - a .py file always has one
            raise NotFoundError(f"cannot import {where!r}", field="pipeline")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
    else:
        if root is not None and str(root) not in sys.path:
            sys.path.insert(0, str(root))
        try:
            module = importlib.import_module(where)
        except ModuleNotFoundError as exc:
            raise NotFoundError(
                f"cannot import module {where!r}: {exc}", field="pipeline"
            ) from None
    found = getattr(module, name, None)
    if not isinstance(found, Pipeline):
        raise NotFoundError(
            f"{ref!r} is not a function decorated with @pipeline (found {found!r:.80})",
            field="pipeline",
        )
    return found
