"""Monitoring: data and prediction drift with controlled false alarms, and performance.

The public names of the monitoring domain; everything else in this package is private. They
load on first use, so that ``import weekend`` stays fast. Grouped:

- statistics (:mod:`weekend.monitoring.stats`, pure numpy/scipy, no I/O):
  :func:`compare_columns`, :func:`prepare_reference`, :class:`DriftResult`,
  :class:`ColumnDrift`, :class:`Distribution`, :class:`Counts`, :class:`Reference`,
  :class:`Reservoir`;
- label-free performance estimation: :func:`estimate_performance`,
  :class:`PerformanceEstimator`, :class:`Estimate`, :class:`MetricEstimate`;
- comparing two tables: :func:`compare_tables`, :class:`DriftReport` (``ws.monitor.compare``);
- the service: :class:`Monitor` (``ws.monitor``); served traffic: :class:`ServedReport`,
  :class:`WindowReport`; stored reports and alerts: :class:`StoredReport`, :class:`Alert`,
  :class:`AlertPolicy`, :class:`Action`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from weekend.core.lazy import lazy_attributes

if TYPE_CHECKING:
    from weekend.monitoring._alerts import Action, AlertPolicy
    from weekend.monitoring._compare import DriftReport, compare_tables
    from weekend.monitoring._report import ServedReport, WindowReport
    from weekend.monitoring._store import Alert, StoredReport
    from weekend.monitoring.service import Monitor
    from weekend.monitoring.stats import (
        ColumnDrift,
        Counts,
        Distribution,
        DriftResult,
        Estimate,
        MetricEstimate,
        PerformanceEstimator,
        Reference,
        Reservoir,
        compare_columns,
        estimate_performance,
        prepare_reference,
    )

_STATS = "weekend.monitoring.stats"
_LAZY = {
    "Action": "weekend.monitoring._alerts",
    "Alert": "weekend.monitoring._store",
    "AlertPolicy": "weekend.monitoring._alerts",
    "ServedReport": "weekend.monitoring._report",
    "StoredReport": "weekend.monitoring._store",
    "WindowReport": "weekend.monitoring._report",
    "ColumnDrift": _STATS,
    "Counts": _STATS,
    "Distribution": _STATS,
    "DriftReport": "weekend.monitoring._compare",
    "DriftResult": _STATS,
    "Estimate": _STATS,
    "MetricEstimate": _STATS,
    "Monitor": "weekend.monitoring.service",
    "PerformanceEstimator": _STATS,
    "Reference": _STATS,
    "Reservoir": _STATS,
    "compare_columns": _STATS,
    "compare_tables": "weekend.monitoring._compare",
    "estimate_performance": _STATS,
    "prepare_reference": _STATS,
}

__all__ = [
    "Action",
    "Alert",
    "AlertPolicy",
    "ColumnDrift",
    "Counts",
    "Distribution",
    "DriftReport",
    "DriftResult",
    "Estimate",
    "MetricEstimate",
    "Monitor",
    "PerformanceEstimator",
    "Reference",
    "Reservoir",
    "ServedReport",
    "StoredReport",
    "WindowReport",
    "compare_columns",
    "compare_tables",
    "estimate_performance",
    "prepare_reference",
]

__getattr__ = lazy_attributes(__name__, _LAZY)
