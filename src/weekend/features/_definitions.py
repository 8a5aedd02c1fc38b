"""Feature store definitions: entities, feature views, on-demand views, feature services.

Every definition is a frozen dataclass, validated when it is built, with a canonical JSON form
(:meth:`to_dict`, sorted keys) whose sha256 tells the catalog whether it changed. Two objects
are equal when their canonical forms are.

Sources of a feature view:

- a Parquet or CSV file or folder: a path (``"data/trips.parquet"``) or :class:`FileSource`;
  relative paths are relative to the project root;
- a registered dataset: :class:`DatasetSource` (``"trips/3"`` pins version 3, ``"trips"`` means
  the latest version at the time of each read);
- a SQL query: :class:`~weekend.Query` run by DuckDB (relative file paths in it are relative to
  the project root), or by PostgreSQL when ``url`` is given; ``${NAME}`` in the URL is read
  from the environment when the query runs, so passwords never reach the catalog.
"""

from __future__ import annotations

import dataclasses
import datetime
import inspect
import os
import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, cast

import orjson

from weekend.core.errors import InvalidValueError
from weekend.core.hashing import sha256_bytes
from weekend.core.names import validate_name
from weekend.data import Query
from weekend.features._types import (
    KEY_TYPES,
    DatasetSource,
    FileSource,
    Source,
    check_query_url,
    duration_us,
    expand_url,
    freeze,
    parse_column,
    parse_dtype,
    parse_duration,
    parse_features,
    parse_tags,
    parse_text,
    source_from_dict,
    source_to_dict,
    split_ref,
    to_source,
)


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _names(value: object, what: str, *, check: Callable[[object, str], str]) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, Sequence) or not value:
        raise InvalidValueError(f"{what} must be a non-empty list, got {_show(value)}")
    names = tuple(check(item, what) for item in value)
    if len(set(names)) != len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise InvalidValueError(f"{what} names {twice} more than once")
    return names


class _Definition:
    """Shared behaviour: canonical JSON, its hash, equality by content."""

    kind: ClassVar[str]
    name: str

    def to_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    def to_json(self) -> bytes:
        return orjson.dumps(self.to_dict(), option=orjson.OPT_SORT_KEYS)

    def definition_hash(self) -> str:
        return sha256_bytes(self.to_json())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, _Definition) or type(other) is not type(self):
            return NotImplemented
        return self.to_json() == other.to_json()

    def __hash__(self) -> int:
        return hash((self.kind, self.to_json()))


# ---------------------------------------------------------------- entity


@dataclass(frozen=True, eq=False)
class Entity(_Definition):
    """What features describe (a driver, an airport): a name and its join keys.

    ``key_types`` (``{"driver_id": "int64"}``, ``int64`` or ``string``) lets online reads
    reject keys of the wrong type; keys without a declared type take theirs from the source
    when a view is applied with validation (the default).
    """

    kind: ClassVar[str] = "entity"

    name: str
    join_keys: Sequence[str]
    key_types: Mapping[str, str] = field(default_factory=dict, kw_only=True)
    description: str = field(default="", kw_only=True)
    tags: Mapping[str, str] = field(default_factory=dict, kw_only=True)

    def __post_init__(self) -> None:
        validate_name(self.name, "entity name")
        what = f"join_keys of entity {self.name!r}"
        object.__setattr__(self, "join_keys", _names(self.join_keys, what, check=parse_column))
        if not isinstance(self.key_types, Mapping):
            raise InvalidValueError(
                f"key_types of entity {self.name!r} must be a dict {{key: 'int64' | 'string'}}, "
                f"got {_show(self.key_types)}"
            )
        types: dict[str, str] = {}
        for key, dtype in self.key_types.items():
            if key not in self.join_keys:
                raise InvalidValueError(
                    f"key_types of entity {self.name!r} names {key!r}, which is not one of its "
                    f"join keys {list(self.join_keys)}"
                )
            kind = parse_dtype(dtype, f"key type of {key!r} in entity {self.name!r}")
            if kind not in KEY_TYPES:
                raise InvalidValueError(
                    f"key type of {key!r} in entity {self.name!r} must be int64 or string, "
                    f"got {dtype!r}"
                )
            types[key] = kind
        object.__setattr__(self, "key_types", freeze(dict(sorted(types.items()))))
        object.__setattr__(self, "description", parse_text(self.description, "description"))
        object.__setattr__(self, "tags", parse_tags(self.tags, f"tags of entity {self.name!r}"))

    def key_spec(self) -> dict[str, Any]:
        """What a feature view keeps of its entity (not the description or tags)."""
        return {
            "name": self.name,
            "join_keys": list(self.join_keys),
            "key_types": dict(self.key_types),
        }

    def to_dict(self) -> dict[str, Any]:
        return {**self.key_spec(), "description": self.description, "tags": dict(self.tags)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Entity:
        return cls(
            data["name"],
            tuple(data["join_keys"]),
            key_types=data.get("key_types") or {},
            description=data.get("description", ""),
            tags=data.get("tags") or {},
        )


# ---------------------------------------------------------------- feature view


@dataclass(frozen=True, eq=False)
class FeatureView(_Definition):
    """Features of one or more entities, read from a source with an event timestamp.

    ``features`` is ``{name: dtype}`` (dtypes: int64, float64, string, bool, timestamp ...) or
    a list of names (dtypes then come from the source when the view is applied). ``ttl`` (a
    timedelta or ``"7d"``) limits how old a value may be, offline and online alike.
    """

    kind: ClassVar[str] = "feature_view"

    name: str
    entities: Sequence[Entity | str]
    source: Source | str | Path
    timestamp_field: str
    features: Mapping[str, str | None] = field(kw_only=True)
    created_timestamp_field: str | None = field(default=None, kw_only=True)
    ttl: datetime.timedelta | str | None = field(default=None, kw_only=True)
    description: str = field(default="", kw_only=True)
    owner: str = field(default="", kw_only=True)
    tags: Mapping[str, str] = field(default_factory=dict, kw_only=True)

    @property
    def window(self) -> datetime.timedelta | None:
        """The ttl as a duration (text such as ``"7d"`` is converted when the view is made)."""
        return self.ttl if not isinstance(self.ttl, str) else parse_duration(self.ttl, "ttl")

    def __post_init__(self) -> None:
        validate_name(self.name, "feature view name")
        what = f"feature view {self.name!r}"
        entities = self.entities
        if isinstance(entities, Entity | str):
            entities = (entities,)
        if not isinstance(entities, Sequence) or not entities:
            raise InvalidValueError(
                f"entities of {what} must be a non-empty list of Entity objects"
            )
        for entity in entities:
            if isinstance(entity, str):
                validate_name(entity, f"entity name in {what}")
            elif not isinstance(entity, Entity):
                raise InvalidValueError(
                    f"entities of {what} must be Entity objects or entity names, "
                    f"got {type(entity).__name__} {_show(entity)}"
                )
        names = [e if isinstance(e, str) else e.name for e in entities]
        if len(set(names)) != len(names):
            raise InvalidValueError(f"entities of {what} name an entity more than once: {names}")
        object.__setattr__(self, "entities", tuple(entities))
        object.__setattr__(self, "source", to_source(self.source))
        parse_column(self.timestamp_field, f"timestamp_field of {what}")
        if self.created_timestamp_field is not None:
            parse_column(self.created_timestamp_field, f"created_timestamp_field of {what}")
            if self.created_timestamp_field == self.timestamp_field:
                raise InvalidValueError(
                    f"created_timestamp_field of {what} must differ from timestamp_field "
                    f"({self.timestamp_field!r}); leave it None when there is no such column"
                )
        object.__setattr__(self, "features", parse_features(self.features, f"features of {what}"))
        object.__setattr__(self, "ttl", parse_duration(self.ttl, f"ttl of {what}"))
        object.__setattr__(self, "description", parse_text(self.description, "description"))
        object.__setattr__(self, "owner", parse_text(self.owner, "owner", limit=250))
        object.__setattr__(self, "tags", parse_tags(self.tags, f"tags of {what}"))
        self._check_columns()

    def _check_columns(self) -> None:
        keys: dict[str, str] = {}
        for entity in self.entities:
            if isinstance(entity, Entity):
                for key in entity.join_keys:
                    if key in keys:
                        raise InvalidValueError(
                            f"feature view {self.name!r}: join key {key!r} belongs to both "
                            f"entity {keys[key]!r} and entity {entity.name!r}"
                        )
                    keys[key] = entity.name
        special = {self.timestamp_field: "the timestamp field"}
        if self.created_timestamp_field is not None:
            special[self.created_timestamp_field] = "the created timestamp field"
        for key in keys:
            if key in special:
                raise InvalidValueError(
                    f"feature view {self.name!r}: join key {key!r} is also {special[key]}"
                )
        for name in self.features:
            if name in keys or name in special:
                role = "a join key" if name in keys else special[name]
                raise InvalidValueError(
                    f"feature view {self.name!r}: feature {name!r} is also {role}; "
                    "select it under another name in the source"
                )

    @property
    def resolved(self) -> bool:
        """True when every entity is an Entity object (not only a name)."""
        return all(isinstance(e, Entity) for e in self.entities)

    def entity_objects(self) -> tuple[Entity, ...]:
        unresolved = [e for e in self.entities if isinstance(e, str)]
        if unresolved:
            raise InvalidValueError(
                f"feature view {self.name!r} names entity {unresolved[0]!r} without its "
                "definition; pass the Entity object, or apply the view to resolve the name"
            )
        return tuple(e for e in self.entities if isinstance(e, Entity))

    @property
    def join_keys(self) -> tuple[str, ...]:
        return tuple(k for entity in self.entity_objects() for k in entity.join_keys)

    @property
    def key_types(self) -> dict[str, str]:
        return {k: v for entity in self.entity_objects() for k, v in entity.key_types.items()}

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(self.features)

    def columns(self) -> tuple[str, ...]:
        """Every source column the view reads: join keys, timestamps, features."""
        extra = (self.created_timestamp_field,) if self.created_timestamp_field else ()
        return (*self.join_keys, self.timestamp_field, *extra, *self.features)

    def with_entities(self, entities: Sequence[Entity]) -> FeatureView:
        return dataclasses.replace(self, entities=tuple(entities))

    def with_features(self, features: Mapping[str, str | None]) -> FeatureView:
        return dataclasses.replace(self, features=features)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "entities": [
                {"name": e} if isinstance(e, str) else e.key_spec() for e in self.entities
            ],
            "source": source_to_dict(cast(Source, self.source)),  # normalized in __post_init__
            "timestamp_field": self.timestamp_field,
            "created_timestamp_field": self.created_timestamp_field,
            "features": [{"name": n, "dtype": d} for n, d in self.features.items()],
            "ttl_us": duration_us(self.window),
            "description": self.description,
            "owner": self.owner,
            "tags": dict(self.tags),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureView:
        entities = tuple(
            Entity.from_dict(e) if "join_keys" in e else e["name"] for e in data["entities"]
        )
        ttl = data.get("ttl_us")
        return cls(
            data["name"],
            entities,
            source_from_dict(data["source"]),
            data["timestamp_field"],
            features={f["name"]: f["dtype"] for f in data["features"]},
            created_timestamp_field=data.get("created_timestamp_field"),
            ttl=None if ttl is None else datetime.timedelta(microseconds=ttl),
            description=data.get("description", ""),
            owner=data.get("owner", ""),
            tags=data.get("tags") or {},
        )


# ---------------------------------------------------------------- on-demand view


def _function_source(function: Callable[..., Any], what: str) -> str:
    try:
        return textwrap.dedent(inspect.getsource(function))
    except (OSError, TypeError) as exc:
        raise InvalidValueError(
            f"the function of {what} must be defined in a Python file (its source code is "
            f"versioned in the catalog): {exc}"
        ) from exc


@dataclass(frozen=True, eq=False)
class OnDemandFeatureView(_Definition):
    """Features computed by a Python function from request values and other views' features.

    The same function runs offline (on the training set) and online (on each request), so the
    two cannot drift apart. Inputs: every feature of the ``sources`` views (by feature name)
    and every field of ``request_schema`` (from the entity frame or the entity rows).
    ``mode="pandas"``: ``function(DataFrame) -> DataFrame`` with the declared feature columns;
    ``mode="python"``: ``function(dict) -> dict``, called once per row.
    """

    kind: ClassVar[str] = "on_demand_feature_view"

    name: str
    sources: Sequence[FeatureView | str]
    function: Callable[..., Any] | None
    features: Mapping[str, str | None] = field(kw_only=True)
    request_schema: Mapping[str, str] = field(default_factory=dict, kw_only=True)
    mode: Literal["pandas", "python"] = field(default="pandas", kw_only=True)
    description: str = field(default="", kw_only=True)
    owner: str = field(default="", kw_only=True)
    tags: Mapping[str, str] = field(default_factory=dict, kw_only=True)
    function_source: str = field(default="", kw_only=True, repr=False)
    function_name: str = field(default="", kw_only=True, repr=False)

    def __post_init__(self) -> None:
        validate_name(self.name, "on-demand feature view name")
        what = f"on-demand feature view {self.name!r}"
        sources = self.sources
        if isinstance(sources, FeatureView | str):
            sources = (sources,)
        if not isinstance(sources, Sequence):
            raise InvalidValueError(f"sources of {what} must be a list of feature views")
        for source in sources:
            if isinstance(source, str):
                validate_name(source, f"source view name in {what}")
            elif not isinstance(source, FeatureView):
                raise InvalidValueError(
                    f"sources of {what} must be FeatureView objects or view names, "
                    f"got {type(source).__name__} {_show(source)}"
                )
        object.__setattr__(self, "sources", tuple(sources))
        if self.mode not in ("pandas", "python"):
            raise InvalidValueError(
                f"mode of {what} must be 'pandas' or 'python', got {self.mode!r}"
            )
        request: dict[str, str] = {}
        if not isinstance(self.request_schema, Mapping):
            raise InvalidValueError(f"request_schema of {what} must be a dict {{field: dtype}}")
        for name, dtype in self.request_schema.items():
            parse_column(name, f"request field of {what}")
            request[name] = parse_dtype(dtype, f"dtype of request field {name!r} in {what}")
        object.__setattr__(self, "request_schema", freeze(request))
        if not sources and not request:
            raise InvalidValueError(f"{what} needs at least one source view or request field")
        object.__setattr__(self, "features", parse_features(self.features, f"features of {what}"))
        if self.function is None:
            if not self.function_source:
                raise InvalidValueError(f"{what} needs a function")
        elif not callable(self.function):
            raise InvalidValueError(
                f"function of {what} must be callable, got {_show(self.function)}"
            )
        else:
            code = _function_source(self.function, what)
            object.__setattr__(self, "function_source", code)
            name = getattr(self.function, "__qualname__", type(self.function).__qualname__)
            object.__setattr__(self, "function_name", name)
        object.__setattr__(self, "description", parse_text(self.description, "description"))
        object.__setattr__(self, "owner", parse_text(self.owner, "owner", limit=250))
        object.__setattr__(self, "tags", parse_tags(self.tags, f"tags of {what}"))

    @property
    def source_names(self) -> tuple[str, ...]:
        return tuple(s if isinstance(s, str) else s.name for s in self.sources)

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(self.features)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "sources": list(self.source_names),
            "request_schema": dict(self.request_schema),
            "features": [{"name": n, "dtype": d} for n, d in self.features.items()],
            "mode": self.mode,
            "function": {"name": self.function_name, "source": self.function_source},
            "description": self.description,
            "owner": self.owner,
            "tags": dict(self.tags),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OnDemandFeatureView:
        """The stored definition; its function is not loaded (code is never run from the
        catalog): compute with the object from your definitions file."""
        return cls(
            data["name"],
            tuple(data["sources"]),
            None,
            features={f["name"]: f["dtype"] for f in data["features"]},
            request_schema=data.get("request_schema") or {},
            mode=data.get("mode", "pandas"),
            description=data.get("description", ""),
            owner=data.get("owner", ""),
            tags=data.get("tags") or {},
            function_source=data["function"]["source"],
            function_name=data["function"]["name"],
        )


# ---------------------------------------------------------------- feature service


def _service_refs(value: object, what: str) -> tuple[str, ...]:
    if isinstance(value, str | FeatureView | OnDemandFeatureView):
        value = [value]
    if not isinstance(value, Sequence) or not value:
        raise InvalidValueError(
            f"features of {what} must be a non-empty list of 'view:feature' references or views"
        )
    refs: list[str] = []
    for item in value:
        if isinstance(item, FeatureView | OnDemandFeatureView):
            refs.extend(f"{item.name}:{feature}" for feature in item.features)
            continue
        view, feature = split_ref(item)
        validate_name(view, f"view name in {what}")
        if feature != "*":
            parse_column(feature, f"feature name in {what}")
        refs.append(f"{view}:{feature}")
    if len(set(refs)) != len(refs):
        twice = sorted({r for r in refs if refs.count(r) > 1})
        raise InvalidValueError(f"features of {what} name {twice} more than once")
    return tuple(refs)


@dataclass(frozen=True, eq=False)
class FeatureService(_Definition):
    """The set of features a model uses: ``'view:feature'`` references (``'view:*'`` for every
    feature of a view, resolved at each use) or view objects (their features, listed now)."""

    kind: ClassVar[str] = "feature_service"

    name: str
    features: Sequence[Any]
    description: str = field(default="", kw_only=True)
    owner: str = field(default="", kw_only=True)
    tags: Mapping[str, str] = field(default_factory=dict, kw_only=True)

    def __post_init__(self) -> None:
        validate_name(self.name, "feature service name")
        what = f"feature service {self.name!r}"
        object.__setattr__(self, "features", _service_refs(self.features, what))
        object.__setattr__(self, "description", parse_text(self.description, "description"))
        object.__setattr__(self, "owner", parse_text(self.owner, "owner", limit=250))
        object.__setattr__(self, "tags", parse_tags(self.tags, f"tags of {what}"))

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "features": list(self.features),
            "description": self.description,
            "owner": self.owner,
            "tags": dict(self.tags),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureService:
        return cls(
            data["name"],
            tuple(data["features"]),
            description=data.get("description", ""),
            owner=data.get("owner", ""),
            tags=data.get("tags") or {},
        )


Definition = Entity | FeatureView | OnDemandFeatureView | FeatureService
KINDS: dict[
    str, type[Entity] | type[FeatureView] | type[OnDemandFeatureView] | type[FeatureService]
]
KINDS = {cls.kind: cls for cls in (Entity, FeatureView, OnDemandFeatureView, FeatureService)}


def from_dict(kind: str, data: Mapping[str, Any]) -> Definition:
    """Rebuild a stored definition of ``kind``."""
    if kind not in KINDS:
        raise InvalidValueError(f"unknown definition kind {kind!r}; expected one of {list(KINDS)}")
    return KINDS[kind].from_dict(data)


def load_definitions(path: str | os.PathLike[str]) -> list[Definition]:
    """Run a Python definitions file and return the definitions it holds at module level, in
    order (also those inside module-level lists and tuples)."""
    import runpy

    from weekend.core.errors import UserCodeError

    file = Path(path)
    if not file.is_file():
        raise InvalidValueError(f"definitions file {str(file)!r} does not exist")
    try:
        namespace = runpy.run_path(str(file), run_name="__weekend_features__")
    except Exception as exc:
        raise UserCodeError(
            f"running the definitions file {str(file)!r} failed: {type(exc).__name__}: {exc}"
        ) from exc
    found: list[Definition] = []
    seen: set[int] = set()
    for name, value in namespace.items():
        if name.startswith("__"):
            continue
        items = value if isinstance(value, list | tuple) else [value]
        for item in items:
            if isinstance(item, Definition) and id(item) not in seen:
                seen.add(id(item))
                found.append(item)
    return found


__all__ = [
    "KINDS",
    "DatasetSource",
    "Definition",
    "Entity",
    "FeatureService",
    "FeatureView",
    "FileSource",
    "OnDemandFeatureView",
    "Query",
    "Source",
    "check_query_url",
    "expand_url",
    "from_dict",
    "load_definitions",
]
