"""weekend: from raw data to a monitored, self-retraining production model in a long weekend.

import weekend as wk
ws = wk.open()
with ws.runs.start(experiment="churn", params={"lr": 0.1}) as run:
    run.log_metric("auc", 0.91)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from weekend.core.errors import (
    CatalogVersionError,
    ConfigurationError,
    ConflictError,
    DataValidationError,
    FilterSyntaxError,
    IntegrityError,
    InvalidNameError,
    InvalidValueError,
    NotFoundError,
    ParamConflictError,
    UnsafeModelError,
    UserCodeError,
    UserInputError,
    WeekendError,
)

if TYPE_CHECKING:
    from weekend.data._expectations import Expectation
    from weekend.data._ingest import Query
    from weekend.features._definitions import (
        Entity,
        FeatureService,
        FeatureView,
        OnDemandFeatureView,
    )
    from weekend.features._types import DatasetSource
    from weekend.workspace import Workspace

__version__ = "0.1.0"

__all__ = [
    "CatalogVersionError",
    "ConfigurationError",
    "ConflictError",
    "DataValidationError",
    "DatasetSource",
    "Entity",
    "Expectation",
    "FeatureService",
    "FeatureView",
    "FilterSyntaxError",
    "IntegrityError",
    "InvalidNameError",
    "InvalidValueError",
    "NotFoundError",
    "OnDemandFeatureView",
    "ParamConflictError",
    "Query",
    "UnsafeModelError",
    "UserCodeError",
    "UserInputError",
    "WeekendError",
    "Workspace",
    "__version__",
    "init",
    "open",
]


def open(path: Any = None) -> Workspace:  # the SDK's verb, like io.open
    """Open the project at or above ``path`` (default: the current folder)."""
    from weekend.workspace import open_workspace

    return open_workspace(path)


def init(path: Any = ".") -> Workspace:
    """Create a project in ``path`` and open it."""
    from weekend.workspace import init_workspace

    return init_workspace(path)


_LAZY = {
    "DatasetSource": "weekend.features._types",
    "Entity": "weekend.features._definitions",
    "Expectation": "weekend.data._expectations",
    "FeatureService": "weekend.features._definitions",
    "FeatureView": "weekend.features._definitions",
    "OnDemandFeatureView": "weekend.features._definitions",
    "Query": "weekend.data._ingest",
}


def __getattr__(name: str) -> Any:
    if name == "Workspace":
        from weekend.workspace import Workspace

        return Workspace
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'weekend' has no attribute {name!r}")
