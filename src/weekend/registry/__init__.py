"""The model registry: versions, aliases, safe formats, lineage, gates and promotion.

The public names of the registry; other packages import from here, never from a ``_module``.
They load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from weekend.core.lazy import lazy_attributes

if TYPE_CHECKING:
    from weekend.registry._evaluate import Evaluation, GateResult, Scores, SliceResult
    from weekend.registry._flavors import Flavor, LoadedModel
    from weekend.registry._loaded import LoadedVersion
    from weekend.registry._predict import BatchResult
    from weekend.registry._signature import ColumnSpec, OutputSpec, Signature
    from weekend.registry._store import AliasEvent, ModelRef, ModelVersion, RegisteredModel
    from weekend.registry.models import Models

_LAZY = {
    "AliasEvent": "weekend.registry._store",
    "BatchResult": "weekend.registry._predict",
    "ColumnSpec": "weekend.registry._signature",
    "Evaluation": "weekend.registry._evaluate",
    "Flavor": "weekend.registry._flavors",
    "GateResult": "weekend.registry._evaluate",
    "LoadedModel": "weekend.registry._flavors",
    "LoadedVersion": "weekend.registry._loaded",
    "ModelRef": "weekend.registry._store",
    "ModelVersion": "weekend.registry._store",
    "Models": "weekend.registry.models",
    "OutputSpec": "weekend.registry._signature",
    "RegisteredModel": "weekend.registry._store",
    "Scores": "weekend.registry._evaluate",
    "Signature": "weekend.registry._signature",
    "SliceResult": "weekend.registry._evaluate",
}

__all__ = [
    "AliasEvent",
    "BatchResult",
    "ColumnSpec",
    "Evaluation",
    "Flavor",
    "GateResult",
    "LoadedModel",
    "LoadedVersion",
    "ModelRef",
    "ModelVersion",
    "Models",
    "OutputSpec",
    "RegisteredModel",
    "Scores",
    "Signature",
    "SliceResult",
]

__getattr__ = lazy_attributes(__name__, _LAZY)
