"""The report of served traffic: one :class:`WindowReport` per window, and their JSON twin.

Times are microseconds since the epoch (UTC) in the objects and ISO text in the JSON.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import orjson

from weekend.monitoring._quality import missing_share

if TYPE_CHECKING:
    import pandas as pd

    from weekend.monitoring.stats import DriftResult, Estimate

FORMAT = 1
"""The version of the JSON twin's layout."""


def iso(us: int) -> str:
    """Microseconds since the epoch as ISO 8601 text in UTC."""
    moment = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=us)
    return moment.isoformat().replace("+00:00", "Z")


def clean(value: Any) -> Any:
    """``value`` with non-finite floats as None, ready for JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    return value


@dataclass(frozen=True)
class WindowReport:
    """One window of served traffic: volume, latency, data quality, drift and performance.

    ``drift`` compares the input features with the model version's reference;
    ``prediction_drift`` the scores and classes with the reference period (the first
    window); ``realized`` holds the metrics on the labelled rows (``label_coverage`` their
    share) and ``estimated`` the label-free estimate, where the model allows one.
    """

    index: int
    start_us: int
    end_us: int
    rows: int
    latency_ms_p50: float | None
    latency_ms_p95: float | None
    quality: Mapping[str, Mapping[str, Any]]
    drift: DriftResult | None
    prediction_drift: DriftResult | None
    label_coverage: float
    realized: Mapping[str, float | None]
    estimated: Estimate | None
    notes: tuple[str, ...] = ()

    @property
    def drifted(self) -> list[str]:
        return [] if self.drift is None else self.drift.drifted

    @property
    def share_drifted(self) -> float:
        return 0.0 if self.drift is None else self.drift.share_drifted

    @property
    def missing_share(self) -> float:
        return missing_share(self.quality)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = clean(
            {
                "index": self.index,
                "start": iso(self.start_us),
                "end": iso(self.end_us),
                "rows": self.rows,
                "latency_ms_p50": self.latency_ms_p50,
                "latency_ms_p95": self.latency_ms_p95,
                "missing_share": self.missing_share,
                "quality": self.quality,
                "drifted": self.drifted,
                "share_drifted": self.share_drifted,
                "drift": None if self.drift is None else self.drift.to_dict(),
                "prediction_drift": (
                    None if self.prediction_drift is None else self.prediction_drift.to_dict()
                ),
                "label_coverage": self.label_coverage,
                "realized": dict(self.realized),
                "estimated": None if self.estimated is None else self.estimated.to_dict(),
                "notes": list(self.notes),
            }
        )
        return data


@dataclass(frozen=True)
class ServedReport:
    """A model version's served traffic between ``start`` and ``end``, window by window.

    ``drifted`` lists the drifting features of the latest window; ``distributions`` holds,
    per feature, the reference's and the latest window's histogram (the report's plots).
    ``id`` is set once the report is stored (``ws.monitor.report(..., store=True)``).
    """

    model: str
    version: int
    task: str
    start_us: int
    end_us: int
    window: str
    reference: str
    windows: tuple[WindowReport, ...]
    distributions: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    skipped: Mapping[str, str] = field(default_factory=dict)
    id: str | None = None
    created_at: int = 0

    @property
    def ref(self) -> str:
        return f"{self.model}/{self.version}"

    @property
    def latest(self) -> WindowReport | None:
        return self.windows[-1] if self.windows else None

    @property
    def drifted(self) -> list[str]:
        latest = self.latest
        return [] if latest is None else latest.drifted

    @property
    def rows(self) -> int:
        return sum(w.rows for w in self.windows)

    def with_id(self, report_id: str, created_at: int) -> ServedReport:
        return replace(self, id=report_id, created_at=created_at)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = clean(
            {
                "format": FORMAT,
                "kind": "served",
                "id": self.id,
                "model": self.model,
                "version": self.version,
                "task": self.task,
                "start": iso(self.start_us),
                "end": iso(self.end_us),
                "window": self.window,
                "reference": self.reference,
                "rows": self.rows,
                "drifted": self.drifted,
                "skipped": dict(self.skipped),
                "windows": [w.to_dict() for w in self.windows],
                "distributions": self.distributions,
            }
        )
        return data

    def to_json(self) -> bytes:
        return orjson.dumps(self.to_dict(), option=orjson.OPT_INDENT_2)

    def to_frame(self) -> pd.DataFrame:
        """One row per window: time span, rows, drift share, missing share, coverage and
        the realized and estimated metrics (``realized.<m>``, ``estimated.<m>``)."""
        import pandas as pd

        rows = []
        for w in self.windows:
            row: dict[str, Any] = {
                "start": pd.Timestamp(w.start_us, unit="us", tz="UTC"),
                "end": pd.Timestamp(w.end_us, unit="us", tz="UTC"),
                "rows": w.rows,
                "share_drifted": w.share_drifted,
                "drifted": ", ".join(w.drifted),
                "missing_share": w.missing_share,
                "latency_ms_p95": w.latency_ms_p95,
                "label_coverage": w.label_coverage,
            }
            row.update({f"realized.{k}": v for k, v in w.realized.items()})
            if w.estimated is not None:
                row.update({f"estimated.{k}": m.value for k, m in w.estimated.metrics.items()})
            rows.append(row)
        return pd.DataFrame(rows)


__all__ = ["FORMAT", "ServedReport", "WindowReport", "clean", "iso"]
