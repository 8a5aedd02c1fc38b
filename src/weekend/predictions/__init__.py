"""The prediction log: every prediction served, durable, with the labels that came later.

The public names of the package; other packages import from here, never from a
``_module``. They load on first use:

- the service: :class:`PredictionLogs` (``ws.predictions``: ``open_log``, ``scan``,
  ``relation``, ``segments``, ``feedback``, ``labels``, ``prune``) and :class:`PruneReport`;
- the writer: :class:`PredictionLog` (``append`` without blocking, ``flush``, ``close``,
  ``stats``) and :class:`LogStats`, with its defaults :data:`FLUSH_ROWS`,
  :data:`FLUSH_SECONDS`, :data:`MAX_BUFFER_ROWS`;
- the records: :data:`SCHEMA` (the fixed columns of every row), :data:`ROUTES`,
  :data:`INPUT_PREFIX` and :data:`OUTPUT_PREFIX`, :class:`Segment`, :class:`Feedback`;
- feedback checks shared with the HTTP route: :func:`check_feedback`, :data:`MAX_ITEMS`;
- :func:`duration_seconds` (``"90d"``, ``"12h"`` ... as seconds).

See ``docs/serving.md`` (The prediction log).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from weekend.core.lazy import lazy_attributes

if TYPE_CHECKING:
    from weekend.predictions._feedback import MAX_ITEMS, Feedback, check_feedback
    from weekend.predictions._log import (
        FLUSH_ROWS,
        FLUSH_SECONDS,
        MAX_BUFFER_ROWS,
        LogStats,
        PredictionLog,
    )
    from weekend.predictions._records import INPUT_PREFIX, OUTPUT_PREFIX, ROUTES, SCHEMA
    from weekend.predictions._retention import duration_seconds
    from weekend.predictions._segments import Segment
    from weekend.predictions.logs import PredictionLogs, PruneReport

_FEEDBACK = "weekend.predictions._feedback"
_LOG = "weekend.predictions._log"
_RECORDS = "weekend.predictions._records"
_LOGS = "weekend.predictions.logs"

_LAZY = {
    "FLUSH_ROWS": _LOG,
    "FLUSH_SECONDS": _LOG,
    "Feedback": _FEEDBACK,
    "INPUT_PREFIX": _RECORDS,
    "LogStats": _LOG,
    "MAX_BUFFER_ROWS": _LOG,
    "MAX_ITEMS": _FEEDBACK,
    "OUTPUT_PREFIX": _RECORDS,
    "PredictionLog": _LOG,
    "PredictionLogs": _LOGS,
    "PruneReport": _LOGS,
    "ROUTES": _RECORDS,
    "SCHEMA": _RECORDS,
    "Segment": "weekend.predictions._segments",
    "check_feedback": _FEEDBACK,
    "duration_seconds": "weekend.predictions._retention",
}

__all__ = [
    "FLUSH_ROWS",
    "FLUSH_SECONDS",
    "INPUT_PREFIX",
    "MAX_BUFFER_ROWS",
    "MAX_ITEMS",
    "OUTPUT_PREFIX",
    "ROUTES",
    "SCHEMA",
    "Feedback",
    "LogStats",
    "PredictionLog",
    "PredictionLogs",
    "PruneReport",
    "Segment",
    "check_feedback",
    "duration_seconds",
]
__getattr__ = lazy_attributes(__name__, _LAZY)
