"""Repository functions of the model registry: the only SQL it runs.

Records (:class:`~weekend.registry._records.ModelVersion` ...) live in
:mod:`weekend.registry._records`; references are parsed by :mod:`weekend.core.refs`.

Alias moves take a row lock on the registered model (``SELECT ... FOR UPDATE`` on
PostgreSQL; SQLite write transactions are serialised by ``BEGIN IMMEDIATE``), so that the
alias row and its audit event are written by one transaction at a time per model and the
``seq`` order of ``alias_events`` is the order in which the moves happened.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping
from typing import Any

import orjson
from sqlalchemy import Connection, and_, delete, func, select, update
from sqlalchemy.exc import IntegrityError as SAIntegrityError

from weekend.catalog import Catalog
from weekend.catalog.tables_registry import (
    alias_events,
    model_aliases,
    model_evaluations,
    model_versions,
    registered_models,
)
from weekend.core.errors import ConflictError, NotFoundError
from weekend.core.ids import new_id, now_ms
from weekend.registry._records import (
    AliasEvent,
    ModelRef,
    ModelVersion,
    RegisteredModel,
    to_json,
    version_from_row,
)

INSERT_ATTEMPTS = 20


# -- registered models --------------------------------------------------------------------------


def model_id(conn: Connection, name: str, *, lock: bool = False) -> str:
    stmt = select(registered_models.c.id).where(registered_models.c.name == name)
    if lock:
        stmt = stmt.with_for_update()
    row = conn.execute(stmt).first()
    if row is None:
        raise NotFoundError(f"model {name!r} does not exist (see 'weekend models list')")
    return str(row[0])


def ensure_model(catalog: Catalog, conn: Connection, name: str) -> str:
    stmt = catalog.insert(registered_models).values(
        id=new_id(), name=name, description=None, tags_json="{}", created_at=now_ms()
    )
    conn.execute(stmt.on_conflict_do_nothing())
    return model_id(conn, name)


def list_models(conn: Connection) -> list[RegisteredModel]:
    counts = (
        select(
            model_versions.c.model_id,
            func.count().label("n"),
            func.max(model_versions.c.version).label("latest"),
        )
        .group_by(model_versions.c.model_id)
        .subquery()
    )
    stmt = (
        select(registered_models, counts.c.n, counts.c.latest)
        .outerjoin(counts, counts.c.model_id == registered_models.c.id)
        .order_by(registered_models.c.name)
    )
    rows = conn.execute(stmt).all()
    aliases: dict[str, dict[str, int]] = {}
    for mid, alias, version in conn.execute(
        select(model_aliases.c.model_id, model_aliases.c.alias, model_aliases.c.version)
    ):
        aliases.setdefault(str(mid), {})[str(alias)] = int(version)
    return [
        RegisteredModel(
            name=r.name,
            description=r.description,
            tags=orjson.loads(r.tags_json or "{}"),
            created_at=int(r.created_at),
            latest_version=None if r.latest is None else int(r.latest),
            num_versions=int(r.n or 0),
            aliases=dict(sorted(aliases.get(str(r.id), {}).items())),
        )
        for r in rows
    ]


# -- versions -----------------------------------------------------------------------------------


def insert_version(catalog: Catalog, name: str, record: Mapping[str, Any]) -> int:
    """Insert the next version of ``name`` (created if new); retried when another writer wins."""
    for attempt in range(INSERT_ATTEMPTS):
        try:
            with catalog.begin() as conn:
                mid = ensure_model(catalog, conn, name)
                latest = conn.execute(
                    select(func.max(model_versions.c.version)).where(
                        model_versions.c.model_id == mid
                    )
                ).scalar()
                version = int(latest or 0) + 1
                conn.execute(
                    model_versions.insert().values(
                        id=new_id(), model_id=mid, version=version, created_at=now_ms(), **record
                    )
                )
            return version
        except SAIntegrityError:
            time.sleep(random.uniform(0.001, 0.01) * (attempt + 1))
    raise ConflictError(  # pragma: no cover - needs INSERT_ATTEMPTS lost races in a row
        f"could not register a new version of model {name!r}: {INSERT_ATTEMPTS} concurrent "
        "registrations won the version number first; try again"
    )


def aliases_by_version(conn: Connection, mid: str) -> dict[int, tuple[str, ...]]:
    out: dict[int, list[str]] = {}
    stmt = (
        select(model_aliases.c.alias, model_aliases.c.version)
        .where(model_aliases.c.model_id == mid)
        .order_by(model_aliases.c.alias)
    )
    for alias, version in conn.execute(stmt):
        out.setdefault(int(version), []).append(str(alias))
    return {k: tuple(v) for k, v in out.items()}


def get_version(conn: Connection, ref: ModelRef) -> ModelVersion:
    """The version a reference points at, with the aliases that point at it.

    Two queries when the reference resolves (the version row, found through the model name
    and the alias in one join, then its aliases); the slower path below only runs to name
    what is missing."""
    stmt = (
        select(model_versions)
        .join(registered_models, registered_models.c.id == model_versions.c.model_id)
        .where(registered_models.c.name == ref.name)
    )
    if ref.alias is not None:
        stmt = stmt.join(
            model_aliases,
            and_(
                model_aliases.c.model_id == model_versions.c.model_id,
                model_aliases.c.version == model_versions.c.version,
            ),
        ).where(model_aliases.c.alias == ref.alias)
    elif ref.version is not None:
        stmt = stmt.where(model_versions.c.version == ref.version)
    else:
        stmt = stmt.order_by(model_versions.c.version.desc()).limit(1)
    found = conn.execute(stmt).first()
    if found is not None:
        m = found._mapping
        aliases = conn.execute(
            select(model_aliases.c.alias)
            .where(
                model_aliases.c.model_id == m["model_id"],
                model_aliases.c.version == m["version"],
            )
            .order_by(model_aliases.c.alias)
        ).scalars()
        return version_from_row(m, ref.name, tuple(str(a) for a in aliases))
    return _missing_version(conn, ref)


def _missing_version(conn: Connection, ref: ModelRef) -> ModelVersion:
    """Resolve ``ref`` step by step, raising NotFoundError for the first missing step."""
    mid = model_id(conn, ref.name)
    stmt = select(model_versions).where(model_versions.c.model_id == mid)
    if ref.alias is not None:
        target = conn.execute(
            select(model_aliases.c.version).where(
                model_aliases.c.model_id == mid, model_aliases.c.alias == ref.alias
            )
        ).scalar()
        if target is None:
            known = sorted(a for names in aliases_by_version(conn, mid).values() for a in names)
            raise NotFoundError(
                f"model {ref.name!r} has no alias {ref.alias!r} "
                f"(aliases: {', '.join(known) if known else 'none'})"
            )
        stmt = stmt.where(model_versions.c.version == int(target))
    elif ref.version is not None:
        stmt = stmt.where(model_versions.c.version == ref.version)
    else:
        stmt = stmt.order_by(model_versions.c.version.desc()).limit(1)
    row = conn.execute(stmt).first()
    if row is None:
        if ref.version is None:
            raise NotFoundError(f"model {ref.name!r} has no versions yet")
        latest = conn.execute(
            select(func.max(model_versions.c.version)).where(model_versions.c.model_id == mid)
        ).scalar()
        raise NotFoundError(
            f"model {ref.name!r} has no version {ref.version} (latest is {latest or 'none'})"
        )
    version = int(row._mapping["version"])
    return version_from_row(row._mapping, ref.name, aliases_by_version(conn, mid).get(version, ()))


def list_versions(conn: Connection, name: str) -> list[ModelVersion]:
    mid = model_id(conn, name)
    aliases = aliases_by_version(conn, mid)
    rows = conn.execute(
        select(model_versions)
        .where(model_versions.c.model_id == mid)
        .order_by(model_versions.c.version)
    ).all()
    return [version_from_row(r._mapping, name, aliases.get(int(r.version), ())) for r in rows]


def version_exists(conn: Connection, mid: str, version: int) -> bool:
    row = conn.execute(
        select(model_versions.c.id).where(
            model_versions.c.model_id == mid, model_versions.c.version == version
        )
    ).first()
    return row is not None


# -- tags and descriptions ------------------------------------------------------------------------


def update_metadata(
    conn: Connection,
    ref: ModelRef,
    *,
    version_level: bool,
    tags: Mapping[str, str] | None = None,
    remove: tuple[str, ...] = (),
    description: str | None = None,
    set_description: bool = False,
) -> None:
    """Change tags (merge ``tags``, drop ``remove``) and/or the description, in one transaction."""
    mid = model_id(conn, ref.name, lock=True)
    if version_level:
        version = get_version(conn, ref).version
        table: Any = model_versions
        where = [model_versions.c.model_id == mid, model_versions.c.version == version]
    else:
        table = registered_models
        where = [registered_models.c.id == mid]
    current = conn.execute(select(table.c.tags_json).where(*where)).scalar_one()
    merged = {**orjson.loads(current or "{}"), **(tags or {})}
    for key in remove:
        if key not in merged:
            raise NotFoundError(f"{ref} has no tag {key!r}")
        del merged[key]
    values: dict[str, Any] = {"tags_json": to_json(merged)}
    if set_description:
        values["description"] = description
    conn.execute(update(table).where(*where).values(**values))


# -- aliases ------------------------------------------------------------------------------------


def current_aliases(conn: Connection, mid: str) -> dict[str, int]:
    stmt = (
        select(model_aliases.c.alias, model_aliases.c.version)
        .where(model_aliases.c.model_id == mid)
        .order_by(model_aliases.c.alias)
    )
    return {str(a): int(v) for a, v in conn.execute(stmt)}


def _point(catalog: Catalog, conn: Connection, mid: str, alias: str, to: int | None) -> int:
    """Set (or, for None, delete) the alias row; returns the time of the move."""
    now = now_ms()
    where = (model_aliases.c.model_id == mid, model_aliases.c.alias == alias)
    if to is None:
        conn.execute(delete(model_aliases).where(*where))
        return now
    stmt = catalog.insert(model_aliases).values(
        model_id=mid, alias=alias, version=to, updated_at=now
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[model_aliases.c.model_id, model_aliases.c.alias],
        set_={"version": to, "updated_at": now},
    )
    conn.execute(stmt)
    return now


def move_alias(
    catalog: Catalog,
    conn: Connection,
    *,
    name: str,
    mid: str,
    alias: str,
    to_version: int | None,
    action: str,
    actor: str,
    reason: str | None,
    evidence: Mapping[str, Any] | None,
    forced: bool,
) -> AliasEvent | None:
    """Point ``alias`` at ``to_version`` (None deletes it) and log the move; the caller holds
    the model row lock. A move to where the alias already points writes nothing (None)."""
    current = conn.execute(
        select(model_aliases.c.version).where(
            model_aliases.c.model_id == mid, model_aliases.c.alias == alias
        )
    ).scalar()
    from_version = None if current is None else int(current)
    if from_version == to_version:
        return None
    now = _point(catalog, conn, mid, alias, to_version)
    event = AliasEvent(
        seq=0,
        name=name,
        alias=alias,
        from_version=from_version,
        to_version=to_version,
        action=action,
        actor=actor,
        reason=reason,
        evidence=dict(evidence or {}),
        forced=forced,
        created_at=now,
    )
    result = conn.execute(
        alias_events.insert().values(
            model_id=mid,
            alias=alias,
            from_version=from_version,
            to_version=to_version,
            action=action,
            actor=actor,
            reason=reason,
            evidence_json=None if evidence is None else to_json(dict(evidence)),
            forced=forced,
            created_at=now,
        )
    )
    seq = result.inserted_primary_key[0] if result.inserted_primary_key else None
    event.seq = int(seq or 0)
    return event


def alias_events_of(conn: Connection, name: str, mid: str, alias: str | None) -> list[AliasEvent]:
    stmt = select(alias_events).where(alias_events.c.model_id == mid)
    if alias is not None:
        stmt = stmt.where(alias_events.c.alias == alias)
    out = []
    for row in conn.execute(stmt.order_by(alias_events.c.seq)):
        m = row._mapping
        out.append(
            AliasEvent(
                seq=int(m["seq"]),
                name=name,
                alias=m["alias"],
                from_version=m["from_version"],
                to_version=m["to_version"],
                action=m["action"],
                actor=m["actor"],
                reason=m["reason"],
                evidence=orjson.loads(m["evidence_json"]) if m["evidence_json"] else {},
                forced=bool(m["forced"]),
                created_at=int(m["created_at"]),
            )
        )
    return out


# -- evaluations --------------------------------------------------------------------------------


def evaluation_time(conn: Connection, mid: str, version: int, created_at: int) -> int:
    """``created_at``, made later than the version's previous evaluation so that "the latest
    evaluation" is well defined even within one millisecond."""
    previous = conn.execute(
        select(func.max(model_evaluations.c.created_at)).where(
            model_evaluations.c.model_id == mid, model_evaluations.c.version == version
        )
    ).scalar()
    if previous is not None and created_at <= int(previous):
        return int(previous) + 1
    return created_at


def insert_evaluation(
    conn: Connection,
    *,
    evaluation_id: str,
    mid: str,
    version: int,
    baseline_version: int | None,
    data: Mapping[str, Any],
    result: Mapping[str, Any],
    blessed: bool,
    created_at: int,
) -> None:
    conn.execute(
        model_evaluations.insert().values(
            id=evaluation_id,
            model_id=mid,
            version=version,
            baseline_version=baseline_version,
            data_json=to_json(dict(data)),
            result_json=to_json(dict(result)),
            blessed=blessed,
            created_at=created_at,
        )
    )


def evaluation_rows(
    conn: Connection,
    mid: str | None,
    version: int | None = None,
    evaluation_id: str | None = None,
) -> list[dict[str, Any]]:
    """Stored evaluations, newest first, as dicts with ``data`` and ``result`` decoded."""
    stmt = select(model_evaluations)
    if mid is not None:
        stmt = stmt.where(model_evaluations.c.model_id == mid)
    if version is not None:
        stmt = stmt.where(model_evaluations.c.version == version)
    if evaluation_id is not None:
        stmt = stmt.where(model_evaluations.c.id == evaluation_id)
    stmt = stmt.order_by(model_evaluations.c.created_at.desc(), model_evaluations.c.id)
    out = []
    for row in conn.execute(stmt):
        m = dict(row._mapping)
        m["data"] = orjson.loads(m.pop("data_json"))
        m["result"] = orjson.loads(m.pop("result_json"))
        out.append(m)
    return out


__all__ = [
    "alias_events_of",
    "aliases_by_version",
    "current_aliases",
    "ensure_model",
    "evaluation_rows",
    "evaluation_time",
    "get_version",
    "insert_evaluation",
    "insert_version",
    "list_models",
    "list_versions",
    "model_id",
    "move_alias",
    "update_metadata",
    "version_exists",
]
