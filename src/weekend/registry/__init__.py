"""The model registry: versions, aliases, safe formats, lineage, gates and promotion.

The public names of the registry; other packages import from here, never from a ``_module``.
They load on first use. Grouped:

- the service and its records: :class:`Models` (``ws.models``), :class:`ModelVersion`,
  :class:`RegisteredModel`, :class:`AliasEvent`, :data:`ModelRef`;
- loading and predicting: :class:`LoadedVersion`, :class:`BatchResult`,
  :class:`PackageVersionWarning`; the compiled fast path (``loaded.compiled()``):
  :class:`CompiledModel`, :class:`CompileCheck`, :class:`Attempt`;
- signatures: :class:`Signature`, :class:`ColumnSpec`, :class:`OutputSpec`,
  :func:`infer_signature`;
- evaluations and promotion: :class:`Evaluation`, :class:`GateResult`, :class:`SliceResult`,
  :class:`Scores`, :class:`GateSyntaxError`, :class:`PromotionRefusedError`;
- the flavor contract, for new model formats: :class:`Flavor`, :class:`FlavorInfo`,
  :class:`LoadedModel`, :func:`register_flavor`, :func:`flavor_kinds`, :func:`flavor_for`,
  :func:`flavor_named`, :func:`save_model`, :func:`load_model` and the helpers a flavor's
  ``save`` and ``load`` use (:func:`atomic_path`, :func:`check_info`, :func:`model_file`,
  :data:`FORMAT_VERSION`). ``weekend.testing.flavor_checks`` is the contract's test suite.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from weekend.core.lazy import lazy_attributes

if TYPE_CHECKING:
    from weekend.registry._compiled import Attempt, CompileCheck, CompiledModel
    from weekend.registry._evaluate import Evaluation, GateResult, Scores, SliceResult
    from weekend.registry._flavors import (
        FORMAT_VERSION,
        Flavor,
        FlavorInfo,
        LoadedModel,
        atomic_path,
        check_info,
        flavor_for,
        flavor_kinds,
        flavor_named,
        load_model,
        model_file,
        register_flavor,
        save_model,
    )
    from weekend.registry._gates import GateSyntaxError
    from weekend.registry._loaded import LoadedVersion
    from weekend.registry._packages import PackageVersionWarning
    from weekend.registry._predict import BatchResult
    from weekend.registry._records import AliasEvent, ModelRef, ModelVersion, RegisteredModel
    from weekend.registry._signature import ColumnSpec, OutputSpec, Signature, infer_signature
    from weekend.registry.models import Models, PromotionRefusedError

_FLAVORS = "weekend.registry._flavors"
_RECORDS = "weekend.registry._records"
_EVALUATE = "weekend.registry._evaluate"
_SIGNATURE = "weekend.registry._signature"

_LAZY = {
    "AliasEvent": _RECORDS,
    "Attempt": "weekend.registry._compiled",
    "BatchResult": "weekend.registry._predict",
    "ColumnSpec": _SIGNATURE,
    "CompileCheck": "weekend.registry._compiled",
    "CompiledModel": "weekend.registry._compiled",
    "Evaluation": _EVALUATE,
    "FORMAT_VERSION": _FLAVORS,
    "Flavor": _FLAVORS,
    "FlavorInfo": _FLAVORS,
    "GateResult": _EVALUATE,
    "GateSyntaxError": "weekend.registry._gates",
    "LoadedModel": _FLAVORS,
    "LoadedVersion": "weekend.registry._loaded",
    "ModelRef": _RECORDS,
    "ModelVersion": _RECORDS,
    "Models": "weekend.registry.models",
    "OutputSpec": _SIGNATURE,
    "PackageVersionWarning": "weekend.registry._packages",
    "PromotionRefusedError": "weekend.registry.models",
    "RegisteredModel": _RECORDS,
    "Scores": _EVALUATE,
    "Signature": _SIGNATURE,
    "SliceResult": _EVALUATE,
    "atomic_path": _FLAVORS,
    "check_info": _FLAVORS,
    "flavor_for": _FLAVORS,
    "flavor_kinds": _FLAVORS,
    "flavor_named": _FLAVORS,
    "infer_signature": _SIGNATURE,
    "load_model": _FLAVORS,
    "model_file": _FLAVORS,
    "register_flavor": _FLAVORS,
    "save_model": _FLAVORS,
}

__all__ = [
    "FORMAT_VERSION",
    "AliasEvent",
    "Attempt",
    "BatchResult",
    "ColumnSpec",
    "CompileCheck",
    "CompiledModel",
    "Evaluation",
    "Flavor",
    "FlavorInfo",
    "GateResult",
    "GateSyntaxError",
    "LoadedModel",
    "LoadedVersion",
    "ModelRef",
    "ModelVersion",
    "Models",
    "OutputSpec",
    "PackageVersionWarning",
    "PromotionRefusedError",
    "RegisteredModel",
    "Scores",
    "Signature",
    "SliceResult",
    "atomic_path",
    "check_info",
    "flavor_for",
    "flavor_kinds",
    "flavor_named",
    "infer_signature",
    "load_model",
    "model_file",
    "register_flavor",
    "save_model",
]

__getattr__ = lazy_attributes(__name__, _LAZY)
