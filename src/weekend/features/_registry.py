"""Feature definitions in the catalog: resolve, plan, apply, and read versions back.

Every definition is stored as immutable versions of ``(kind, name)``: applying a definition
whose canonical JSON differs from the latest version adds version N+1; an identical one adds
nothing. Removing (``prune=True`` only) adds a tombstone version (``removed = 1``) with the
last definition, so history is never rewritten and a later apply of the same name continues
the numbering.

Feature views and on-demand views share one namespace (``view:feature`` references must be
unambiguous); entities and feature services have their own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, and_, func, select
from sqlalchemy.exc import IntegrityError as SAIntegrityError

from weekend.catalog import Catalog
from weekend.catalog.tables_features import feature_definitions as defs
from weekend.core.errors import ConflictError, InvalidValueError, NotFoundError, UserInputError
from weekend.core.ids import new_id, now_ms
from weekend.features._definitions import (
    Definition,
    Entity,
    FeatureService,
    FeatureView,
    OnDemandFeatureView,
    from_dict,
)
from weekend.features._types import split_ref

VIEW_KINDS = (FeatureView.kind, OnDemandFeatureView.kind)
_LABELS = {
    Entity.kind: "entity",
    FeatureView.kind: "feature view",
    OnDemandFeatureView.kind: "on-demand feature view",
    FeatureService.kind: "feature service",
}


def label(kind: str) -> str:
    return _LABELS.get(kind, kind)


@dataclass(frozen=True)
class DefinitionRecord:
    """One stored version of a definition."""

    kind: str
    name: str
    version: int
    definition: dict[str, Any]
    definition_hash: str
    removed: bool
    created_at: int

    def to_object(self) -> Definition:
        return from_dict(self.kind, self.definition)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "version": self.version,
            "removed": self.removed,
            "created_at": self.created_at,
            "definition_hash": self.definition_hash,
            "definition": self.definition,
        }


@dataclass(frozen=True)
class PlanItem:
    """One definition in a plan: ``version`` is the latest live version before the apply,
    ``new_version`` the one the apply writes (None when it writes none)."""

    kind: str
    name: str
    version: int | None
    new_version: int | None
    changes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "version": self.version,
            "new_version": self.new_version,
            "changes": list(self.changes),
        }

    def __str__(self) -> str:
        text = f"{label(self.kind)} {self.name!r}"
        if self.version is not None and self.new_version is not None:
            text += f" v{self.version} -> v{self.new_version}"
        elif self.new_version is not None:
            text += f" v{self.new_version}"
        elif self.version is not None:
            text += f" v{self.version}"
        if self.changes:
            text += f" ({', '.join(self.changes)})"
        return text


@dataclass(frozen=True)
class Plan:
    """What an apply does (or did, when ``applied``): added, changed, removed, unchanged."""

    added: tuple[PlanItem, ...]
    changed: tuple[PlanItem, ...]
    removed: tuple[PlanItem, ...]
    unchanged: tuple[PlanItem, ...]
    applied: bool = False

    @property
    def has_changes(self) -> bool:
        return bool(self.added or self.changed or self.removed)

    def to_dict(self) -> dict[str, Any]:
        return {
            "applied": self.applied,
            **{
                part: [item.to_dict() for item in getattr(self, part)]
                for part in ("added", "changed", "removed", "unchanged")
            },
        }

    def lines(self) -> list[str]:
        """One line per definition: ``+`` added, ``~`` changed, ``-`` removed, ``=`` same."""
        out = [f"+ {item}" for item in self.added]
        out += [f"~ {item}" for item in self.changed]
        out += [f"- {item}" for item in self.removed]
        out += [f"= {item}" for item in self.unchanged]
        return out


def _record(row: Any) -> DefinitionRecord:
    m = row._mapping
    return DefinitionRecord(
        kind=m["kind"],
        name=m["name"],
        version=int(m["version"]),
        definition=orjson.loads(m["definition_json"]),
        definition_hash=m["definition_hash"],
        removed=bool(m["removed"]),
        created_at=int(m["created_at"]),
    )


def _changed_keys(old: Mapping[str, Any], new: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k)))


class Registry:
    """Definitions of one catalog."""

    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog

    # -- reading ----------------------------------------------------------------------------
    def _latest_rows(self, conn: Connection, kinds: Sequence[str] | None = None) -> list[Any]:
        newest = select(defs.c.kind, defs.c.name, func.max(defs.c.version).label("version"))
        if kinds is not None:
            newest = newest.where(defs.c.kind.in_(list(kinds)))
        sub = newest.group_by(defs.c.kind, defs.c.name).subquery()
        stmt = (
            select(defs)
            .join(
                sub,
                and_(
                    defs.c.kind == sub.c.kind,
                    defs.c.name == sub.c.name,
                    defs.c.version == sub.c.version,
                ),
            )
            .order_by(defs.c.kind, defs.c.name)
        )
        return list(conn.execute(stmt))

    def latest(self, kinds: Sequence[str] | None = None) -> list[DefinitionRecord]:
        """The latest version of every definition (tombstones included)."""
        with self._catalog.read() as conn:
            return [_record(row) for row in self._latest_rows(conn, kinds)]

    def get(self, kind: str, name: str, version: int | None = None) -> DefinitionRecord:
        """A version (default: the latest live one) of ``kind`` ``name``."""
        stmt = select(defs).where(defs.c.kind == kind, defs.c.name == name)
        if version is not None:
            stmt = stmt.where(defs.c.version == version)
        stmt = stmt.order_by(defs.c.version.desc()).limit(1)
        with self._catalog.read() as conn:
            row = conn.execute(stmt).first()
        if row is None:
            what = f"{label(kind)} {name!r}" + ("" if version is None else f" version {version}")
            raise NotFoundError(f"{what} does not exist; apply it first")
        record = _record(row)
        if version is None and record.removed:
            raise NotFoundError(
                f"{label(kind)} {name!r} was removed in version {record.version}; "
                f"pass version= to read an older one"
            )
        return record

    def find_view(self, name: str, version: int | None = None) -> DefinitionRecord:
        """The feature view or on-demand view ``name`` (both kinds share one namespace)."""
        stmt = select(defs).where(defs.c.kind.in_(VIEW_KINDS), defs.c.name == name)
        if version is not None:
            stmt = stmt.where(defs.c.version == version)
        with self._catalog.read() as conn:
            rows = [_record(row) for row in conn.execute(stmt.order_by(defs.c.version.desc()))]
        if version is not None and rows:
            return rows[0]
        latest: dict[str, DefinitionRecord] = {}
        for record in rows:
            latest.setdefault(record.kind, record)
        live = [r for r in latest.values() if not r.removed]
        if live:
            return live[0]
        if latest:
            gone = max(latest.values(), key=lambda r: r.created_at)
            raise NotFoundError(
                f"{label(gone.kind)} {name!r} was removed in version {gone.version}; "
                "pass version= to read an older one"
            )
        known = sorted(r.name for r in self.latest(VIEW_KINDS) if not r.removed)
        what = f"feature view {name!r}" + ("" if version is None else f" version {version}")
        raise NotFoundError(f"{what} does not exist; known views: {known or 'none (apply some)'}")

    def history(self, kind: str, name: str) -> list[DefinitionRecord]:
        stmt = select(defs).where(defs.c.kind == kind, defs.c.name == name).order_by(defs.c.version)
        with self._catalog.read() as conn:
            rows = [_record(row) for row in conn.execute(stmt)]
        if not rows:
            raise NotFoundError(f"{label(kind)} {name!r} does not exist")
        return rows

    def stamp(self) -> tuple[int, int]:
        """Changes whenever a definition is written (rows are only ever appended)."""
        with self._catalog.read() as conn:
            row = conn.execute(select(func.count(), func.max(defs.c.created_at))).one()
        return int(row[0]), int(row[1] or 0)

    # -- resolving --------------------------------------------------------------------------
    def resolve(self, objects: Iterable[object], *, prune: bool = False) -> list[Definition]:
        """The definitions to apply, with referenced objects added and names resolved.

        Entities given by name are looked up in the batch, then in the catalog (not when
        ``prune``, since the catalog's would be removed). Raises for unknown references,
        conflicting definitions of one name, and names used by two kinds of view.
        """
        batch = _collect(objects)
        live = {} if prune else {(r.kind, r.name): r for r in self.latest() if not r.removed}
        entities: dict[str, Entity] = {n: o for (k, n), o in batch.items() if isinstance(o, Entity)}
        for (kind, name), record in live.items():
            if kind == Entity.kind and name not in entities:
                entities[name] = Entity.from_dict(record.definition)
        views: dict[str, Any] = {}
        for (kind, name), record in live.items():
            if kind in VIEW_KINDS:
                views[name] = record.to_object()
        for kind, name in batch:
            if kind not in VIEW_KINDS:
                continue
            other = next((k for k in VIEW_KINDS if k != kind), kind)
            if (other, name) in batch or (other, name) in live:
                raise ConflictError(
                    f"{name!r} is defined both as a {label(kind)} and as a {label(other)}; "
                    "views of both kinds share one namespace (remove one, e.g. apply with "
                    "prune=True)"
                )
        out: list[Definition] = []
        for (kind, name), obj in batch.items():
            if isinstance(obj, FeatureView):
                resolved: list[Entity] = []
                for entity in obj.entities:
                    key = entity if isinstance(entity, str) else entity.name
                    if key not in entities:
                        raise UserInputError(
                            f"feature view {name!r} uses entity {key!r}, which is neither in "
                            "this apply nor in the catalog; define it with wk.Entity"
                        )
                    resolved.append(entities[key])
                obj = obj.with_entities(resolved)
            out.append(obj)
            if kind in VIEW_KINDS:
                views[name] = obj
        for obj in out:
            if isinstance(obj, OnDemandFeatureView):
                _check_on_demand(obj, views)
            elif isinstance(obj, FeatureService):
                _check_service(obj, views)
        return out

    # -- planning and applying --------------------------------------------------------------
    def _plan(self, conn: Connection, batch: Sequence[Definition], prune: bool) -> Plan:
        latest = {(r.kind, r.name): r for r in map(_record, self._latest_rows(conn))}
        added: list[PlanItem] = []
        changed: list[PlanItem] = []
        unchanged: list[PlanItem] = []
        wanted: set[tuple[str, str]] = set()
        for obj in batch:
            key = (obj.kind, obj.name)
            wanted.add(key)
            if isinstance(obj, FeatureView) and not obj.resolved:
                raise InvalidValueError(f"feature view {obj.name!r} must be resolved first")
            record = latest.get(key)
            if record is None or record.removed:
                number = 1 if record is None else record.version + 1
                added.append(PlanItem(obj.kind, obj.name, None, number))
            elif record.definition_hash != obj.definition_hash():
                changes = _changed_keys(record.definition, obj.to_dict())
                changed.append(
                    PlanItem(obj.kind, obj.name, record.version, record.version + 1, changes)
                )
            else:
                unchanged.append(PlanItem(obj.kind, obj.name, record.version, None))
        removed = []
        if prune:
            for key, record in sorted(latest.items()):
                if key not in wanted and not record.removed:
                    removed.append(PlanItem(key[0], key[1], record.version, record.version + 1))
        return Plan(tuple(added), tuple(changed), tuple(removed), tuple(unchanged))

    def plan(self, batch: Sequence[Definition], *, prune: bool = False) -> Plan:
        """What :meth:`apply` would do, without writing."""
        with self._catalog.read() as conn:
            return self._plan(conn, batch, prune)

    def apply(self, batch: Sequence[Definition], *, prune: bool = False) -> Plan:
        """Write new versions of the added and changed definitions (and tombstones of the
        removed ones when ``prune``) in one transaction."""
        by_key = {(obj.kind, obj.name): obj for obj in batch}
        for attempt in range(5):
            try:
                with self._catalog.begin() as conn:
                    plan = self._plan(conn, batch, prune)
                    rows = []
                    now = now_ms()
                    for item in (*plan.added, *plan.changed):
                        obj = by_key[(item.kind, item.name)]
                        rows.append(
                            _row(item, obj.to_json().decode(), obj.definition_hash(), 0, now)
                        )
                    if plan.removed:
                        latest = {
                            (r.kind, r.name): r for r in map(_record, self._latest_rows(conn))
                        }
                        for item in plan.removed:
                            record = latest[(item.kind, item.name)]
                            text = orjson.dumps(record.definition, option=orjson.OPT_SORT_KEYS)
                            rows.append(_row(item, text.decode(), record.definition_hash, 1, now))
                    if rows:
                        conn.execute(defs.insert(), rows)
                return Plan(plan.added, plan.changed, plan.removed, plan.unchanged, applied=True)
            except SAIntegrityError:
                if attempt == 4:
                    raise ConflictError(
                        "another process applied definitions at the same time; try again"
                    ) from None
        raise AssertionError("unreachable")  # pragma: no cover


def _row(item: PlanItem, text: str, digest: str, removed: int, now: int) -> dict[str, Any]:
    return {
        "id": new_id(),
        "kind": item.kind,
        "name": item.name,
        "version": item.new_version,
        "definition_json": text,
        "definition_hash": digest,
        "removed": removed,
        "created_at": now,
    }


def _collect(objects: Iterable[object]) -> dict[tuple[str, str], Definition]:
    """The batch by (kind, name), with entities of views and source views of on-demand views
    added; two different definitions of one name are an error."""
    if isinstance(objects, Definition):
        objects = [objects]
    batch: dict[tuple[str, str], Definition] = {}

    def add(obj: object) -> None:
        if not isinstance(obj, Definition):
            raise InvalidValueError(
                "apply takes Entity, FeatureView, OnDemandFeatureView and FeatureService "
                f"objects, got {type(obj).__name__} {obj!r:.80}"
            )
        key = (obj.kind, obj.name)
        if key in batch:
            if batch[key] != obj:
                raise ConflictError(
                    f"two different definitions of {label(obj.kind)} {obj.name!r} in one apply"
                )
            return
        if isinstance(obj, FeatureView):
            for entity in obj.entities:
                if isinstance(entity, Entity):
                    add(entity)
        if isinstance(obj, OnDemandFeatureView):
            for source in obj.sources:
                if isinstance(source, FeatureView):
                    add(source)
        batch[key] = obj

    for obj in objects:
        add(obj)
    return batch


def _check_on_demand(view: OnDemandFeatureView, views: Mapping[str, Any]) -> None:
    inputs: dict[str, str] = dict.fromkeys(view.request_schema, "the request")
    for source in view.source_names:
        found = views.get(source)
        if not isinstance(found, FeatureView):
            what = "an on-demand view" if found is not None else "unknown"
            raise UserInputError(
                f"on-demand feature view {view.name!r} reads view {source!r}, which is {what}; "
                "sources must be feature views in this apply or in the catalog"
            )
        for feature in found.features:
            if feature in inputs:
                raise UserInputError(
                    f"on-demand feature view {view.name!r}: input {feature!r} comes from both "
                    f"{inputs[feature]} and view {source!r}; rename one"
                )
            inputs[feature] = f"view {source!r}"


def _check_service(service: FeatureService, views: Mapping[str, Any]) -> None:
    for ref in service.features:
        view_name, feature = split_ref(ref)
        view = views.get(view_name)
        if view is None:
            raise UserInputError(
                f"feature service {service.name!r} uses {ref!r}, but view {view_name!r} is "
                f"neither in this apply nor in the catalog; known views: {sorted(views)}"
            )
        if feature != "*" and feature not in view.features:
            raise UserInputError(
                f"feature service {service.name!r} uses {ref!r}, but view {view_name!r} has no "
                f"feature {feature!r}; its features are {list(view.features)}"
            )


__all__ = ["VIEW_KINDS", "DefinitionRecord", "Plan", "PlanItem", "Registry", "label"]
