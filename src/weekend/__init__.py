"""weekend: from raw data to a monitored, self-retraining production model in a long weekend.

import weekend as wk
ws = wk.open()
with ws.runs.start(experiment="churn", params={"lr": 0.1}) as run:
    run.log_metric("auc", 0.91)

The names below are the SDK: the workspace and its verbs, the definitions users write
(entities, feature views, expectations, queries), the records the services return, and the
one error tree. Each domain's own public module (``weekend.data``, ``weekend.tracking``,
``weekend.registry``, ``weekend.features``) lists the rest of its names; everything in a
``_module`` is private. The names load on first use: ``import weekend`` stays light.
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
from weekend.core.lazy import lazy_attributes as _lazy_attributes

if TYPE_CHECKING:
    from pathlib import Path

    from weekend.data import (
        DatasetDiff,
        Datasets,
        DatasetVersion,
        Expectation,
        Profile,
        Query,
        Schema,
        ValidationReport,
    )
    from weekend.features import (
        DatasetSource,
        Entity,
        FeatureService,
        FeatureStore,
        FeatureView,
        FileSource,
        OnDemandFeatureView,
    )
    from weekend.pipelines import pipeline, step
    from weekend.registry import (
        BatchResult,
        Evaluation,
        LoadedVersion,
        Models,
        ModelVersion,
        Signature,
    )
    from weekend.tracking import Experiment, Experiments, Run, RunRecord, Runs
    from weekend.workspace import Workspace

__version__ = "0.1.0"

_LAZY = {
    **dict.fromkeys(
        [
            "DatasetDiff",
            "DatasetVersion",
            "Datasets",
            "Expectation",
            "Profile",
            "Query",
            "Schema",
            "ValidationReport",
        ],
        "weekend.data",
    ),
    **dict.fromkeys(
        [
            "DatasetSource",
            "Entity",
            "FeatureService",
            "FeatureStore",
            "FeatureView",
            "FileSource",
            "OnDemandFeatureView",
        ],
        "weekend.features",
    ),
    **dict.fromkeys(
        ["BatchResult", "Evaluation", "LoadedVersion", "ModelVersion", "Models", "Signature"],
        "weekend.registry",
    ),
    **dict.fromkeys(["Experiment", "Experiments", "Run", "RunRecord", "Runs"], "weekend.tracking"),
    "Workspace": "weekend.workspace",
    "pipeline": "weekend.pipelines",
    "step": "weekend.pipelines",
}

__all__ = [
    "BatchResult",
    "CatalogVersionError",
    "ConfigurationError",
    "ConflictError",
    "DataValidationError",
    "DatasetDiff",
    "DatasetSource",
    "DatasetVersion",
    "Datasets",
    "Entity",
    "Evaluation",
    "Expectation",
    "Experiment",
    "Experiments",
    "FeatureService",
    "FeatureStore",
    "FeatureView",
    "FileSource",
    "FilterSyntaxError",
    "IntegrityError",
    "InvalidNameError",
    "InvalidValueError",
    "LoadedVersion",
    "ModelVersion",
    "Models",
    "NotFoundError",
    "OnDemandFeatureView",
    "ParamConflictError",
    "Profile",
    "Query",
    "Run",
    "RunRecord",
    "Runs",
    "Schema",
    "Signature",
    "UnsafeModelError",
    "UserCodeError",
    "UserInputError",
    "ValidationReport",
    "WeekendError",
    "Workspace",
    "__version__",
    "init",
    "open",
    "pipeline",
    "step",
]


def open(path: str | Path | None = None) -> Workspace:  # the SDK's verb, like io.open
    """Open the project at or above ``path`` (default: the current folder)."""
    from weekend.workspace import open_workspace

    return open_workspace(path)


def init(path: str | Path = ".") -> Workspace:
    """Create a project in ``path`` (or keep the one there) and open it."""
    from weekend.workspace import init_workspace

    return init_workspace(path)


__getattr__: Any = _lazy_attributes(__name__, _LAZY)
