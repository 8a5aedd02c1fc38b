"""Features a model was trained on, read from the online store for rows that carry only keys.

A model version records the feature views (and their versions) its training set was built
from (``lineage["features"]``). :func:`feature_plan` maps each input column of its signature
to the feature of those views that produced it (``trips`` to ``driver_stats:trips``, or
``driver_stats__trips`` with full feature names), on-demand views included. At request time
a row that lacks such a column gets it from ``ws.features.online``: the same resolution, the
same ttl rule and the same on-demand code as the point-in-time join that built the training
set, so the values served are the values trained on.

A view whose current version is not the one the model recorded would serve other values
than it was trained on; rows that need it are refused (HTTP 503, ``ConfigurationError``)
until the model is retrained or the view is applied as it was. Rows that carry every
feature are served either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from weekend.core.errors import ConfigurationError, WeekendError
from weekend.features.store import to_ns
from weekend.serving._rows import MISSING, Rows

if TYPE_CHECKING:
    from weekend.features import FeatureStore
    from weekend.registry import ModelVersion


@dataclass(frozen=True)
class FeaturePlan:
    """Which input columns come from which feature, and whether they can be served."""

    refs: dict[str, str]
    """Signature column -> ``view:feature``."""
    full_feature_names: bool = False
    versions: dict[str, int] | None = None
    """The view versions the model recorded."""
    problem: str | None = None
    """Why lookups are refused (None: they are served)."""

    def needed(self, rows: Rows) -> list[str]:
        """The feature columns some row of ``rows`` lacks."""
        out = []
        for column in self.refs:
            values = rows.columns.get(column)
            if values is None or MISSING in values:
                out.append(column)
        return out

    def fill(self, store: FeatureStore, rows: Rows, columns: list[str]) -> None:
        """Read ``columns`` for every row from the online store, and fill the gaps."""
        if self.problem is not None:
            raise ConfigurationError(self.problem, field=rows.field(0, columns[0]))
        refs = [self.refs[c] for c in columns]
        if rows.now is not None:
            try:
                to_ns(rows.now, "now")
            except WeekendError as exc:
                exc.field = "now"
                raise
        try:
            result = store.online(
                rows.dicts(), refs, now=rows.now, full_feature_names=self.full_feature_names
            )
        except WeekendError as exc:
            exc.field = exc.field or rows.prefix
            raise
        for column in columns:
            read = [row.get(column) for row in result.rows]
            values = rows.columns.get(column)
            if values is None:
                rows.columns[column] = read
            else:
                rows.columns[column] = [
                    read[i] if v is MISSING else v for i, v in enumerate(values)
                ]

    def probe(self, store: FeatureStore) -> None:
        """One read from the online store (raises when it cannot be reached)."""
        view, _, feature = next(iter(self.refs.values())).partition(":")
        found = store.get_view(view)
        sources = [view]
        if not hasattr(found, "join_keys"):  # an on-demand view: probe its first source
            sources = list(getattr(found, "source_names", ()))
            if not sources:
                return
            found = store.get_view(sources[0])
            feature = next(iter(found.features))
        keys = list(getattr(found, "join_keys", ()))
        if not keys:
            return
        probe = dict.fromkeys(keys, "__weekend_probe__")
        store.online_store.read(sources[0], keys, [probe], [feature])


def _columns_of(
    store: FeatureStore, views: dict[str, int]
) -> tuple[dict[str, str], dict[str, str]]:
    """(short name -> ref, full name -> ref) of every feature of ``views``."""
    short: dict[str, str] = {}
    full: dict[str, str] = {}
    for view in views:
        found = store.get_view(view)
        for feature in found.features:
            short.setdefault(feature, f"{view}:{feature}")
            full[f"{view}__{feature}"] = f"{view}:{feature}"
    return short, full


def feature_plan(store: FeatureStore, version: ModelVersion) -> FeaturePlan | None:
    """The plan of ``version`` (None: it recorded no feature view, or has no signature)."""
    recorded = version.lineage.get("features") or []
    views = {str(item["view"]): int(item["version"]) for item in recorded}
    if not views or version.signature is None:
        return None
    try:
        short, full = _columns_of(store, views)
    except WeekendError as exc:
        return FeaturePlan({}, versions=views, problem=f"{version.ref}: {exc}")
    names = version.signature.names
    by_full = {c: full[c] for c in names if c in full}
    by_short = {c: short[c] for c in names if c in short}
    use_full = len(by_full) > len(by_short)
    refs = by_full if use_full else by_short
    if not refs:
        return None
    return FeaturePlan(refs, use_full, views, _version_problem(store, version, refs, use_full))


def _version_problem(
    store: FeatureStore, version: ModelVersion, refs: dict[str, str], full: bool
) -> str | None:
    recorded = version.lineage.get("features") or []
    views = {str(item["view"]): int(item["version"]) for item in recorded}
    try:
        current = store.select(list(refs.values()), full_feature_names=full).versions()
    except WeekendError as exc:
        return f"the features of {version.ref} cannot be read online: {exc}"
    moved: list[Any] = [
        f"{view!r} is at version {current[view]}, {version.ref} was trained on version {number}"
        for view, number in views.items()
        if view in current and current[view] != number
    ]
    if not moved:
        return None
    return (
        f"feature view {'; '.join(moved)}: the online store serves the current version, so "
        "rows without these features cannot be scored faithfully; send the features, "
        "retrain the model on the current views, or apply the views it was trained on"
    )


__all__ = ["FeaturePlan", "feature_plan"]
