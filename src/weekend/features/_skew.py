"""Training-serving skew check: online values against offline point-in-time values.

For a sample of the view's entities (a deterministic hash order of its distinct keys), the
offline answer is the point-in-time join at time ``at`` (same ttl) and the online answer is the
online store read with ``now = at``. Both must agree on whether there is a value, on its event
timestamp and on every feature (floats within a relative 1e-9, NaN equals NaN).

The default ``at`` is the end of the latest materialization of this view version into the
store (minus one nanosecond, since windows are half-open), or the current time when the view
was never materialized or has pushed rows (pushes may be newer than any materialization).
"""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from weekend.core.sql import quote_ident
from weekend.features._definitions import FeatureView
from weekend.features._online import check_keys
from weekend.features._pit import ViewSpec, point_in_time_join
from weekend.features._sources import OfflineSession
from weekend.features._training import cast_features
from weekend.features.online import OnlineStore, datetime_to_ns

KINDS = ("missing_online", "missing_offline", "event_time", "value")
_TS = "__wk_skew_ts"


@dataclass(frozen=True)
class Mismatch:
    """One disagreement: ``kind`` is missing_online, missing_offline, event_time or value."""

    key: dict[str, Any]
    kind: str
    feature: str | None
    offline: Any
    online: Any

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "kind": self.kind,
            "feature": self.feature,
            "offline": _jsonable(self.offline),
            "online": _jsonable(self.online),
        }


@dataclass(frozen=True)
class SkewReport:
    """The result of a skew check: ``mismatched`` of ``sampled`` entities disagree."""

    view: str
    version: int
    at: datetime.datetime
    sampled: int
    mismatched: int
    by_kind: dict[str, int] = field(default_factory=dict)
    by_feature: dict[str, int] = field(default_factory=dict)
    examples: tuple[Mismatch, ...] = ()

    @property
    def ok(self) -> bool:
        return self.mismatched == 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "view": self.view,
            "version": self.version,
            "at": self.at.isoformat(),
            "sampled": self.sampled,
            "mismatched": self.mismatched,
            "ok": self.ok,
            "by_kind": self.by_kind,
            "by_feature": self.by_feature,
            "examples": [m.to_dict() for m in self.examples],
        }


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def _normal(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        return datetime_to_ns(value, "value")
    return value


def same(a: Any, b: Any) -> bool:
    """Equal feature values: floats within a relative 1e-9, NaN equal to NaN."""
    a, b = _normal(a), _normal(b)
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None:
            return a is b
        x, y = float(a), float(b)
        if math.isnan(x) or math.isnan(y):
            return math.isnan(x) and math.isnan(y)
        return math.isclose(x, y, rel_tol=1e-9, abs_tol=0.0)
    return bool(a == b)


def sample_keys(session: OfflineSession, view: FeatureView, sample: int, seed: int) -> pa.Table:
    keys = [quote_ident(k) for k in view.join_keys]
    not_null = " AND ".join(f"{k} IS NOT NULL" for k in keys)
    sql = (
        f"SELECT DISTINCT {', '.join(keys)} FROM {session.from_sql(view)} WHERE {not_null} "
        f"ORDER BY hash({', '.join(keys)}, {int(seed)}), {', '.join(keys)} LIMIT {int(sample)}"
    )
    return session.con.sql(sql).to_arrow_table()


def _offline(
    session: OfflineSession, view: FeatureView, keys: pa.Table, at_ns: int
) -> tuple[list[int | None], dict[str, list[Any]]]:
    """Each key's offline event time (ns) and feature values as of ``at_ns``."""
    at = pa.array([at_ns] * keys.num_rows, pa.int64()).cast(pa.timestamp("ns", tz="UTC"))
    spec = ViewSpec(
        name=view.name,
        source=session.from_sql(view),
        join_keys=view.join_keys,
        timestamp_field=view.timestamp_field,
        features=(*view.features, view.timestamp_field),
        created_timestamp_field=view.created_timestamp_field,
        ttl=view.window,
    )
    offline = point_in_time_join(
        session.con,
        keys.append_column(_TS, at),
        [spec],
        timestamp_column=_TS,
        full_feature_names=True,
    )
    columns = {f: f"{view.name}__{f}" for f in view.features}
    offline = cast_features(offline, view, columns)
    stamp_column = offline.column(f"{view.name}__{view.timestamp_field}")
    offline_ns = stamp_column.cast(pa.timestamp("ns", tz="UTC")).cast(pa.int64()).to_pylist()
    return offline_ns, {f: offline.column(c).to_pylist() for f, c in columns.items()}


def _mismatches(
    key: dict[str, Any],
    off: int | None,
    on: int | None,
    offline: dict[str, Any],
    online: dict[str, Any],
) -> list[Mismatch]:
    """What differs for one key: presence, event time, then each feature's value."""
    if off is not None and on is None:
        return [Mismatch(key, "missing_online", None, _iso(off), None)]
    if off is None and on is not None:
        return [Mismatch(key, "missing_offline", None, None, _iso(on))]
    if off is None or on is None:
        return []
    if off != on:
        return [Mismatch(key, "event_time", None, _iso(off), _iso(on))]
    return [
        Mismatch(key, "value", feature, a, online[feature])
        for feature, a in offline.items()
        if not same(a, online[feature])
    ]


def check_skew(
    session: OfflineSession,
    store: OnlineStore,
    view: FeatureView,
    version: int,
    *,
    at_ns: int,
    sample: int,
    seed: int,
    examples: int,
) -> SkewReport:
    import pandas as pd

    keys = sample_keys(session, view, sample, seed)
    check_keys(view, keys)
    offline_ns, offline_values = _offline(session, view, keys, at_ns)
    at_time = pd.Timestamp(at_ns, tz="UTC")
    online = store.read(
        view.name, list(view.join_keys), keys, list(view.features), ttl=view.window, now=at_time
    )
    online_ns = online.event_ns[view.name]
    by_kind = dict.fromkeys(KINDS, 0)
    by_feature = dict.fromkeys(view.features, 0)
    found: list[Mismatch] = []
    mismatched = 0
    for i, key in enumerate(keys.to_pylist()):
        offline = {f: values[i] for f, values in offline_values.items()}
        row = _mismatches(key, offline_ns[i], online_ns[i], offline, online.rows[i])
        if row:
            mismatched += 1
            for item in row:
                by_kind[item.kind] += 1
                if item.feature is not None:
                    by_feature[item.feature] += 1
            found.extend(row[: max(0, examples - len(found))])
    return SkewReport(
        view=view.name,
        version=version,
        at=at_time,
        sampled=keys.num_rows,
        mismatched=mismatched,
        by_kind=by_kind,
        by_feature=by_feature,
        examples=tuple(found[:examples]),
    )


def _iso(ns: int) -> str:
    import pandas as pd

    return str(pd.Timestamp(ns, tz="UTC").isoformat())


__all__ = ["KINDS", "Mismatch", "SkewReport", "check_skew", "same"]
