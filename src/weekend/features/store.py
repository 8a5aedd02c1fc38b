"""``ws.features``: the feature store service.

Definitions (:mod:`~weekend.features._definitions`) are applied to the catalog as versions
(:mod:`~weekend.features._registry`); training sets are point-in-time joins on DuckDB
(:mod:`~weekend.features._training`); materialization streams the latest values into the
online store (:mod:`~weekend.features._materialize`); online reads and pushes live in
:mod:`~weekend.features._online`, the skew check in :mod:`~weekend.features._skew`. This class
only wires them to one workspace, and caches resolved definitions for fast online reads (a
definition applied by another process is seen within ``refresh_seconds``).
"""

from __future__ import annotations

import builtins
import datetime
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Literal, overload

from weekend.core.errors import ConflictError, InvalidValueError, NotFoundError
from weekend.core.urls import redact_url
from weekend.features._definitions import (
    Definition,
    Entity,
    FeatureService,
    FeatureView,
    OnDemandFeatureView,
    load_definitions,
)
from weekend.features._materialize import (
    MaterializeResult,
    StartedBy,
    history,
    last_run,
    load_window,
    record_run,
    watermark,
)
from weekend.features._online import entity_rows as to_entity_rows
from weekend.features._online import prepare_push, read_online, write_pushed
from weekend.features._registry import VIEW_KINDS, DefinitionRecord, Plan, Registry
from weekend.features._resolve import Selection, select_features
from weekend.features._skew import SkewReport, check_skew
from weekend.features._sources import append_push_log, offline_session, push_dir
from weekend.features._training import build_training_set, entity_hash, entity_table
from weekend.features.online import (
    OnlineResult,
    OnlineStore,
    WriteResult,
    datetime_to_ns,
    open_online_store,
)

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from weekend.catalog import Catalog
    from weekend.core.settings import Settings
    from weekend.data.datasets import Datasets

View = FeatureView | OnDemandFeatureView
Progress = Callable[[str, int, int], None]
_KIND_ALIASES = {
    "entity": ("entity",),
    "entities": ("entity",),
    "feature_view": ("feature_view",),
    "on_demand_feature_view": ("on_demand_feature_view",),
    "view": VIEW_KINDS,
    "views": VIEW_KINDS,
    "feature_service": ("feature_service",),
    "service": ("feature_service",),
    "services": ("feature_service",),
}


def to_ns(value: object, what: str) -> int:
    """Nanoseconds since the epoch of a datetime, a date or ISO text (naive = UTC)."""
    if isinstance(value, str):
        import pandas as pd

        try:
            stamp = pd.Timestamp(value)
            if pd.isna(stamp):
                raise ValueError("not a time")
            if stamp.tzinfo is None:
                stamp = stamp.tz_localize("UTC")
            return int(stamp.as_unit("ns").value)
        except (ValueError, OverflowError) as exc:
            raise InvalidValueError(
                f"{what} must be a datetime or ISO 8601 text like '2024-01-31T12:00:00Z' "
                f"within the years 1677 to 2262, got {value!r:.80}"
            ) from exc
    if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
        value = datetime.datetime(value.year, value.month, value.day, tzinfo=datetime.UTC)
    return datetime_to_ns(value, what)


class FeatureStore:
    """Feature definitions, training sets, materialization, online reads, pushes, skew checks."""

    refresh_seconds: float = 1.0

    def __init__(self, catalog: Catalog, settings: Settings, *, datasets: Datasets) -> None:
        self._catalog = catalog
        self._settings = settings
        self._datasets = datasets
        self._registry = Registry(catalog)
        self._store: OnlineStore | None = None
        self._lock = threading.Lock()
        self._functions: dict[str, OnDemandFeatureView] = {}
        self._views: dict[str, tuple[View, int]] = {}
        self._selections: dict[Any, Selection] = {}
        self._stamp: tuple[int, int] | None = None
        self._checked = float("-inf")

    def __repr__(self) -> str:
        return f"FeatureStore(root={str(self._settings.root)!r})"

    # -- the online store -------------------------------------------------------------------
    @property
    def online_store(self) -> OnlineStore:
        """The configured online store (``[online_store] url`` and ``key_prefix``)."""
        store = self._store
        if store is None:
            with self._lock:
                if self._store is None:
                    settings = self._settings
                    prefix = str(settings.get("online_store", "key_prefix"))
                    self._store = open_online_store(settings.online_store_url, key_prefix=prefix)
                store = self._store
        return store

    @property
    def store_id(self) -> str:
        """Identifies the online store in materialization records (no credentials)."""
        settings = self._settings
        prefix = settings.get("online_store", "key_prefix")
        return f"{redact_url(settings.online_store_url, drop_userinfo=True)}#{prefix}"

    def close(self) -> None:
        """Close the online store's connections (it reconnects when used again)."""
        if self._store is not None:
            self._store.close()

    # -- definitions ------------------------------------------------------------------------
    def _prepare(
        self, objects: Iterable[object], prune: bool, validate: bool
    ) -> builtins.list[Definition]:
        batch = self._registry.resolve(objects, prune=prune)
        if not validate or not any(isinstance(obj, FeatureView) for obj in batch):
            return batch
        with offline_session(self._settings, self._datasets) as session:
            return [session.check(obj) if isinstance(obj, FeatureView) else obj for obj in batch]

    def plan(
        self, objects: Iterable[object], *, prune: bool = False, validate: bool = True
    ) -> Plan:
        """What :meth:`apply` would do (added, changed, removed, unchanged), without writing.

        ``validate`` reads each feature view's source schema (columns, types) first.
        """
        return self._registry.plan(self._prepare(objects, prune, validate), prune=prune)

    def apply(
        self, objects: Iterable[object], *, prune: bool = False, validate: bool = True
    ) -> Plan:
        """Register the added and changed definitions as new versions, in one transaction.

        Definitions already in the catalog but not in ``objects`` are kept, unless ``prune``:
        then they are removed (a tombstone version; history is kept). ``validate`` checks each
        feature view against its source and records key types and dtypes the source implies.
        """
        batch = self._prepare(objects, prune, validate)
        plan = self._registry.apply(batch, prune=prune)
        self._remember(batch)
        self._invalidate()
        return plan

    def load(self, path: str | Any) -> builtins.list[Definition]:
        """Run a definitions file and return its objects, without applying them; its
        on-demand views' functions become usable in this process."""
        objects = load_definitions(path)
        self._remember(objects)
        return objects

    def _remember(self, objects: Iterable[object]) -> None:
        for obj in objects:
            if isinstance(obj, OnDemandFeatureView) and obj.function is not None:
                self._functions[obj.name] = obj
        self._selections.clear()

    def _invalidate(self) -> None:
        self._views.clear()
        self._selections.clear()
        self._checked = float("-inf")

    def list(
        self, kind: str | None = None, *, include_removed: bool = False
    ) -> builtins.list[DefinitionRecord]:
        """The latest version of every definition (of ``kind``: entity, view, service ...)."""
        kinds = None
        if kind is not None:
            if kind not in _KIND_ALIASES:
                raise InvalidValueError(
                    f"kind must be one of {sorted(_KIND_ALIASES)}, got {kind!r}"
                )
            kinds = _KIND_ALIASES[kind]
        records = self._registry.latest(kinds)
        return [r for r in records if include_removed or not r.removed]

    def versions(self, name: str, kind: str = "view") -> builtins.list[DefinitionRecord]:
        """Every version of a definition, oldest first."""
        kinds = _KIND_ALIASES.get(kind, (kind,))
        for one in kinds:
            try:
                return self._registry.history(one, name)
            except NotFoundError:
                continue
        raise NotFoundError(f"{kind} {name!r} does not exist")

    def get_entity(self, name: str, version: int | None = None) -> Entity:
        obj = self._registry.get(Entity.kind, name, version).to_object()
        assert isinstance(obj, Entity)
        return obj

    def get_view(self, name: str, version: int | None = None) -> View:
        """The latest (or a given) version of a feature view or on-demand view."""
        obj = self._registry.find_view(name, version).to_object()
        assert isinstance(obj, FeatureView | OnDemandFeatureView)
        local = self._functions.get(name)
        if isinstance(obj, OnDemandFeatureView) and local is not None and local == obj:
            return local
        return obj

    def get_service(self, name: str, version: int | None = None) -> FeatureService:
        obj = self._registry.get(FeatureService.kind, name, version).to_object()
        assert isinstance(obj, FeatureService)
        return obj

    # -- resolving features -----------------------------------------------------------------
    def _refresh(self) -> None:
        now = time.monotonic()
        if now - self._checked < self.refresh_seconds:
            return
        stamp = self._registry.stamp()
        if stamp != self._stamp:
            self._views.clear()
            self._selections.clear()
            self._stamp = stamp
        self._checked = now

    def _lookup(self, name: str) -> tuple[View, int]:
        found = self._views.get(name)
        if found is None:
            record = self._registry.find_view(name)
            obj = record.to_object()
            assert isinstance(obj, FeatureView | OnDemandFeatureView)
            found = self._views[name] = (obj, record.version)
        return found

    def _service(self, name: str) -> tuple[FeatureService, int]:
        record = self._registry.get(FeatureService.kind, name)
        obj = record.to_object()
        assert isinstance(obj, FeatureService)
        return obj, record.version

    def select(self, features: Any, *, full_feature_names: bool = False) -> Selection:
        """Resolve ``features`` to views, versions and output columns (cached)."""
        self._refresh()
        key: Any = None
        if isinstance(features, str):
            key = (features, full_feature_names)
        elif isinstance(features, list | tuple) and all(isinstance(f, str) for f in features):
            key = (tuple(features), full_feature_names)
        else:
            items = features if isinstance(features, list | tuple) else [features]
            self._remember([f for f in items if isinstance(f, OnDemandFeatureView)])
        if key is not None and key in self._selections:
            return self._selections[key]
        selection = select_features(
            features,
            self._lookup,
            self._service,
            full_feature_names=full_feature_names,
            functions=self._functions,
        )
        if key is not None:
            self._selections[key] = selection
        return selection

    def versions_of(self, features: Any) -> dict[str, int]:
        """``{view: version}`` of every view the features read (what a model records)."""
        return self.select(features).versions()

    def _feature_view(self, view: str | FeatureView) -> tuple[FeatureView, int]:
        name = view.name if isinstance(view, FeatureView | OnDemandFeatureView) else view
        self._refresh()
        found, version = self._lookup(name)
        if not isinstance(found, FeatureView):
            raise ConflictError(
                f"{name!r} is an on-demand view: it is computed when read, so it is neither "
                "materialized, pushed to nor checked for skew"
            )
        return found, version

    # -- offline ----------------------------------------------------------------------------
    @overload
    def training_set(
        self,
        entity_df: pd.DataFrame | pa.Table,
        features: Any,
        *,
        strict: bool = ...,
        timestamp_column: str = ...,
        full_feature_names: bool = ...,
        register_as: str | None = ...,
        description: str | None = ...,
        output: Literal["pandas"] = ...,
    ) -> pd.DataFrame: ...

    @overload
    def training_set(
        self,
        entity_df: pd.DataFrame | pa.Table,
        features: Any,
        *,
        strict: bool = ...,
        timestamp_column: str = ...,
        full_feature_names: bool = ...,
        register_as: str | None = ...,
        description: str | None = ...,
        output: Literal["arrow"],
    ) -> pa.Table: ...

    def training_set(
        self,
        entity_df: pd.DataFrame | pa.Table,
        features: Any,
        *,
        strict: bool = False,
        timestamp_column: str = "event_timestamp",
        full_feature_names: bool = False,
        register_as: str | None = None,
        description: str | None = None,
        output: Literal["pandas", "arrow"] = "pandas",
    ) -> pd.DataFrame | pa.Table:
        """Point-in-time correct features for every entity row (see docs/features.md).

        Returns the entity frame's columns (same rows, same order) and one column per feature,
        as a pandas DataFrame (or a pyarrow Table with ``output="arrow"``). ``strict`` also
        requires ``created_ts <= row_ts``. ``register_as`` registers the result as a dataset
        version whose lineage records the feature view versions and the entity frame's hash;
        its reference is in ``frame.attrs["weekend_dataset"]`` (Arrow: schema metadata).
        """
        if output not in ("pandas", "arrow"):
            raise InvalidValueError(f"output must be 'pandas' or 'arrow', got {output!r}")
        selection = self.select(features, full_feature_names=full_feature_names)
        entity = entity_table(entity_df)
        with offline_session(self._settings, self._datasets) as session:
            table = build_training_set(
                session, selection, entity, timestamp_column=timestamp_column, strict=bool(strict)
            )
            datasets = dict(session.datasets)
        ref = None
        if register_as is not None:
            lineage = {
                "kind": "training_set",
                "features": list(selection.refs),
                "feature_views": selection.versions(),
                "feature_service": None if selection.service is None else list(selection.service),
                "entity_hash": entity_hash(entity),
                "entity_rows": entity.num_rows,
                "timestamp_column": timestamp_column,
                "strict": bool(strict),
                "source_datasets": datasets,
            }
            version = self._datasets.register(
                register_as, table, lineage=lineage, description=description
            )
            ref = version.ref
            table = table.replace_schema_metadata({"weekend.dataset": ref})
        if output == "arrow":
            return table
        frame = table.to_pandas()
        if ref is not None:
            frame.attrs["weekend_dataset"] = ref
        frame.attrs["weekend_feature_views"] = selection.versions()
        return frame

    # -- materialization --------------------------------------------------------------------
    def _targets(self, views: Any) -> builtins.list[tuple[FeatureView, int]]:
        if views is None:
            names = [r.name for r in self.list("feature_view")]
        elif isinstance(views, str | FeatureView | OnDemandFeatureView):
            names = [views.name if not isinstance(views, str) else views]
        else:
            names = [v if isinstance(v, str) else v.name for v in views]
        return [self._feature_view(name) for name in dict.fromkeys(names)]

    def _load(
        self,
        session: Any,
        view: FeatureView,
        version: int,
        start: int | None,
        end: int,
        progress: Progress | None,
        started_by: StartedBy = "given",
    ) -> MaterializeResult:
        catalog, store_id = self._catalog, self.store_id
        cleared = False
        if start is None:
            last = last_run(catalog, view.name, store_id)
            if last is not None and last[0] != version:
                self.online_store.delete_view(view.name)
                cleared = True
            if view.window is not None:
                start = end - view.window // datetime.timedelta(microseconds=1) * 1000 - 1
                started_by = "ttl"
        result = load_window(
            session,
            self.online_store,
            view,
            version,
            start,
            end,
            progress=progress,
            cleared=cleared,
            started_by=started_by,
        )
        record_run(catalog, result, start, end, store_id)
        return result

    def materialize(
        self,
        views: Any = None,
        start: Any = None,
        end: Any = None,
        *,
        progress: Progress | None = None,
    ) -> builtins.list[MaterializeResult]:
        """Load the latest value per entity with ``start <= event_ts < end`` into the online
        store, for every view (default: all feature views). ``start=None``: from the
        beginning (for a view with a ttl: from ``end - ttl``); ``end=None``: now. A view that
        read nothing says why in its result's ``note`` (the window, and where the source's
        events are)."""
        end_ns = time.time_ns() if end is None else to_ns(end, "end")
        start_ns = None if start is None else to_ns(start, "start")
        if start_ns is not None and start_ns >= end_ns:
            raise InvalidValueError(f"start must be before end, got start={start} and end={end}")
        targets = self._targets(views)
        with offline_session(self._settings, self._datasets) as session:
            return [self._load(session, v, n, start_ns, end_ns, progress) for v, n in targets]

    def materialize_incremental(
        self, views: Any = None, end: Any = None, *, progress: Progress | None = None
    ) -> builtins.list[MaterializeResult]:
        """Like :meth:`materialize`, from where the last run of each view ended (its
        watermark in the catalog). A view never loaded, or changed since, is loaded in full.
        Rows that arrive late, with an event time before the watermark, need an explicit
        :meth:`materialize` with a ``start``."""
        end_ns = time.time_ns() if end is None else to_ns(end, "end")
        results = []
        with offline_session(self._settings, self._datasets) as session:
            for view, version in self._targets(views):
                start = watermark(self._catalog, view.name, version, self.store_id)
                if start is not None and start >= end_ns:
                    continue
                results.append(
                    self._load(session, view, version, start, end_ns, progress, "watermark")
                )
        return results

    def materializations(self, view: str | None = None) -> builtins.list[dict[str, Any]]:
        """Every recorded materialization run (of ``view``), oldest first."""
        return history(self._catalog, view)

    # -- online -----------------------------------------------------------------------------
    def online(
        self,
        entity_rows: Any,
        features: Any,
        *,
        now: Any = None,
        full_feature_names: bool = False,
    ) -> OnlineResult:
        """The latest values of ``features`` for each entity row, with event timestamps.

        A value is returned only when ``now - ttl <= event_ts <= now`` (the offline rule);
        otherwise None. ``entity_rows``: a list of dicts (join keys, and request fields of
        on-demand views), a dict of lists, a pandas DataFrame or a pyarrow Table.
        """
        selection = self.select(features, full_feature_names=full_feature_names)
        rows = to_entity_rows(entity_rows)
        when = None if now is None else to_ns(now, "now")
        moment = None
        if when is not None:
            import pandas as pd

            moment = pd.Timestamp(when, tz="UTC")
        return read_online(self.online_store, selection, rows, now=moment)

    def push(self, view: str | FeatureView, data: pd.DataFrame | pa.Table) -> WriteResult:
        """Write fresh rows of ``view``: first to its offline push log (so training sets and
        skew checks see them), then to the online store (monotonic, like materialization)."""
        found, _ = self._feature_view(view)
        log, online = prepare_push(found, data)
        if log.num_rows == 0:
            return WriteResult(rows=0, written=0, skipped_older=0)
        append_push_log(self._settings, found.name, log)
        return write_pushed(self.online_store, found, online)

    def skew(
        self,
        view: str | FeatureView,
        sample: int = 1000,
        *,
        at: Any = None,
        seed: int = 0,
        examples: int = 20,
    ) -> SkewReport:
        """Compare online values with offline point-in-time values for ``sample`` entities.

        ``at`` defaults to the end of the latest materialization (or now, when there is none
        or the view has pushed rows). See :mod:`weekend.features._skew` for the rules.
        """
        if not isinstance(sample, int) or isinstance(sample, bool) or not 1 <= sample <= 10_000_000:
            raise InvalidValueError(f"sample must be an integer from 1 to 10000000, got {sample!r}")
        found, version = self._feature_view(view)
        if at is not None:
            at_ns = to_ns(at, "at")
        else:
            mark = watermark(self._catalog, found.name, version, self.store_id)
            folder = push_dir(self._settings, found.name)
            pushed = folder.is_dir() and any(folder.glob("*.parquet"))
            at_ns = mark - 1 if mark is not None and not pushed else time.time_ns()
        with offline_session(self._settings, self._datasets) as session:
            return check_skew(
                session,
                self.online_store,
                found,
                version,
                at_ns=at_ns,
                sample=sample,
                seed=seed,
                examples=examples,
            )


__all__ = ["FeatureStore", "to_ns"]
