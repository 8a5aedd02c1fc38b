"""The feature store: definitions, point-in-time training sets, online serving.

::

    import weekend as wk

    driver = wk.Entity("driver", join_keys=["driver_id"])
    stats = wk.FeatureView(
        "driver_stats", entities=[driver], source="data/driver_stats.parquet",
        timestamp_field="event_ts", features={"trips": "int64", "rating": "float64"}, ttl="7d",
    )
    ws = wk.open()
    ws.features.apply([driver, stats])
    train = ws.features.training_set(orders, ["driver_stats:trips", "driver_stats:rating"])
    ws.features.materialize_incremental()
    ws.features.online([{"driver_id": 1001}], ["driver_stats:trips"])

The definitions are importable without heavy dependencies; the service classes load on
first use. The rules are in ``docs/features.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from weekend.core.lazy import lazy_attributes
from weekend.data import Query
from weekend.features._definitions import (
    DatasetSource,
    Entity,
    FeatureService,
    FeatureView,
    FileSource,
    OnDemandFeatureView,
    load_definitions,
)

if TYPE_CHECKING:
    from weekend.features._materialize import MaterializeResult
    from weekend.features._registry import DefinitionRecord, Plan, PlanItem
    from weekend.features._resolve import OnDemandUse, Output, Selection, ViewUse
    from weekend.features._skew import Mismatch, SkewReport
    from weekend.features._types import format_duration
    from weekend.features.online import OnlineResult, WriteResult
    from weekend.features.store import FeatureStore

_LAZY = {
    "DefinitionRecord": "weekend.features._registry",
    "FeatureStore": "weekend.features.store",
    "MaterializeResult": "weekend.features._materialize",
    "Mismatch": "weekend.features._skew",
    "OnDemandUse": "weekend.features._resolve",
    "OnlineResult": "weekend.features.online",
    "Output": "weekend.features._resolve",
    "Plan": "weekend.features._registry",
    "PlanItem": "weekend.features._registry",
    "Selection": "weekend.features._resolve",
    "SkewReport": "weekend.features._skew",
    "ViewUse": "weekend.features._resolve",
    "WriteResult": "weekend.features.online",
    "format_duration": "weekend.features._types",
}

__all__ = [
    "DatasetSource",
    "DefinitionRecord",
    "Entity",
    "FeatureService",
    "FeatureStore",
    "FeatureView",
    "FileSource",
    "MaterializeResult",
    "Mismatch",
    "OnDemandFeatureView",
    "OnDemandUse",
    "OnlineResult",
    "Output",
    "Plan",
    "PlanItem",
    "Query",
    "Selection",
    "SkewReport",
    "ViewUse",
    "WriteResult",
    "format_duration",
    "load_definitions",
]


__getattr__ = lazy_attributes(__name__, _LAZY)
