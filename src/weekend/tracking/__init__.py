"""Experiment tracking: runs, their params, metrics, tags and artifacts, and experiments.

The public names of the tracking domain; other packages import from here, never from a
``_module``. They load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from weekend.core.lazy import lazy_attributes

if TYPE_CHECKING:
    from weekend.tracking._run import ModelRegistrar, Run
    from weekend.tracking._store import MetricPoint
    from weekend.tracking.experiments import Experiment, Experiments
    from weekend.tracking.runs import GcReport, RunRecord, Runs

_LAZY = {
    "Experiment": "weekend.tracking.experiments",
    "Experiments": "weekend.tracking.experiments",
    "GcReport": "weekend.tracking.runs",
    "MetricPoint": "weekend.tracking._store",
    "ModelRegistrar": "weekend.tracking._run",
    "Run": "weekend.tracking._run",
    "RunRecord": "weekend.tracking.runs",
    "Runs": "weekend.tracking.runs",
}

__all__ = [
    "Experiment",
    "Experiments",
    "GcReport",
    "MetricPoint",
    "ModelRegistrar",
    "Run",
    "RunRecord",
    "Runs",
]


__getattr__ = lazy_attributes(__name__, _LAZY)
